#include "src/route/router.h"

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "src/config/credentials.h"
#include "src/loop/loop.h"
#include "src/transport/transport.h"
#include "src/core/time.h"

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

// One request through the router. Kept alive by what can still call it back (the try in
// flight's sink, the back-off timer, a posted outcome) until its Result has been posted.
class RoutedRun : public std::enable_shared_from_this<RoutedRun> {
 public:
  RoutedRun(Loop& loop, const Config& config, const TransportSet& transports, RunRequest request,
            EventHandler on_event, ResultHandler on_done, RouterState* state)
      : loop_(loop), config_(config), transports_(transports), request_(std::move(request)),
        on_event_(std::move(on_event)), on_done_(std::move(on_done)),
        owned_state_(state == nullptr ? std::make_shared<RouterState>() : nullptr),
        state_(state == nullptr ? *owned_state_ : *state) {}

  void begin(Route route) {
    started_at_ = uv_hrtime();
    started_wall_ = now_rfc3339();
    if (!route.resolution_warning.empty()) warnings_.push_back(route.resolution_warning);
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

  // The request's RunControl: the try in flight is told, and no further try starts.
  void cancel() {
    if (finished_) return;
    cancelled_ = true;
    if (timer_ || waiter_) return finish_waiting();
    if (control_) control_->cancel();
  }

  void pause() {
    if (finished_) return;
    paused_ = true;
    if (timer_ || waiter_) return finish_waiting();
    if (control_) control_->pause();
  }

  // maxCalls of the request or the client, before routing: fanout_limit once it is used up.
  std::optional<Error> fanout_used_up() const {
    const FanoutLimits client = merged_fanout(state_.fanout.client_limits(), config_.fanout);
    return state_.fanout.used_up(
        kClientScope, request_.fanout.max_calls ? request_.fanout.max_calls : client.max_calls);
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
      if (!state_.cooling(account_label(pick), now) &&
          !model_allowlist_refusal(with_model(pick, route.model))) {
        counter = (counter + i + 1) % peers.size();
        return with_model(pick, route.model);
      }
    }
    return route;
  }

  // Starts a try on `candidate` once the fan-out limiter gives it a slot (at once, or after
  // waiting in its queue); a try the limiter refuses ends the request with fanout_limit.
  void attempt(Candidate candidate) {
    current_ = std::move(candidate);
    const FanoutLimits client = merged_fanout(state_.fanout.client_limits(), config_.fanout);
    auto ticket = state_.fanout.acquire(
        loop_, current_.route, limits_for_try(request_.fanout, current_.route, client),
        [self = shared_from_this()](std::unique_ptr<FanoutSlot> slot, std::optional<Error> refused) {
          self->waiter_ = 0;
          self->end_wait();
          self->slot_ready(std::move(slot), std::move(refused));
        });
    if (ticket.waiter == 0) return slot_ready(std::move(ticket.slot), std::move(ticket.refused));
    waiter_ = ticket.waiter;
    watch_stop();
  }

  void slot_ready(std::unique_ptr<FanoutSlot> slot, std::optional<Error> refused) {
    if (refused) {
      Result r;
      r.error = std::move(refused);
      return deliver(std::move(r));
    }
    slot_ = std::move(slot);
    last_result_.reset();
    launch();
  }

  void launch() {
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
    if (implementation == nullptr)
      return fail_attempt(Error::make(
          ErrorCode::unsupported_capability,
          "transport kind '" + std::string(to_string(transport.kind)) + "' of route " +
              current_.route.id + " is not available in this build"));
    std::string key;
    if (transport.kind == TransportKind::api) {
      std::optional<Error> key_error;
      keys_ = load_api_keys(transport.api().credentials, current_.route.id, key_error);
      if (key_error) return fail_attempt(std::move(*key_error));
      if (!keys_.empty()) {
        if (current_.credential < 0) current_.credential = first_usable_key();
        key = keys_[static_cast<size_t>(current_.credential) % keys_.size()];
      }
    }
    // The account's systemPrompt stands in for a request that brings none (per try: a fallback
    // may land on another account).
    attempt_request_ = request_;
    const AccountSpec& account = *current_.route.account_spec;
    if (!attempt_request_.system_prompt && account.system_prompt)
      attempt_request_.system_prompt = account.system_prompt;
    control_ = implementation->start(
        loop_, TransportAttempt{current_.route, attempt_request_, std::move(key)},
        TransportSink{std::move(events),
                      [self](TransportOutcome&& outcome) { self->attempt_done(std::move(outcome)); },
                      static_cast<bool>(on_event_)});
  }

