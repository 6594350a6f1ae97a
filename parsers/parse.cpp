#include "drover/parse.h"

#include <stdexcept>

#include "parsers/output_parser.h"

namespace drover {

struct HarnessOutputParser::Impl {
  std::unique_ptr<parsers::OutputParser> parser;
  bool finished = false;
};

HarnessOutputParser::HarnessOutputParser(const ParserSpec& spec, std::size_t max_bytes,
                                         const ParserContext& context)
    : impl_(std::make_unique<Impl>()) {
  impl_->parser = parsers::make_parser(spec, max_bytes, context);
}

HarnessOutputParser::~HarnessOutputParser() = default;

void HarnessOutputParser::feed(std::string_view chunk, std::vector<Event>& deltas) {
  if (impl_->finished) throw std::logic_error("HarnessOutputParser::feed after finish");
  impl_->parser->feed(chunk, deltas);
}

ParsedHarnessOutput HarnessOutputParser::finish(std::vector<Event>& deltas) {
  if (impl_->finished) throw std::logic_error("HarnessOutputParser::finish called twice");
  impl_->finished = true;
  return impl_->parser->finish(deltas);
}

std::string strip_ansi(std::string_view text) { return parsers::strip_ansi(text); }

}  // namespace drover
