// Selectors of a ParserSpec compiled once, and what they pick out of one JSON document.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/result.h"
#include "parsers/json_path.h"
#include "drover/parser_spec.h"

namespace drover::parsers {

/// A Selector with its paths compiled. The gate: when `where_path` is set, the document only
/// matches if the value there equals `where_equals`, or, with no `where_equals`, exists and is
/// neither null nor false.
class CompiledSelector {
 public:
  explicit CompiledSelector(const Selector& selector, const ParserContext& context = {});

  /// False when a path is malformed; such a selector never matches.
  bool valid() const { return path_.has_value() && (where_path_.has_value() || !gated_); }
  /// The selected value when the gate passes and the path exists, else nullptr. With a `*` in
  /// the path: the first match. A gate with a `*` passes when any value it selects does.
  const nlohmann::json* select(const nlohmann::json& doc) const;
  /// Every selected value (at most kMaxPathMatches), empty when the gate does not pass.
  std::vector<const nlohmann::json*> select_all(const nlohmann::json& doc) const;

 private:
  bool gate_passes(const nlohmann::json& doc) const;

  std::optional<JsonPath> path_;
  bool gated_ = false;
  std::optional<JsonPath> where_path_;
  std::optional<nlohmann::json> where_equals_;
};

/// What one JSON document yields through the selectors. Absent = not selected or empty.
struct Extraction {
  std::optional<std::string> text;
  /// calls is at least 1: one report is one call unless it says more. A path with `*` sums
  /// every object it selects, each counting as one call unless it says more.
  std::optional<Usage> usage;
  /// The value the usage selector picked, as given (with `usage`); the array of them when a `*`
  /// picked several.
  nlohmann::json usage_raw;
  std::optional<std::string> error;
  std::optional<std::string> session_id;
  std::optional<std::string> stop_reason;
  std::optional<std::string> model;
  std::optional<std::string> warning;   ///< a harness warning line's message
  std::optional<std::string> progress;  ///< a progress line's message
  bool usage_overflow = false;  ///< a `*` path selected counts too large to add; some left out
  /// The text selector found an object whose `text` is not a string (a number, an object...):
  /// nothing was taken from it, and the caller warns.
  bool text_not_string = false;
};

class SelectorSet {
 public:
  explicit SelectorSet(const ParserSpec& spec, const ParserContext& context = {});

  Extraction extract(const nlohmann::json& doc) const;
  /// One warning per malformed selector ("parser selector text has a malformed path ...").
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::optional<CompiledSelector> text_, usage_, error_, session_id_, stop_reason_, model_,
      warning_, progress_;
  std::vector<std::string> problems_;
};

/// The answer text a value stands for: a string as is; an array concatenates its strings and
/// the `text` of its text blocks (elements without a `type`, or whose type contains "text", so
/// thinking and tool blocks are left out); an object gives its `text`; numbers and booleans
/// their JSON spelling. nullopt for null and for anything without text.
std::optional<std::string> text_value(const nlohmann::json& value);

/// Identifiers and reasons: a non-empty string, or a number/boolean spelled as JSON.
std::optional<std::string> scalar_value(const nlohmann::json& value);

/// Longest warning or progress message taken from a harness line, in characters.
inline constexpr std::size_t kMaxNoticeChars = 500;

/// What a warning or progress selector's value says: a string as is, an object's `message` (or
/// `text`, or its unwrapped error), else its compact JSON; as one printable line (excerpt()), at
/// most kMaxNoticeChars. nullopt when nothing is left (null, "", {}).
std::optional<std::string> notice_value(const nlohmann::json& value);

}  // namespace drover::parsers
