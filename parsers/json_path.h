// Compiled form of the selector paths of select_path(), so jsonl parsers parse each path once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/parser_spec.h"

namespace drover::parsers {

/// Most values one path selects (a `*` step fans out); the rest are left out. Also bounds the
/// values a step holds on the way, so a hostile document costs at most this much per step.
inline constexpr std::size_t kMaxPathMatches = 4096;

/// `a.b[0].c`, `items[-1]`, `a["x.y"]`, `[0].text`; the empty path selects the document itself.
/// `*` (a whole segment, or `[*]`) is any member of an object or any element of an array;
/// `{model}` (a whole segment) is the member named like the run's model (ParserContext::model),
/// and matches nothing when the run has none. Quoted, `["*"]` and `["{model}"]` are plain keys.
class JsonPath {
 public:
  /// nullopt when `path` is malformed (empty segment, unclosed bracket, bad index, a `*` or a
  /// brace inside a bare segment other than `*` or `{model}` alone).
  static std::optional<JsonPath> compile(std::string_view path,
                                         const ParserContext& context = {});

  /// The first selected value (object members in key order), or nullptr when a step is missing
  /// or meets the wrong type.
  const nlohmann::json* eval(const nlohmann::json& doc) const;
  /// Every selected value, in order (object members in key order), at most kMaxPathMatches.
  std::vector<const nlohmann::json*> eval_all(const nlohmann::json& doc) const;
  /// The path has a `*` step: it may select more than one value.
  bool fans_out() const noexcept { return fans_out_; }

 private:
  struct Step {
    enum class Kind { key, index, any };
    Kind kind = Kind::key;
    std::string key;                  // key: object member (also an array index when all digits)
    std::int64_t index = 0;           // index: array element, negative from the end
  };
  std::vector<Step> steps_;
  bool fans_out_ = false;
  bool never_matches_ = false;  // {model} without a model
};

}  // namespace drover::parsers
