#include "src/router.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "src/loop.h"
#include "src/transport.h"

namespace drover {
namespace {

uint64_t now_ms() { return uv_hrtime() / 1000000; }

bool terminal(ErrorCode code) {
  return code == ErrorCode::aborted || code == ErrorCode::timeout || code == ErrorCode::fanout_limit;
}

// Failures that say something about the key that was used.
bool credential_failure(ErrorCode code) {
  return code == ErrorCode::rate_limit || code == ErrorCode::auth_error ||
         code == ErrorCode::quota_exhausted;
}

std::string_view step_name(RoutingSpec::Step step) {
  switch (step) {
    case RoutingSpec::Step::retry: return "retrying";
    case RoutingSpec::Step::rotate_credential: return "rotating to another key";
    case RoutingSpec::Step::rotate_account: return "rotating to another account";
    case RoutingSpec::Step::fallback_transport: return "falling back to another transport";
    case RoutingSpec::Step::fallback_provider: return "falling back to another provider";
  }
  return "retrying";
}

std::string account_label(const Route& r) { return r.provider + ":" + r.transport + ":" + r.account; }
std::string credential_label(const Route& r, int index) {
  return account_label(r) + "#key" + std::to_string(index + 1);
}

Route with_model(Route route, const std::string& model) {
  if (!model.empty()) {
    route.model = model;
    route.id = route.provider + ":" + route.transport + ":" + route.account + ":" + model;
  }
  return route;
}

struct Candidate {
  Route route;
  int credential = -1;  // index into the account's key pool; -1: not chosen yet / none
};

// One request through the router: alive until on_done ran.
class RoutedRun : public std::enable_shared_from_this<RoutedRun> {
 public:
  RoutedRun(Loop& loop, const Config& config, const TransportSet& transports, RunRequest request,
            EventHandler on_event, ResultHandler on_done, RouterState& state)
      : loop_(loop), config_(config), transports_(transports), request_(std::move(request)),
        on_event_(std::move(on_event)), on_done_(std::move(on_done)), state_(state) {}

  void begin(Route route) {
    started_at_ = uv_hrtime();
    started_wall_ = now_rfc3339();
    attempt(Candidate{choose_account(std::move(route)), -1});
  }

  void fail_before_start(const std::string& route_id, Error error) {
    started_at_ = uv_hrtime();
    started_wall_ = now_rfc3339();
    Result result;
    result.route = route_id;
    result.error = std::move(error);
    deliver(std::move(result));
  }

 private:
  double elapsed_ms() const { return static_cast<double>(uv_hrtime() - started_at_) / 1e6; }

  // round-robin: spread requests over the provider's accounts of the same transport kind.
  Route choose_account(Route route) {
    if (config_.routing.strategy != RoutingSpec::Strategy::round_robin) return route;
    std::vector<Route> peers;
    for (const Route& r : config_.routes())
      if (r.provider == route.provider && r.transport == route.transport &&
          (peers.empty() || peers.back().account != r.account))
        peers.push_back(r);
    if (peers.size() < 2) return route;
    uint64_t& counter = state_.round_robin["provider:" + route.provider + ":" + route.transport];
    const uint64_t now = now_ms();
    for (size_t i = 0; i < peers.size(); ++i) {
      const Route& pick = peers[(counter + i) % peers.size()];
      if (!state_.cooling(account_label(pick), now)) {
        counter = (counter + i + 1) % peers.size();
        return with_model(pick, route.model);
      }
    }
    return route;
  }

