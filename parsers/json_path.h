// Compiled form of the selector paths of select_path(), so jsonl parsers parse each path once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace drover::parsers {

/// `a.b[0].c`, `items[-1]`, `a["x.y"]`, `[0].text`; the empty path selects the document itself.
class JsonPath {
 public:
  /// nullopt when `path` is malformed (empty segment, unclosed bracket, bad index).
  static std::optional<JsonPath> compile(std::string_view path);

  /// The selected value, or nullptr when a step is missing or meets the wrong type.
  const nlohmann::json* eval(const nlohmann::json& doc) const;

 private:
  struct Step {
    std::string key;                  // object member (also an array index when all digits)
    std::optional<std::int64_t> index;  // set for `[n]`: array element, negative from the end
  };
  std::vector<Step> steps_;
};

}  // namespace drover::parsers
