// Structured output of a batch: the answer's JSON (fences stripped) checked against a JSON
// schema with valijson.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace drover {

class JsonSchemaValidator {
 public:
  /// Compiles `schema` (draft 7; draft 4/6 keywords too, as valijson reads them). nullptr with
  /// `error` naming what is wrong when it is not a schema; remote $refs are refused, never
  /// fetched.
  static std::unique_ptr<JsonSchemaValidator> compile(const nlohmann::json& schema,
                                                      std::string& error);
  ~JsonSchemaValidator();
  /// Empty when `value` validates; else one line per failure ("/path: message"), at most 20.
  std::vector<std::string> validate(const nlohmann::json& value) const;

  struct Impl;

 private:
  JsonSchemaValidator() = default;
  std::unique_ptr<Impl> impl_;
};

/// The JSON an answer holds: the whole text, else the body of its first ```json (or ```) fence,
/// else the outermost {...} or [...] span. Bounded depth and size. nullopt with `error` saying
/// why when there is none.
std::optional<nlohmann::json> extract_json_answer(std::string_view text, std::string& error);

}  // namespace drover