  void attempt(Candidate candidate) {
    current_ = std::move(candidate);
    emitted_ = false;
    attempt_started_ = uv_hrtime();
    const TransportSpec& transport = current_.route.account_spec->transport;
    auto self = shared_from_this();
    EventHandler events = [self](const Event& event) {
      if (event.kind == Event::Kind::delta && !event.text.empty()) {
        // Only deltas a consumer received make a retry unsafe: without one (text and json
        // output, Client::run) nobody has seen any part of the answer yet.
        if (self->on_event_) self->emitted_ = true;
        if (!self->first_delta_ms_) self->first_delta_ms_ = self->elapsed_ms();
      }
      self->emit(event);
    };
    Transport* implementation = transports_.find(transport.kind);
    if (implementation == nullptr) {
      TransportOutcome outcome;
      outcome.result.error = Error::make(
          ErrorCode::unsupported_capability,
          "transport kind '" + std::string(to_string(transport.kind)) + "' of route " +
              current_.route.id + " is not available in this build");
      return attempt_done(std::move(outcome));
    }
    std::string key;
    if (transport.kind == TransportKind::api) {
      std::optional<Error> key_error;
      keys_ = load_api_keys(transport.api().credentials, current_.route.id, key_error);
      if (key_error) {
        TransportOutcome outcome;
        outcome.result.error = std::move(key_error);
        return attempt_done(std::move(outcome));
      }
      if (!keys_.empty()) {
        if (current_.credential < 0) current_.credential = first_usable_key();
        key = keys_[static_cast<size_t>(current_.credential) % keys_.size()];
      }
    }
    control_ = implementation->start(
        loop_, TransportAttempt{current_.route, request_, std::move(key)},
        TransportSink{std::move(events),
                      [self](TransportOutcome&& outcome) { self->attempt_done(std::move(outcome)); }});
  }

  int first_usable_key() {
    const uint64_t now = now_ms();
    const size_t n = keys_.size();
    size_t start = 0;
    if (config_.routing.strategy == RoutingSpec::Strategy::round_robin)
      start = state_.round_robin[account_label(current_.route)]++ % n;
    for (size_t i = 0; i < n; ++i) {
      size_t k = (start + i) % n;
      if (!state_.cooling(credential_label(current_.route, static_cast<int>(k)), now))
        return static_cast<int>(k);
    }
    warnings_.push_back("every key of " + account_label(current_.route) +
                        " is cooling down after failures; trying key " +
                        std::to_string(start + 1) + " anyway");
    return static_cast<int>(start);
  }

  void attempt_done(TransportOutcome&& outcome) {
    Result& r = outcome.result;
    Attempt a;
    a.route = current_.route.id;
    a.transport = to_string(current_.route.account_spec->transport.kind);
    a.duration_ms = static_cast<double>(uv_hrtime() - attempt_started_) / 1e6;
    a.error = r.error;
    a.process = r.process;
    attempts_.push_back(std::move(a));
    calls_ += outcome.calls;
    if (r.usage) {
      if (!usage_) usage_ = Usage{};
      Usage u = *r.usage;
      u.calls = 0;  // recounted from real calls below
      usage_->add(u);
    }
    for (auto& w : r.warnings) warnings_.push_back(std::move(w));
    r.warnings.clear();

    if (!r.error) return deliver(std::move(r));
    const Error error = *r.error;
    if (terminal(error.code) || cancelled_) return deliver(std::move(r));
    auto chain = config_.routing.fallback.find(error.code);
    if (chain == config_.routing.fallback.end()) return deliver(std::move(r));
    if (emitted_) {
      warnings_.push_back("not retried: part of the answer had already been streamed");
      return deliver(std::move(r));
    }
    if (static_cast<int>(attempts_.size()) >= config_.routing.max_attempts) {
      warnings_.push_back("gave up after " + std::to_string(attempts_.size()) + " attempts");
      return deliver(std::move(r));
    }
    const uint64_t now = now_ms();
    if (current_.credential >= 0 && credential_failure(error.code))
      state_.cooldown_until_ms[credential_label(current_.route, current_.credential)] =
          now + static_cast<uint64_t>(config_.routing.cooldown_ms);

    int& position = failures_[error.code];
    while (position < static_cast<int>(chain->second.size())) {
      RoutingSpec::Step step = chain->second[static_cast<size_t>(position++)];
      if (auto next = apply(step, error)) {
        std::string note = std::string(to_string(error.code)) + " from " + current_.route.id +
                           ": " + error.message + "; " + std::string(step_name(step));
        emit_warning(note);
        int64_t delay = 0;
        if (step == RoutingSpec::Step::retry) {
          delay = error.retry_after_ms.value_or(250LL << std::min(failures_[error.code] - 1, 4));
          delay = std::min<int64_t>(delay, 60000);
        }
        last_result_ = std::move(r);
        return schedule(std::move(*next), delay);
      }
    }
    deliver(std::move(r));
  }

