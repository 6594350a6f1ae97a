#include "src/route/fanout.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <uv.h>

#include "src/config/credentials.h"
#include "src/core/time.h"
#include "src/loop/loop.h"

namespace drover {
namespace {

constexpr int64_t kDefaultPauseMs = 1000;  // a rate_limit without Retry-After
constexpr int64_t kMaxPauseMs = 60000;     // as the router caps its retry delay
constexpr double kMaxIntervalNs = 1e18;    // a requestsPerSecond so small it never refills

uint64_t interval_ns(double requests_per_second) {
  const double ns = 1e9 / requests_per_second;
  return static_cast<uint64_t>(std::min(ns, kMaxIntervalNs));
}

template <class T>
std::optional<ScopedLimit<T>> pick(const std::optional<T>& request, const std::optional<T>& route,
                                   bool from_account, const Route& r,
                                   const std::optional<T>& client) {
  if (request) return ScopedLimit<T>{*request, kClientScope};
  if (route) return ScopedLimit<T>{*route, from_account ? account_scope(r) : provider_scope(r.provider)};
  if (client) return ScopedLimit<T>{*client, kClientScope};
  return std::nullopt;
}

}  // namespace

std::string provider_scope(const std::string& provider) { return "provider " + provider; }

std::string account_scope(const Route& route) { return "account " + account_label(route); }

TryLimits limits_for_try(const FanoutLimits& request, const Route& route,
                         const FanoutLimits& client) {
  // Route::fanout is the account's, else the provider's: which one set a field decides whose
  // tries it counts.
  const FanoutLimits* account = route.account_spec ? &route.account_spec->fanout : nullptr;
  TryLimits out;
  out.max_concurrency =
      pick(request.max_concurrency, route.fanout.max_concurrency,
           !account || account->max_concurrency.has_value(), route, client.max_concurrency);
  out.requests_per_second =
      pick(request.requests_per_second, route.fanout.requests_per_second,
           !account || account->requests_per_second.has_value(), route, client.requests_per_second);
  out.max_calls = pick(request.max_calls, route.fanout.max_calls,
                       !account || account->max_calls.has_value(), route, client.max_calls);
  return out;
}

// ---- FanoutSlot ------------------------------------------------------------------------------

FanoutSlot::FanoutSlot(FanoutLimiter& limiter, std::vector<std::string> scopes, std::string route,
                       bool limited, uint64_t started_ns)
    : limiter_(limiter), scopes_(std::move(scopes)), route_(std::move(route)), limited_(limited),
      started_ns_(started_ns) {}

FanoutSlot::~FanoutSlot() { limiter_.release(*this); }

std::optional<std::string> FanoutSlot::finish(const std::optional<Error>& error) {
  return limiter_.finish(*this, error);
}

// ---- FanoutLimiter ---------------------------------------------------------------------------

FanoutLimiter::~FanoutLimiter() = default;

void FanoutLimiter::set_client_limits(FanoutLimits limits) {
  client_limits_ = limits;
  wake();
}

const FanoutLimiter::Counters* FanoutLimiter::counters(const std::string& scope) const {
  auto it = counters_.find(scope);
  return it == counters_.end() ? nullptr : &it->second;
}

int64_t FanoutLimiter::in_flight(const std::string& scope) const {
  const Counters* c = counters(scope);
  return c ? c->in_flight : 0;
}

int64_t FanoutLimiter::started(const std::string& scope) const {
  const Counters* c = counters(scope);
  return c ? c->started : 0;
}

std::optional<Error> FanoutLimiter::used_up(const std::string& scope,
                                            std::optional<int64_t> max_calls) const {
  if (!max_calls || started(scope) < *max_calls) return std::nullopt;
  return Error::make(ErrorCode::fanout_limit,
                     "the fan-out limit maxCalls " + std::to_string(*max_calls) + " of " + scope +
                         " is used up (" + std::to_string(started(scope)) +
                         " calls started): no more calls start");
}

std::vector<std::string> FanoutLimiter::limit_scopes(const TryLimits& limits) const {
  std::vector<std::string> out;
  if (limits.max_concurrency) out.push_back(limits.max_concurrency->scope);
  if (limits.requests_per_second) out.push_back(limits.requests_per_second->scope);
  if (ceiling_) out.push_back(kClientScope);
  return out;
}

bool FanoutLimiter::blocked_by_queue(const std::vector<std::string>& scopes) const {
  for (const Waiter& w : queue_)
    for (const std::string& s : limit_scopes(w.limits))
      if (std::find(scopes.begin(), scopes.end(), s) != scopes.end()) return true;
  return false;
}

FanoutLimiter::Verdict FanoutLimiter::check(const TryLimits& limits, uint64_t now) const {
  Verdict v;
  if (limits.max_calls) {
    if (auto error = used_up(limits.max_calls->scope, limits.max_calls->value)) {
      v.what = Verdict::What::refuse;
      v.error = std::move(error);
      return v;
    }
  }
  bool wait = false;
  if (now < paused_until_ns_) {
    wait = true;
    v.until_ns = paused_until_ns_;
  }
  if (ceiling_ && in_flight(kClientScope) >= *ceiling_) wait = true;
  if (limits.max_concurrency && in_flight(limits.max_concurrency->scope) >= limits.max_concurrency->value)
    wait = true;
  if (limits.requests_per_second) {
    const Counters* c = counters(limits.requests_per_second->scope);
    if (c && c->last_start_ns) {
      const uint64_t next = *c->last_start_ns + interval_ns(limits.requests_per_second->value);
      if (now < next) {
        wait = true;
        v.until_ns = std::max(v.until_ns, next);
      }
    }
  }
  if (wait) v.what = Verdict::What::wait;
  return v;
}

std::unique_ptr<FanoutSlot> FanoutLimiter::start_slot(std::vector<std::string> scopes,
                                                      std::string route, bool limited,
                                                      uint64_t now) {
  for (const std::string& s : scopes) {
    Counters& c = counters_[s];
    ++c.in_flight;
    ++c.started;
    c.last_start_ns = now;
  }
  return std::unique_ptr<FanoutSlot>(
      new FanoutSlot(*this, std::move(scopes), std::move(route), limited, now));
}

FanoutLimiter::Ticket FanoutLimiter::acquire(Loop& loop, const Route& route, TryLimits limits,
                                             Ready ready) {
  Ticket ticket;
  std::vector<std::string> scopes{kClientScope, provider_scope(route.provider),
                                  account_scope(route)};
  const uint64_t now = uv_hrtime();
  if (limits.empty()) {
    ticket.slot = start_slot(std::move(scopes), route.id, false, now);
    return ticket;
  }
  Verdict v = check(limits, now);
  if (v.what == Verdict::What::refuse) {
    ticket.refused = std::move(v.error);
    return ticket;
  }
  // First come, first served: a try that could go now still queues behind earlier ones held
  // by the same limit (they may be about to be woken).
  if (v.what == Verdict::What::go && !blocked_by_queue(limit_scopes(limits))) {
    ticket.slot = start_slot(std::move(scopes), route.id, true, now);
    return ticket;
  }
  loop_ = &loop;
  ticket.waiter = next_waiter_++;
  queue_.push_back(Waiter{ticket.waiter, std::move(scopes), route.id, std::move(limits),
                          std::move(ready)});
  wake();
  return ticket;
}

void FanoutLimiter::withdraw(uint64_t waiter) {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const Waiter& w) { return w.id == waiter; });
  if (it == queue_.end()) return;
  queue_.erase(it);
  // Those behind it may go now.
  if (queue_.empty())
    arm(0);
  else
    wake();
}

