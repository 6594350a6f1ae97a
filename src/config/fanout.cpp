// Config section: `fanout` (README "Fan-out limits"), at the top level (the client-wide limits),
// on a provider and on an account.
#include "src/config/fanout.h"

#include <cmath>

#include "src/config/sections.h"

namespace drover::cfg {

void parse_fanout(Ctx& ctx, const ojson& v, const std::string& path, FanoutLimits& fanout) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"maxConcurrency", "requestsPerSecond", "maxCalls"});
  if (auto n = ctx.positive_int_member(v, path, "maxConcurrency")) fanout.max_concurrency = *n;
  if (auto it = v.find("requestsPerSecond"); it != v.end()) {
    if (it->is_number() && std::isfinite(it->get<double>()) && it->get<double>() > 0)
      fanout.requests_per_second = it->get<double>();
    else
      ctx.expected(child(path, "requestsPerSecond"), "a number > 0", *it);
  }
  if (auto it = v.find("maxCalls"); it != v.end()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
      fanout.max_calls = static_cast<int64_t>(it->get<uint64_t>());
    else if (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() >= 0)
      fanout.max_calls = it->get<int64_t>();
    else
      ctx.expected(child(path, "maxCalls"), "an integer >= 0", *it);
  }
}

}  // namespace drover::cfg

namespace drover {

FanoutLimits merged_fanout(const FanoutLimits& upper, const FanoutLimits& lower) {
  FanoutLimits out = upper;
  if (!out.max_concurrency) out.max_concurrency = lower.max_concurrency;
  if (!out.requests_per_second) out.requests_per_second = lower.requests_per_second;
  if (!out.max_calls) out.max_calls = lower.max_calls;
  return out;
}

}  // namespace drover
