// Incremental parsers for what a print-mode harness writes on stdout. Pure: bytes in, events
// and a final ParsedOutput out; no I/O, no clock, no libuv.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/parse.h"
#include "drover/result.h"
#include "drover/parser_spec.h"

namespace drover::parsers {

/// What a parser extracted from a whole output (public: drover/parse.h).
using ParsedOutput = ParsedHarnessOutput;

/// Fed stdout chunk by chunk, in order. Chunk boundaries never change the result.
class OutputParser {
 public:
  virtual ~OutputParser() = default;
  /// Consumes the next chunk; appends any answer text that is now final to `deltas`
  /// (Event::Kind::delta), and the tool, permission and usage events the output reports, in
  /// order. The concatenation of all delta texts equals ParsedOutput::text.
  virtual void feed(std::string_view chunk, std::vector<Event>& deltas) = 0;
  /// End of stream: flushes a trailing partial line and returns the result. Call once.
  virtual ParsedOutput finish(std::vector<Event>& deltas) = 0;
  /// Whether the output fed since the last call showed the harness at work, for the idle
  /// watchdog (and resets the answer). Every byte does, except in a jsonl parser with a progress
  /// selector and progress_resets_idle off: there only complete lines other than progress lines
  /// do (a line counts once its newline arrives).
  virtual bool take_activity() { return true; }
};

/// Default for make_parser's bound: CliSpec::max_output_bytes's default.
inline constexpr std::size_t kDefaultMaxOutputBytes = std::size_t{16} << 20;

/// Builds the parser a ParserSpec describes. `max_bytes` (the route's maxOutputBytes) bounds what
/// it holds: text keeps the last `max_bytes` of the answer (with a warning saying so); a json
/// document or a jsonl line longer than that is an error naming the limit, and so is JSON nested
/// deeper than kMaxJsonDepth.
/// `context` gives the values of placeholders in selector paths (`{model}`).
std::unique_ptr<OutputParser> make_parser(const ParserSpec& spec,
                                          std::size_t max_bytes = kDefaultMaxOutputBytes,
                                          const ParserContext& context = {});

/// Evaluates a dotted path with array indices (`a.b[0].c`, `items[-1]`) against `doc`.
/// Returns nullptr when any step is missing. Keys containing dots can be quoted: `a["x.y"]`.
const nlohmann::json* select_path(const nlohmann::json& doc, std::string_view path);

/// Normalizes the usage spellings harnesses and providers use (input_tokens, prompt_tokens,
/// inputTokens, promptTokenCount, output_tokens, completion_tokens, cache_read_input_tokens,
/// cached_tokens, cost, total_cost_usd, ...) into a Usage. Never invents a field; returns
/// nullopt when `value` carries no recognizable count or cost.
std::optional<Usage> normalize_usage(const nlohmann::json& value);

/// Usage::add without signed overflow: false (and nothing added) when a sum would not fit.
bool add_usage_checked(Usage& into, const Usage& from);

/// Digs the provider's real message out of an error payload: a string, an object with
/// message/error/detail fields, or a string that is itself JSON; up to three levels of nesting
/// and cycle-safe. Returns the innermost human message, or the compact payload when none is
/// recognizable.
std::string unwrap_error_message(const nlohmann::json& payload);

/// The error a harness stated in its own structured output, for a failed run whose parser
/// selected none: the whole of `stdout` when it is one JSON object, else its last JSON-object
/// lines (the last 20 lines, newest first). An object counts when it has a non-empty `error`,
/// `is_error: true`, or a `type`, `status`, `level` or `subtype` saying error, fail or fatal;
/// its message is unwrapped (unwrap_error_message). nullopt when no object says so.
std::optional<std::string> structured_error(std::string_view stdout_text);

/// Removes ANSI CSI/OSC escape sequences and resolves spinner carriage returns (text after the
/// last '\r' on a line replaces what came before it). Pure, whole-string form.
std::string strip_ansi(std::string_view text);

}  // namespace drover::parsers
