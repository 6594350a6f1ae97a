// Parsing what a print-mode harness writes on stdout, the way a run does, without running it:
// for tools that have a harness's output already (a log, a recording) and for measuring the
// parsers. Pure: no I/O, no clock, no loop.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drover/result.h"
#include "drover/parser_spec.h"

namespace drover {

/// What a parser made of a whole output (the print-mode transport's parsers return it too).
struct ParsedHarnessOutput {
  std::string text;  ///< the answer: the concatenation of every delta delivered
  std::optional<Usage> usage;  ///< normalized; absent when the output reported none
  std::optional<std::string> session_id;
  std::optional<std::string> stop_reason;
  std::optional<std::string> model;
  std::optional<std::string> error;   ///< the harness's own error message, unwrapped
  std::vector<std::string> warnings;  ///< e.g. "stdout line 3 is not JSON; skipped"
  bool structured = false;            ///< json/jsonl: at least one JSON value was parsed
};

/// An incremental parser of one harness output, described by a ParserSpec (a route's
/// `cli.parser`). Fed chunk by chunk, in order; chunk boundaries never change the result. Not
/// copyable; one output per parser.
class HarnessOutputParser {
 public:
  /// `max_bytes` bounds what the parser holds (a route's maxOutputBytes): text keeps the last
  /// `max_bytes` of the answer with a warning; a json document or jsonl line longer than that,
  /// or JSON nested too deep, becomes the result's `error`, naming the limit.
  /// `context`: the values of placeholders in selector paths (`{model}`: the run's model).
  explicit HarnessOutputParser(const ParserSpec& spec, std::size_t max_bytes = std::size_t{16} << 20,
                               const ParserContext& context = {});
  ~HarnessOutputParser();
  HarnessOutputParser(const HarnessOutputParser&) = delete;
  HarnessOutputParser& operator=(const HarnessOutputParser&) = delete;

  /// Consumes the next chunk; appends the answer text that is now final to `deltas` as
  /// Event::Kind::delta events (the caller owns them and may clear them between calls).
  void feed(std::string_view chunk, std::vector<Event>& deltas);
  /// End of the output: flushes a trailing partial line and returns the result. Call once;
  /// feed() and finish() after it are errors (std::logic_error).
  ParsedHarnessOutput finish(std::vector<Event>& deltas);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `text` with ANSI CSI/OSC escape sequences removed and spinner carriage returns resolved (text
/// after the last '\r' of a line replaces what came before it), as the text parser does.
std::string strip_ansi(std::string_view text);

}  // namespace drover
