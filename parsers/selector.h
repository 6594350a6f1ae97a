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
  explicit CompiledSelector(const Selector& selector);

  /// False when a path is malformed; such a selector never matches.
  bool valid() const { return path_.has_value() && (where_path_.has_value() || !gated_); }
  /// The selected value when the gate passes and the path exists, else nullptr.
  const nlohmann::json* select(const nlohmann::json& doc) const;

 private:
  std::optional<JsonPath> path_;
  bool gated_ = false;
  std::optional<JsonPath> where_path_;
  std::optional<nlohmann::json> where_equals_;
};

/// What one JSON document yields through the selectors. Absent = not selected or empty.
struct Extraction {
  std::optional<std::string> text;
  std::optional<Usage> usage;  ///< calls is at least 1: one report is one call unless it says more
  nlohmann::json usage_raw;    ///< the value the usage selector picked, as given (with `usage`)
  std::optional<std::string> error;
  std::optional<std::string> session_id;
  std::optional<std::string> stop_reason;
  std::optional<std::string> model;
  /// The text selector found an object whose `text` is not a string (a number, an object...):
  /// nothing was taken from it, and the caller warns.
  bool text_not_string = false;
};

class SelectorSet {
 public:
  explicit SelectorSet(const ParserSpec& spec);

  Extraction extract(const nlohmann::json& doc) const;
  /// One warning per malformed selector ("parser selector text has a malformed path ...").
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::optional<CompiledSelector> text_, usage_, error_, session_id_, stop_reason_, model_;
  std::vector<std::string> problems_;
};

/// The answer text a value stands for: a string as is; an array concatenates its strings and
/// the `text` of its text blocks (elements without a `type`, or whose type contains "text", so
/// thinking and tool blocks are left out); an object gives its `text`; numbers and booleans
/// their JSON spelling. nullopt for null and for anything without text.
std::optional<std::string> text_value(const nlohmann::json& value);

/// Identifiers and reasons: a non-empty string, or a number/boolean spelled as JSON.
std::optional<std::string> scalar_value(const nlohmann::json& value);

}  // namespace drover::parsers
