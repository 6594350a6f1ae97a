// The library's front door: one request in, one Result out, events on the way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "drover/request.h"
#include "drover/result.h"

namespace drover {

struct RouterState;

/// Runs requests against a validated Config. Each call runs its own event loop to completion
/// on the calling thread; separate Clients may be used from separate threads. A Client remembers
/// failed credentials and accounts (cooldowns) and round-robin positions across its requests.
class Client {
 public:
  explicit Client(Config config);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const Config& config() const noexcept { return config_; }

  /// Runs `request` and returns its Result (never throws for run failures: see Result::error).
  Result run(const RunRequest& request);
  /// Same, delivering each Event to `on_event` as it happens.
  Result stream(const RunRequest& request, const EventHandler& on_event);

 private:
  Config config_;
  std::unique_ptr<RouterState> router_state_;
};

}  // namespace drover
