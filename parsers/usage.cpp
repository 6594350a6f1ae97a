// normalize_usage: one Usage out of the many ways harnesses and providers spell token counts.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>

#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

/// Member lookup along a short dotted key such as "cache.read" (keys here never contain dots).
const json* member(const json& object, std::string_view dotted) {
  const json* current = &object;
  while (true) {
    if (!current->is_object()) return nullptr;
    const std::size_t dot = dotted.find('.');
    const std::string_view key = dotted.substr(0, dot);
    auto it = current->find(key);
    if (it == current->end()) return nullptr;
    current = &*it;
    if (dot == std::string_view::npos) return current;
    dotted.remove_prefix(dot + 1);
  }
}

// The harnesses are JavaScript: a count above 2^53 - 1 cannot be exact, so it is garbage. The
// bound also keeps sums of many reports far from int64 overflow.
constexpr std::uint64_t kMaxCount = (std::uint64_t{1} << 53) - 1;

/// A token count: a non-negative JSON integer. Floats, strings and negatives are garbage.
std::optional<std::int64_t> as_count(const json* v) {
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > kMaxCount) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  const auto i = v->get<std::int64_t>();
  if (i < 0 || static_cast<std::uint64_t>(i) > kMaxCount) return std::nullopt;
  return i;
}

/// A cost in USD: a non-negative finite number, or an object carrying one in `total` (pi).
std::optional<double> as_cost(const json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_object()) return as_cost(member(*v, "total"));
  if (!v->is_number()) return std::nullopt;
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < 0) return std::nullopt;
  return d;
}

class UsageScopes {
 public:
  explicit UsageScopes(const json& value) {
    scopes_[count_++] = &value;
    // The selector may point at a whole event (claude's result, opencode's part): the counts
    // then sit one level down while the cost often stays at the top.
    for (const char* child : {"usage", "tokens", "usageMetadata"}) {
      auto it = value.find(child);
      if (it != value.end() && it->is_object()) scopes_[count_++] = &*it;
    }
  }

  std::optional<std::int64_t> count(std::initializer_list<std::string_view> spellings) const {
    for (std::size_t s = 0; s < count_; ++s)
      for (std::string_view name : spellings)
        if (auto c = as_count(member(*scopes_[s], name))) return c;
    return std::nullopt;
  }

  std::optional<double> cost(std::initializer_list<std::string_view> spellings) const {
    for (std::size_t s = 0; s < count_; ++s)
      for (std::string_view name : spellings)
        if (auto c = as_cost(member(*scopes_[s], name))) return c;
    return std::nullopt;
  }

 private:
  const json* scopes_[4] = {};
  std::size_t count_ = 0;
};

}  // namespace

bool add_usage_checked(Usage& into, const Usage& from) {
  const auto fits = [](const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
    return !a || !b || *a <= std::numeric_limits<std::int64_t>::max() - *b;
  };
  if (!fits(into.input_tokens, from.input_tokens) || !fits(into.output_tokens, from.output_tokens) ||
      !fits(into.total_tokens, from.total_tokens) ||
      !fits(into.cache_read_tokens, from.cache_read_tokens) ||
      !fits(into.cache_write_tokens, from.cache_write_tokens) ||
      !fits(into.reasoning_tokens, from.reasoning_tokens) ||
      into.calls > std::numeric_limits<std::int64_t>::max() - from.calls)
    return false;
  into.add(from);
  return true;
}

std::optional<Usage> normalize_usage(const json& value) {
  if (!value.is_object()) return std::nullopt;
  const UsageScopes scopes(value);

  // Spellings in order of preference; the first present in the first scope wins. README
  // "Parsers" lists them: keep the two in step.
  Usage usage;
  usage.input_tokens = scopes.count({"input_tokens", "prompt_tokens", "inputTokens",
                                     "promptTokens", "promptTokenCount", "input", "prompt"});
  usage.output_tokens =
      scopes.count({"output_tokens", "completion_tokens", "outputTokens", "completionTokens",
                    "candidatesTokenCount", "output", "completion", "candidates"});
  // opencode reports `tokens.total`; "total" is only read as a count, never as a cost.
  usage.total_tokens = scopes.count({"total_tokens", "totalTokens", "totalTokenCount", "total"});
  usage.cache_read_tokens = scopes.count(
      {"cache_read_input_tokens", "cached_input_tokens", "cache_read_tokens", "cacheReadInputTokens",
       "cacheReadTokens", "cachedInputTokens", "cacheRead", "cachedContentTokenCount",
       "cached_tokens", "cachedTokens", "cached", "prompt_tokens_details.cached_tokens",
       "input_tokens_details.cached_tokens", "cache.read"});
  usage.cache_write_tokens =
      scopes.count({"cache_creation_input_tokens", "cache_write_tokens", "cache_creation_tokens",
                    "cacheCreationInputTokens", "cacheWriteTokens", "cacheCreationTokens",
                    "cacheWrite", "cache.write"});
  usage.reasoning_tokens = scopes.count(
      {"reasoning_tokens", "reasoning_output_tokens", "reasoningTokens", "thoughts_tokens",
       "thoughtsTokenCount", "thoughtsTokens", "reasoning", "thoughts",
       "completion_tokens_details.reasoning_tokens", "output_tokens_details.reasoning_tokens"});
  usage.cost_usd =
      scopes.cost({"cost", "cost_usd", "costUsd", "costUSD", "total_cost_usd", "total_cost"});

  if (usage.empty()) return std::nullopt;
  if (!usage.total_tokens && usage.input_tokens && usage.output_tokens)
    usage.total_tokens = *usage.input_tokens + *usage.output_tokens;
  // A payload that counts its own model calls says so; otherwise calls stays 0 (unknown) and
  // the parsers count reports.
  if (auto calls = scopes.count({"calls", "requests"})) usage.calls = *calls;
  return usage;
}

}  // namespace drover::parsers