  std::optional<Candidate> apply(RoutingSpec::Step step, const Error&) {
    const Route& cur = current_.route;
    const uint64_t now = now_ms();
    switch (step) {
      case RoutingSpec::Step::retry:
        return current_;
      case RoutingSpec::Step::rotate_credential: {
        if (keys_.size() < 2 || current_.credential < 0) return std::nullopt;
        const size_t n = keys_.size();
        for (size_t i = 1; i < n; ++i) {
          int k = static_cast<int>((static_cast<size_t>(current_.credential) + i) % n);
          if (!state_.cooling(credential_label(cur, k), now)) return Candidate{cur, k};
        }
        return std::nullopt;
      }
      case RoutingSpec::Step::rotate_account:
      case RoutingSpec::Step::fallback_transport: {
        const bool same_transport = step == RoutingSpec::Step::rotate_account;
        for (const Route& r : config_.routes()) {
          if (r.provider != cur.provider || r.account == cur.account) continue;
          if ((r.transport == cur.transport) != same_transport) continue;
          if (tried_.count(account_label(r)) || state_.cooling(account_label(r), now)) continue;
          mark_account_cooling(cur);
          return Candidate{with_model(r, cur.model), -1};
        }
        return std::nullopt;
      }
      case RoutingSpec::Step::fallback_provider: {
        for (const Route& r : config_.routes()) {
          if (r.provider == cur.provider || tried_providers_.count(r.provider)) continue;
          if (state_.cooling(account_label(r), now)) continue;
          tried_providers_.insert(r.provider);
          mark_account_cooling(cur);
          return Candidate{r, -1};  // that provider's own first route and model
        }
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  void mark_account_cooling(const Route& r) {
    tried_.insert(account_label(r));
    state_.cooldown_until_ms[account_label(r)] =
        now_ms() + static_cast<uint64_t>(config_.routing.cooldown_ms);
  }

  void schedule(Candidate next, int64_t delay_ms) {
    tried_.insert(account_label(current_.route));
    tried_providers_.insert(current_.route.provider);
    if (delay_ms <= 0) return attempt(std::move(next));
    pending_ = std::move(next);
    timer_ = new uv_timer_t;
    uv_timer_init(loop_.uv(), timer_);
    timer_->data = new std::shared_ptr<RoutedRun>(shared_from_this());
    uv_timer_start(
        timer_,
        [](uv_timer_t* t) {
          auto self = *static_cast<std::shared_ptr<RoutedRun>*>(t->data);
          self->release_timer();
          self->attempt(std::move(*self->pending_));
        },
        static_cast<uint64_t>(delay_ms), 0);
    auto weak = weak_from_this();
    stop_hook_ = loop_.add_stop_hook([weak](StopCause) {
      if (auto self = weak.lock()) self->cancel_wait();
    });
  }

  void release_timer() {
    if (stop_hook_) loop_.remove_stop_hook(stop_hook_);
    stop_hook_ = 0;
    if (timer_ == nullptr) return;
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
      delete static_cast<std::shared_ptr<RoutedRun>*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
    });
    timer_ = nullptr;
  }

  // Ctrl-C while waiting to retry: nothing is running, so the run ends here, aborted.
  void cancel_wait() {
    cancelled_ = true;
    if (timer_ == nullptr) return;
    release_timer();
    Result r = last_result_ ? std::move(*last_result_) : Result{};
    r.error = Error::make(ErrorCode::aborted, "cancelled while waiting to retry");
    deliver(std::move(r));
  }

  void emit(const Event& event) {
    if (!on_event_) return;
    try {
      on_event_(event);
    } catch (const std::exception& e) {
      spdlog::error("event handler failed: {}", e.what());
    }
  }

  void emit_warning(const std::string& message) {
    warnings_.push_back(message);
    Event event;
    event.kind = Event::Kind::warning;
    event.text = message;
    emit(event);
  }

  void deliver(Result&& result) {
    if (!on_done_) return;
    result.route = current_.route.id.empty() ? result.route : current_.route.id;
    if (result.model.empty()) result.model = current_.route.model;
    result.attempts = std::move(attempts_);
    result.warnings = std::move(warnings_);
    if (usage_) {
      usage_->calls = calls_;
      result.usage = usage_;
    } else {
      result.usage.reset();
    }
    result.timings.started_at = started_wall_;
    result.timings.wall_ms = elapsed_ms();
    result.timings.first_delta_ms = first_delta_ms_;
    auto done = std::move(on_done_);
    done(std::move(result));
  }

  Loop& loop_;
  const Config& config_;
  const TransportSet& transports_;
  RunRequest request_;
  EventHandler on_event_;
  ResultHandler on_done_;
  RouterState& state_;

  Candidate current_;
  std::optional<Candidate> pending_;
  std::optional<Result> last_result_;
  std::vector<std::string> keys_;
  std::map<ErrorCode, int> failures_;
  std::set<std::string> tried_;
  std::set<std::string> tried_providers_;
  std::vector<Attempt> attempts_;
  std::vector<std::string> warnings_;
  std::optional<Usage> usage_;
  int calls_ = 0;
  bool emitted_ = false;  // this try delivered a delta to on_event_
  bool cancelled_ = false;
  uint64_t started_at_ = 0;
  uint64_t attempt_started_ = 0;
  std::string started_wall_;
  std::optional<double> first_delta_ms_;
  std::shared_ptr<RunControl> control_;  // the current try's
  uv_timer_t* timer_ = nullptr;
  uint64_t stop_hook_ = 0;
};

}  // namespace

bool RouterState::cooling(const std::string& label, uint64_t now) const {
  auto it = cooldown_until_ms.find(label);
  return it != cooldown_until_ms.end() && it->second > now;
}

std::vector<std::string> load_api_keys(const CredentialSpec& spec, const std::string& route_id,
                                       std::optional<Error>& error) {
  std::vector<std::string> keys;
  if (spec.api_key) {
    keys.push_back(*spec.api_key);
    return keys;
  }
  if (!spec.api_key_env) return keys;
  const char* value = std::getenv(spec.api_key_env->c_str());
  if (value == nullptr || *value == '\0') {
    error = Error::make(ErrorCode::auth_error, "the API key variable " + *spec.api_key_env +
                                                   " (route " + route_id + ") is not set");
    return keys;
  }
  std::string all(value);
  if (!spec.api_key_delimiter) {
    keys.push_back(all);
    return keys;
  }
  const std::string& delim = *spec.api_key_delimiter;
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find(delim, start);
    if (end == std::string::npos) end = all.size();
    std::string key = all.substr(start, end - start);
    key.erase(0, key.find_first_not_of(" \t\r\n"));
    key.erase(key.find_last_not_of(" \t\r\n") + 1);
    if (!key.empty()) keys.push_back(std::move(key));
    start = end + delim.size();
  }
  if (keys.empty())
    error = Error::make(ErrorCode::auth_error, "the API key variable " + *spec.api_key_env +
                                                   " (route " + route_id + ") holds no key");
  return keys;
}

void start_run(Loop& loop, const Config& config, const RunRequest& request,
               EventHandler on_event, ResultHandler on_done, RouterState* state) {
  std::shared_ptr<RouterState> owned;
  if (state == nullptr) {
    owned = std::make_shared<RouterState>();
    state = owned.get();
  }
  // Keep a private state alive for the run's lifetime through the completion callback.
  ResultHandler done = [owned, on_done = std::move(on_done)](Result&& r) { on_done(std::move(r)); };
  auto run = std::make_shared<RoutedRun>(loop, config, builtin_transports(), request, std::move(on_event),
                                         std::move(done), *state);
  if (request.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    return run->fail_before_start(request.route,
                                  Error::make(ErrorCode::validation_error, "the prompt is empty"));
  auto [route, error] = config.resolve(request.route);
  if (!route)
    return run->fail_before_start(request.route,
                                  error.value_or(Error::make(ErrorCode::config_error, "no route")));
  Route chosen = *route;
  if (request.model && !request.model->empty()) chosen = with_model(chosen, *request.model);
  run->begin(std::move(chosen));
}

}  // namespace drover
