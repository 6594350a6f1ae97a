// The router: picks the route and credential for each try, and walks the per-error fallback
// chain (retry, rotate-credential, rotate-account, fallback-transport, fallback-provider).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "drover/request.h"
#include "drover/config.h"
#include "src/route/fanout.h"
#include "src/route/run.h"

namespace drover {

class Loop;

/// Health kept across requests of one Client (or one CLI process): cooldowns of failed
/// credentials and accounts, round-robin counters, the fan-out limiter every run's tries go
/// through. Keys are route/credential labels, never keys.
struct RouterState {
  std::map<std::string, uint64_t> cooldown_until_ms;  ///< label -> uv_hrtime in ms
  std::map<std::string, uint64_t> round_robin;        ///< provider or account -> next index
  FanoutLimiter fanout;

  bool cooling(const std::string& label, uint64_t now_ms) const;
};

}  // namespace drover
