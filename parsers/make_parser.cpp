#include "parsers/output_parser.h"
#include "parsers/parser_kinds.h"

namespace drover::parsers {

std::unique_ptr<OutputParser> make_parser(const ParserSpec& spec) {
  switch (spec.kind) {
    case ParserSpec::Kind::json:
      return make_json_parser(spec);
    case ParserSpec::Kind::jsonl:
      return make_jsonl_parser(spec);
    case ParserSpec::Kind::text:
      break;
  }
  return make_text_parser(spec);
}

}  // namespace drover::parsers
