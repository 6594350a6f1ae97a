// The three OutputParser implementations; make_parser picks one by ParserSpec::kind. Each keeps
// at most `max_bytes` (maxOutputBytes) of output or answer in memory; see make_parser.
#pragma once

#include <memory>

#include "parsers/output_parser.h"

namespace drover::parsers {

/// Plain text: escapes stripped and spinners resolved (strip_ansi), trimmed (trim); one delta per
/// feed() with the lines that completed, trailing whitespace held back until text follows it.
std::unique_ptr<OutputParser> make_text_parser(const ParserSpec& spec, std::size_t max_bytes);

/// One JSON object (a warning line before it is tolerated); everything happens at finish().
std::unique_ptr<OutputParser> make_json_parser(const ParserSpec& spec, std::size_t max_bytes,
                                               const ParserContext& context);

/// One JSON value per line; each complete line is applied to the selectors as it arrives.
std::unique_ptr<OutputParser> make_jsonl_parser(const ParserSpec& spec, std::size_t max_bytes,
                                                const ParserContext& context);

}  // namespace drover::parsers