void FanoutLimiter::release(const FanoutSlot& slot) {
  for (const std::string& s : slot.scopes_) {
    auto it = counters_.find(s);
    if (it != counters_.end() && it->second.in_flight > 0) --it->second.in_flight;
  }
  wake();
}

std::optional<std::string> FanoutLimiter::finish(const FanoutSlot& slot,
                                                 const std::optional<Error>& error) {
  if (!slot.limited_) return std::nullopt;
  if (!error) {
    if (ceiling_ && ++*ceiling_ >= recover_to_) ceiling_.reset();
    wake();
    return std::nullopt;
  }
  if (error->code != ErrorCode::rate_limit) return std::nullopt;
  const uint64_t now = uv_hrtime();
  const int64_t pause_ms =
      std::clamp<int64_t>(error->retry_after_ms.value_or(kDefaultPauseMs), 0, kMaxPauseMs);
  paused_until_ns_ = std::max(paused_until_ns_, now + static_cast<uint64_t>(pause_ms) * 1000000);
  // Halve once per window: the tries that were in flight when the ceiling was cut report the
  // same congestion, and cutting again for each of them would overshoot.
  if (!ceiling_ || slot.started_ns_ >= last_cut_ns_) {
    int64_t base = std::max<int64_t>(1, in_flight(kClientScope));  // this try among them
    if (ceiling_) base = std::min(base, *ceiling_);
    else recover_to_ = base;
    ceiling_ = std::max<int64_t>(1, base / 2);
    last_cut_ns_ = now;
  }
  wake();
  return "rate limited by " + slot.route_ + ": no new call for " + seconds_text(pause_ms) +
         ", then every run slowed to " + std::to_string(*ceiling_) +
         " in flight (one more per successful call)";
}

