// What the output parsers and the noise filter are told to do: the selectors and parser kind of
// a print-mode route, and the noise markers of a harness. Plain data, filled from the
// configuration and read by parsers/; no JSON of the config file reaches here.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace drover {

/// Picks a value out of a JSON document: `path` is dotted with array indices
/// (`result.items[0].text`, `content[-1]` counts from the end), `*` for any member or element and
/// `{model}` for the member named like the run's model (parsers/json_path.h). A document only
/// matches when `where_path` (if set) equals `where_equals`.
struct Selector {
  std::string path;
  std::string where_path;
  std::optional<nlohmann::json> where_equals;
};

struct ParserSpec {
  enum class Kind { text, json, jsonl };
  Kind kind = Kind::text;
  // text parser
  bool trim = true;
  bool strip_ansi = true;
  // json and jsonl: what to pick out of the document (json) or of each matching line (jsonl)
  std::optional<Selector> text;
  std::optional<Selector> usage;
  std::optional<Selector> error;
  std::optional<Selector> session_id;
  std::optional<Selector> stop_reason;
  std::optional<Selector> model;
  // jsonl only: a matching line is a harness warning (Result::warnings and a warning event) or
  // a progress notice (a progress event, e.g. "retrying after a 429 in 30 s").
  std::optional<Selector> warning;
  std::optional<Selector> progress;
  /// progressResetsIdle: a progress line counts as activity for the idle watchdog. Off by
  /// default: a harness retrying a rate limit for minutes must not look alive forever.
  bool progress_resets_idle = false;
};

/// What a parser knows of the run it parses: the values of the placeholders in selector paths.
struct ParserContext {
  /// `{model}` in a path: the run's model; without one such a path matches nothing.
  std::optional<std::string> model;
};

namespace parsers {

/// What counts as noise. Comes from preset data and is extensible per route. Markers are matched
/// case-sensitively against lines trimmed of ASCII blanks (see the file comment for the order).
struct NoiseMarkers {
  /// A whole line equal to one of these (after trimming) is noise.
  std::vector<std::string> lines{};
  /// A line starting with one of these (after its leading blanks) is noise. Trailing spaces of a
  /// prefix count ("Жду " does not match "Ждущий").
  std::vector<std::string> prefixes{};
  /// ECMAScript regexes that must match a whole trimmed line (std::regex_match).
  std::vector<std::string> regexes{};
  /// {open, close}: everything from a line starting with `open` through the line containing
  /// `close` is noise, e.g. {"<local-command-caveat>", "</local-command-caveat>"}.
  std::vector<std::pair<std::string, std::string>> blocks{};
  /// A whole line equal to one of these (after trimming) is noise only when the previous
  /// non-blank line was noise: the lone "---" pi prints under its version banner, which anywhere
  /// else is a Markdown rule.
  std::vector<std::string> after_noise{};
};

}  // namespace parsers

/// Harness noise (greetings, banners, model-switch lines) removed from answers and deltas.
/// `markers` extend the built-in ones (parsers/noise_filter.h) unless `builtin_markers` is off.
struct NoiseSpec {
  bool suppress = true;             ///< suppressHarnessNoise
  bool fail_on_noise_only = true;   ///< failOnHarnessOnlyTurn: a noise-only turn is retryable
  bool builtin_markers = true;      ///< start from the built-in markers
  parsers::NoiseMarkers markers;    ///< noiseMarkers: the route's own
};

}  // namespace drover
