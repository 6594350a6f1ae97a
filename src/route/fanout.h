// Client-side fan-out limits (README "Fan-out limits"): how many tries of a Client are in flight
// at once (maxConcurrency, a FIFO semaphore), how fast they start (requestsPerSecond, a token
// bucket of burst 1), how many may start at all (maxCalls), and the slowdown after a provider's
// rate_limit. One FanoutLimiter per Client (in RouterState), shared by every run of the Client.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "drover/result.h"
#include "src/config/fanout.h"  // merged_fanout

namespace drover {

class Loop;
class LoopTimer;

/// The tries a limit counts, by name (also how messages name it): every try of the Client, a
/// provider's tries (all its accounts and transports), or one account's.
inline constexpr const char* kClientScope = "the client";
std::string provider_scope(const std::string& provider);
std::string account_scope(const Route& route);

/// One limit of a try and the scope whose tries it counts.
template <class T>
struct ScopedLimit {
  T value{};
  std::string scope;
};

/// The limits one try is held to.
struct TryLimits {
  std::optional<ScopedLimit<int64_t>> max_concurrency;
  std::optional<ScopedLimit<double>> requests_per_second;
  std::optional<ScopedLimit<int64_t>> max_calls;
  bool empty() const noexcept { return !max_concurrency && !requests_per_second && !max_calls; }
};

/// The limits of one try on `route`, field by field: the request's (scope: the client), else
/// the route's (scope: the account when the account sets the field, else the provider), else
/// the client's (scope: the client).
TryLimits limits_for_try(const FanoutLimits& request, const Route& route,
                         const FanoutLimits& client);

class FanoutLimiter;

/// One try in flight: counted as in flight until destroyed (destroy it when the try's outcome
/// arrives). Must not outlive its limiter.
class FanoutSlot {
 public:
  ~FanoutSlot();
  FanoutSlot(const FanoutSlot&) = delete;
  FanoutSlot& operator=(const FanoutSlot&) = delete;

  /// The try's outcome (`error` empty: it succeeded). A rate_limit of a limited try slows the
  /// whole limiter down and returns the warning for the run that hit it; a success recovers.
  std::optional<std::string> finish(const std::optional<Error>& error);

 private:
  friend class FanoutLimiter;
  FanoutSlot(FanoutLimiter& limiter, std::vector<std::string> scopes, std::string route,
             bool limited, uint64_t started_ns);

  FanoutLimiter& limiter_;
  std::vector<std::string> scopes_;  // the scopes it is counted in
  std::string route_;
  bool limited_;
  uint64_t started_ns_;
};

/// Holds tries to their limits. Single-threaded (the loop's thread). A try with no limit at all
/// never waits, but is counted (in flight, started) in its scopes all the same.
class FanoutLimiter {
 public:
  FanoutLimiter() = default;
  ~FanoutLimiter();
  FanoutLimiter(const FanoutLimiter&) = delete;
  FanoutLimiter& operator=(const FanoutLimiter&) = delete;

  /// Client::set_fanout's limits (the router merges the config's top-level `fanout` under them).
  void set_client_limits(FanoutLimits limits);
  const FanoutLimits& client_limits() const noexcept { return client_limits_; }

  /// Receives a queued try's slot, or its refusal (fanout_limit), from the loop.
  using Ready = std::function<void(std::unique_ptr<FanoutSlot> slot, std::optional<Error> refused)>;
  /// What acquire() decided: a slot now, a refusal now, or a place in the queue (`waiter`):
  /// then `ready` is called later from the loop, unless withdrawn first.
  struct Ticket {
    std::unique_ptr<FanoutSlot> slot;
    std::optional<Error> refused;
    uint64_t waiter = 0;
  };
  /// Asks for a slot for one try on `route` held to `limits`. Queued tries start in the order
  /// they asked (among those sharing a limit's scope). The limiter's one timer lives on `loop`
  /// while anything waits; `loop` must outlive the waiters.
  Ticket acquire(Loop& loop, const Route& route, TryLimits limits, Ready ready);
  /// Leaves the queue (cancel, pause): `ready` is dropped without being called.
  void withdraw(uint64_t waiter);

  /// fanout_limit when `max_calls` tries have started in `scope` already.
  std::optional<Error> used_up(const std::string& scope, std::optional<int64_t> max_calls) const;

  size_t waiting() const noexcept { return queue_.size(); }
  int64_t in_flight(const std::string& scope = kClientScope) const;
  int64_t started(const std::string& scope = kClientScope) const;
  /// The concurrency ceiling of every limited try while slowed down by a rate_limit.
  std::optional<int64_t> ceiling() const noexcept { return ceiling_; }

 private:
  friend class FanoutSlot;
  struct Counters {
    int64_t in_flight = 0;
    int64_t started = 0;
    std::optional<uint64_t> last_start_ns;
  };
  struct Waiter {
    uint64_t id = 0;
    std::vector<std::string> scopes;
    std::string route;
    TryLimits limits;
    Ready ready;
  };
  struct Verdict {
    enum class What { go, wait, refuse } what = What::go;
    uint64_t until_ns = 0;  // wait: when time alone would let it go (0: when a slot frees)
    std::optional<Error> error;
  };

  Verdict check(const TryLimits& limits, uint64_t now) const;
  std::vector<std::string> limit_scopes(const TryLimits& limits) const;
  bool blocked_by_queue(const std::vector<std::string>& scopes) const;
  std::unique_ptr<FanoutSlot> start_slot(std::vector<std::string> scopes, std::string route,
                                         bool limited, uint64_t now);
  void release(const FanoutSlot& slot);
  std::optional<std::string> finish(const FanoutSlot& slot, const std::optional<Error>& error);
  const Counters* counters(const std::string& scope) const;
  /// Runs pump() from the timer soon (the queue is looked at again after a change).
  void wake();
  void pump();
  /// After pump(): the timer for the earliest time a waiter may go, none, or gone.
  void arm(uint64_t wake_at_ns);

  FanoutLimits client_limits_;
  std::map<std::string, Counters> counters_;
  std::deque<Waiter> queue_;
  uint64_t next_waiter_ = 1;
  Loop* loop_ = nullptr;              // of the waiters, while there are any
  std::unique_ptr<LoopTimer> timer_;  // wakes the queue; exists only while something waits
  // The slowdown after a rate_limit: no limited try starts before paused_until_ns_, nor while
  // ceiling_ tries are in flight; the ceiling rises by one per success up to recover_to_.
  uint64_t paused_until_ns_ = 0;
  std::optional<int64_t> ceiling_;
  int64_t recover_to_ = 0;
  uint64_t last_cut_ns_ = 0;  // one halving per window: tries started before it do not halve again
};

}  // namespace drover