void FanoutLimiter::wake() {
  if (queue_.empty() || loop_ == nullptr) return;
  if (!timer_) timer_ = std::make_unique<LoopTimer>(*loop_);
  timer_->start(0, [this] { pump(); });
}

void FanoutLimiter::pump() {
  const uint64_t now = uv_hrtime();
  std::set<std::string> held;  // scopes an earlier waiter is held in: those behind it wait
  uint64_t wake_at = 0;
  struct Decided {
    Ready ready;
    std::unique_ptr<FanoutSlot> slot;
    std::optional<Error> refused;
  };
  std::vector<Decided> decided;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const std::vector<std::string> scopes = limit_scopes(it->limits);
    const bool behind = std::any_of(scopes.begin(), scopes.end(),
                                    [&](const std::string& s) { return held.count(s) > 0; });
    Verdict v = behind ? Verdict{Verdict::What::wait, 0, std::nullopt} : check(it->limits, now);
    if (v.what == Verdict::What::wait) {
      held.insert(scopes.begin(), scopes.end());
      if (v.until_ns != 0 && (wake_at == 0 || v.until_ns < wake_at)) wake_at = v.until_ns;
      ++it;
      continue;
    }
    Decided d{std::move(it->ready), nullptr, std::move(v.error)};
    if (v.what == Verdict::What::go)
      d.slot = start_slot(std::move(it->scopes), std::move(it->route), true, now);
    decided.push_back(std::move(d));
    it = queue_.erase(it);
  }
  arm(wake_at);
  // After the bookkeeping: a handler may acquire, withdraw or release re-entrantly.
  for (Decided& d : decided)
    guarded("a fan-out slot handler", [&] { d.ready(std::move(d.slot), std::move(d.refused)); });
}

void FanoutLimiter::arm(uint64_t wake_at_ns) {
  if (queue_.empty()) {
    timer_.reset();  // safe from the timer's own callback
    loop_ = nullptr;
    return;
  }
  if (wake_at_ns == 0) {
    if (timer_) timer_->stop();  // a release wakes the queue
    return;
  }
  if (!timer_) timer_ = std::make_unique<LoopTimer>(*loop_);
  const uint64_t now = uv_hrtime();
  const uint64_t ns = wake_at_ns > now ? wake_at_ns - now : 0;
  timer_->start(static_cast<int64_t>((ns + 999999) / 1000000), [this] { pump(); });
}

}  // namespace drover
