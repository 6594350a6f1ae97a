// Config section: `routing` (strategy, fallback chains per error code, cooldown).
#include <algorithm>
#include <array>

#include "src/config/sections.h"

namespace drover::cfg {

void parse_routing(Ctx& ctx, const ojson& v, const std::string& path, RoutingSpec& routing) {
  if (!ctx.object(v, path)) return;
  routing.configured = true;
  ctx.check_keys(v, path, {"strategy", "fallback", "cooldown", "maxAttempts", "resolution"});
  if (auto r = v.find("resolution"); r != v.end())
    parse_resolution(ctx, *r, child(path, "resolution"), routing);
  if (auto st = ctx.string_member(v, path, "strategy", false, true)) {
    if (*st == "first")
      routing.strategy = RoutingSpec::Strategy::first;
    else if (*st == "round-robin")
      routing.strategy = RoutingSpec::Strategy::round_robin;
    else
      ctx.expected(child(path, "strategy"), "one of first, round-robin", v.at("strategy"));
  }
  if (auto ms = ctx.seconds_member(v, path, "cooldown", true)) routing.cooldown_ms = *ms;
  if (auto n = ctx.positive_int_member(v, path, "maxAttempts"))
    routing.max_attempts = static_cast<int>(std::min<int64_t>(*n, 100));
  auto fb = v.find("fallback");
  if (fb == v.end()) return;
  const std::string fpath = child(path, "fallback");
  if (!ctx.object(*fb, fpath)) return;
  ctx.check_keys(*fb, fpath, {"on"});
  auto on = fb->find("on");
  if (on == fb->end()) return;
  const std::string opath = child(fpath, "on");
  if (!ctx.object(*on, opath)) return;
  routing.fallback.clear();  // a configured chain replaces the defaults entirely
  for (const auto& [name, steps] : on->items()) {
    const std::string cpath = child(opath, name);
    auto code = error_code_from_string(name);
    if (!code) {
      ctx.error(cpath, "unknown error code (expected one of the codes in the README, e.g. "
                       "rate_limit, temporary_unavailable, auth_error)");
      continue;
    }
    if (*code == ErrorCode::aborted || *code == ErrorCode::timeout ||
        *code == ErrorCode::fanout_limit) {
      ctx.error(cpath, quote(name) + " is terminal: it is never retried and cannot have a fallback");
      continue;
    }
    if (!steps.is_array()) {
      ctx.expected(cpath, "an array of steps", steps);
      continue;
    }
    std::vector<RoutingSpec::Step> chain;
    for (size_t i = 0; i < steps.size(); ++i) {
      static const std::array<std::pair<const char*, RoutingSpec::Step>, 5> kSteps{{
          {"retry", RoutingSpec::Step::retry},
          {"rotate-credential", RoutingSpec::Step::rotate_credential},
          {"rotate-account", RoutingSpec::Step::rotate_account},
          {"fallback-transport", RoutingSpec::Step::fallback_transport},
          {"fallback-provider", RoutingSpec::Step::fallback_provider},
      }};
      const ojson& step = steps[i];
      bool found = false;
      if (step.is_string()) {
        for (const auto& [n, st] : kSteps)
          if (step.get<std::string>() == n) {
            chain.push_back(st);
            found = true;
          }
      }
      if (!found)
        ctx.expected(child(cpath, i),
                     "one of retry, rotate-credential, rotate-account, fallback-transport, "
                     "fallback-provider",
                     step);
    }
    routing.fallback[*code] = std::move(chain);
  }
}

}  // namespace drover::cfg