  // A try that fails before any transport started: its outcome arrives from the loop like any
  // transport's would.
  void fail_attempt(Error error) {
    TransportOutcome outcome;
    outcome.result.error = std::move(error);
    loop_.post([self = shared_from_this(), outcome = std::move(outcome)]() mutable {
      self->attempt_done(std::move(outcome));
    });
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
    if (finished_) return;
    control_.reset();
    Result& r = outcome.result;
    std::optional<std::string> slowdown;
    if (slot_) slowdown = slot_->finish(r.error);
    slot_.reset();
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
    if (slowdown) emit_warning(*slowdown);

    if (!r.error) return deliver(std::move(r));
    const Error error = *r.error;
    if (terminal(error.code) || cancelled_ || paused_) return deliver(std::move(r));
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
        pending_ = std::move(*next);
        if (cancelled_ || paused_) return finish_waiting();  // stopped from the warning event
        return schedule(delay);
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
          if (model_allowlist_refusal(with_model(r, cur.model))) continue;  // a strict allowlist
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

  // Starts pending_ after `delay_ms` (at once when 0). Ctrl-C (Loop::stop_all) while waiting
  // ends the request as cancel() does: nothing is running that the loop could stop.
  void schedule(int64_t delay_ms) {
    tried_.insert(account_label(current_.route));
    tried_providers_.insert(current_.route.provider);
    if (delay_ms <= 0) return start_pending();
    timer_ = std::make_unique<LoopTimer>(loop_);
    timer_->start(delay_ms, [self = shared_from_this()] {
      self->end_wait();
      self->start_pending();
    });
    watch_stop();
  }

  // Ctrl-C (Loop::stop_all) and the loop's end while waiting (to retry, for a fan-out slot)
  // end the request as cancel() does.
  void watch_stop() {
    auto weak = weak_from_this();
    stop_hook_ = loop_.add_stop_hook([weak](StopCause) {
      if (auto self = weak.lock()) self->cancel();
    });
  }

  // The last try's Result stays until the next try starts: a pause while that one waits for a
  // fan-out slot answers with it.
  void start_pending() {
    Candidate next = std::move(*pending_);
    pending_.reset();
    attempt(std::move(next));
  }

  void end_wait() {
    if (stop_hook_) loop_.remove_stop_hook(stop_hook_);
    stop_hook_ = 0;
    timer_.reset();  // safe from the timer's own callback
    if (waiter_) state_.fanout.withdraw(waiter_);
    waiter_ = 0;
  }

  // Stopped between tries: cancel ends the request aborted, pause with the last try's answer.
  void finish_waiting() {
    const bool queued = waiter_ != 0;
    end_wait();
    pending_.reset();
    Result r = last_result_ ? std::move(*last_result_) : Result{};
    last_result_.reset();
    if (cancelled_) {
      r.error = Error::make(ErrorCode::aborted, queued ? "cancelled while waiting for a fan-out slot"
                                                       : "cancelled while waiting to retry");
    } else {
      r.error.reset();
      r.stop_reason = "paused";
    }
    deliver(std::move(r));
  }

  void emit(const Event& event) {
    if (!on_event_) return;
    guarded("the event handler", [&] { on_event_(event); });
  }

  void emit_warning(const std::string& message) {
    warnings_.push_back(message);
    Event event;
    event.kind = Event::Kind::warning;
    event.text = message;
    emit(event);
  }

  // Completes the request: the Result goes to on_done from the loop, never from inside the call
  // that got here (start_run, cancel(), pause()).
  void deliver(Result&& result) {
    if (finished_) return;
    finished_ = true;
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
    on_event_ = nullptr;
    control_.reset();
    slot_.reset();
    loop_.post([done = std::move(on_done_), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  Loop& loop_;
  const Config& config_;
  const TransportSet& transports_;
  RunRequest request_;
  RunRequest attempt_request_;  // request_ with the account's defaults, for the try in flight
  EventHandler on_event_;
  ResultHandler on_done_;
  std::shared_ptr<RouterState> owned_state_;  // when the caller gave none
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
  bool cancelled_ = false;  // cancel() asked for: no further try
  bool paused_ = false;     // pause() asked for: no further try
  bool finished_ = false;   // the Result has been posted
  uint64_t started_at_ = 0;
  uint64_t attempt_started_ = 0;
  std::string started_wall_;
  std::optional<double> first_delta_ms_;
  std::shared_ptr<RunControl> control_;  // the try in flight's, until its outcome arrived
  std::unique_ptr<LoopTimer> timer_;      // set while waiting to retry
  uint64_t waiter_ = 0;                    // set while queued for a fan-out slot
  std::unique_ptr<FanoutSlot> slot_;       // the try in flight's, until its outcome arrived
  uint64_t stop_hook_ = 0;
};

// What start_run returns. Holds the run weakly: a control kept after the end keeps nothing alive.
class RouterControl final : public RunControl {
 public:
  explicit RouterControl(std::weak_ptr<RoutedRun> run) : run_(std::move(run)) {}
  void cancel() override {
    if (auto run = run_.lock()) run->cancel();
  }
  void pause() override {
    if (auto run = run_.lock()) run->pause();
  }

 private:
  std::weak_ptr<RoutedRun> run_;
};

}  // namespace

bool RouterState::cooling(const std::string& label, uint64_t now) const {
  auto it = cooldown_until_ms.find(label);
  return it != cooldown_until_ms.end() && it->second > now;
}

std::shared_ptr<RunControl> start_run(Loop& loop, const Config& config,
                                      const TransportSet& transports, const RunRequest& request,
                                      EventHandler on_event, ResultHandler on_done,
                                      RouterState* state) {
  auto run = std::make_shared<RoutedRun>(loop, config, transports, request, std::move(on_event),
                                         std::move(on_done), state);
  auto control = std::make_shared<RouterControl>(run);
  if (request.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    run->fail_before_start(request.route,
                           Error::make(ErrorCode::validation_error, "the prompt is empty"));
    return control;
  }
  if (auto used_up = run->fanout_used_up()) {
    run->fail_before_start(request.route, std::move(*used_up));
    return control;
  }
  auto [route, error] = config.resolve(request.route);
  if (!route) {
    run->fail_before_start(request.route,
                           error.value_or(Error::make(ErrorCode::config_error, "no route")));
    return control;
  }
  Route chosen = *route;
  if (request.model && !request.model->empty()) chosen = with_model(chosen, *request.model);
  if (auto refused = model_allowlist_refusal(chosen)) {
    run->fail_before_start(chosen.id, std::move(*refused));
    return control;
  }
  run->begin(std::move(chosen));
  return control;
}

}  // namespace drover
