#include "parsers/output_parser.h"
#include "parsers/parser_kinds.h"

namespace drover::parsers {

std::unique_ptr<OutputParser> make_parser(const ParserSpec& spec, std::size_t max_bytes,
                                          const ParserContext& context) {
  switch (spec.kind) {
    case ParserSpec::Kind::json:
      return make_json_parser(spec, max_bytes, context);
    case ParserSpec::Kind::jsonl:
      return make_jsonl_parser(spec, max_bytes, context);
    case ParserSpec::Kind::text:
      break;
  }
  return make_text_parser(spec, max_bytes);
}

}  // namespace drover::parsers
