#include "drover/client.h"

#include <map>
#include <memory>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "harness/acp_pool.h"
#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/route/router.h"
#include "src/route/run.h"
#include "src/transport/run_handle.h"

namespace drover {

// One submitted run, alive until its Result has been delivered (and as long as the router's
// handlers refer to it).
struct Submission {
  uint64_t id = 0;
  RunRequest request;
  EventHandler on_event;
  DoneHandler on_done;
  std::shared_ptr<RunHandle::State> state = std::make_shared<RunHandle::State>();
  bool completed = false;  ///< its Result is posted: later events and Results are dropped
  std::optional<std::string> handler_error;  ///< on_event threw (the message names it)
};

struct Client::Impl {
  explicit Impl(Config c) : config(std::move(c)) {}
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  RunHandle submit(RunRequest request, EventHandler on_event, DoneHandler on_done);
  void start(const std::shared_ptr<Submission>& run);
  void event(const std::shared_ptr<Submission>& run, const Event& event);
  /// Takes `result` as the run's Result (the first one only) and posts its delivery.
  void complete(const std::shared_ptr<Submission>& run, Result result);
  void deliver(const std::shared_ptr<Submission>& run, Result result);
  /// The Result of a run stopped before it started.
  Result stopped(const Submission& run, RunHandle::State::Stop stop) const;
  /// Drives the loop until `done()`; runs the loop can no longer complete fail on the way.
  void drive(const std::function<bool()>& done);

  // Declaration order is destruction order reversed: the loop goes first, while the config and
  // router state its runs refer to are still there, and `closing` tells late completions that
  // nobody is listening any more.
  bool closing = false;
  Config config;
  RouterState router_state;
  /// The builtin transports, with the warm pool as the ACP one once keep_agents_warm() made it.
  TransportSet transports = builtin_transports();
  AcpPool* pool = nullptr;  ///< a service of `loop` (which owns it)
  std::map<uint64_t, std::shared_ptr<Submission>> live;  ///< submitted, not yet delivered
  uint64_t next_id = 1;
  Loop loop;
  // After the loop: destroyed first, while the loop their handles live on is still there.
  std::map<uint64_t, std::unique_ptr<LoopTimer>> timers;  ///< post_after(), not yet fired
  uint64_t next_timer_id = 1;
};


RunHandle Client::Impl::submit(RunRequest request, EventHandler on_event, DoneHandler on_done) {
  auto run = std::make_shared<Submission>();
  run->id = next_id++;
  run->request = std::move(request);
  run->on_event = std::move(on_event);
  run->on_done = std::move(on_done);
  live.emplace(run->id, run);
  loop.post([this, run] { start(run); });
  return RunHandle(run->state);
}

void Client::Impl::start(const std::shared_ptr<Submission>& run) {
  if (run->completed) return;
  if (run->state->requested) return complete(run, stopped(*run, *run->state->requested));
  // No handler, no events: the router retries a failed try only when nobody has seen its deltas.
  EventHandler events;
  if (run->on_event) events = [this, run](const Event& e) { event(run, e); };
  ResultHandler done = completing_on_drop(
      [this, run](Result&& result) {
        // A success that went through no transport try was never filled in by one.
        if (result.ok() && result.attempts.empty() && result.stop_reason != "paused")
          result = unfilled_result(result.route.empty() ? run->request.route : result.route);
        complete(run, std::move(result));
      },
      run->request.route);
  run->state->attach(start_run(loop, config, transports, run->request, std::move(events),
                               std::move(done), &router_state));
}

void Client::Impl::event(const std::shared_ptr<Submission>& run, const Event& e) {
  if (run->completed || run->handler_error) return;
  if (!run->on_event) return;
  guarded("the event handler", [&] { run->on_event(e); },
          [&](const std::string& message) {
            run->handler_error = message;
            run->state->request(RunHandle::State::Stop::cancel);
          });
}

void Client::Impl::complete(const std::shared_ptr<Submission>& run, Result result) {
  if (closing || run->completed) return;
  run->completed = true;
  if (run->handler_error) result.error = Error::make(ErrorCode::harness_error, *run->handler_error);
  loop.post([this, run, result = std::move(result)]() mutable { deliver(run, std::move(result)); });
}

void Client::Impl::deliver(const std::shared_ptr<Submission>& run, Result result) {
  run->state->finish();
  live.erase(run->id);
  DoneHandler on_done = std::move(run->on_done);
  run->on_event = nullptr;
  if (on_done) guarded("the completion handler", [&] { on_done(std::move(result)); });
}

Result Client::Impl::stopped(const Submission& run, RunHandle::State::Stop stop) const {
  Result result;
  result.route = run.request.route;
  if (stop == RunHandle::State::Stop::cancel)
    result.error = Error::make(ErrorCode::aborted, "the run was cancelled before it started");
  else
    result.stop_reason = "paused";
  return result;
}

void Client::Impl::drive(const std::function<bool()>& done) {
  for (;;) {
    loop.run_until(done);
    if (done()) return;
    // Nothing is left on the loop: the runs still pending can never complete.
    bool failed_any = false;
    for (auto& [id, run] : live) {
      if (run->completed) continue;
      complete(run, unfilled_result(run->request.route));
      failed_any = true;
    }
    if (!failed_any) return;
  }
}

Client::Impl::~Impl() {
  // Handlers are not called from here: what they refer to may be gone already. The loop's
  // destructor kills the children of the runs still pending.
  closing = true;
  if (!live.empty()) spdlog::debug("a Client was destroyed with {} run(s) pending", live.size());
  for (auto& [id, run] : live) {
    run->state->finish();  // drops the run's control, which may refer back to the run
    run->on_event = nullptr;
    run->on_done = nullptr;
  }
}

Client::Client(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Config& Client::config() const noexcept { return impl_->config; }

RunHandle Client::submit(RunRequest request, EventHandler on_event, DoneHandler on_done) {
  return impl_->submit(std::move(request), std::move(on_event), std::move(on_done));
}

void Client::wait() {
  Impl& impl = *impl_;
  impl.drive([&impl] { return impl.live.empty() && impl.timers.empty(); });
}

size_t Client::pending() const noexcept { return impl_->live.size(); }

uint64_t Client::post_after(int64_t ms, std::function<void()> fire) {
  Impl& impl = *impl_;
  const uint64_t id = impl.next_timer_id++;
  auto timer = std::make_unique<LoopTimer>(impl.loop);
  timer->start(ms, [&impl, id, fire = std::move(fire)] {
    // Taken out first: `fire` may post other timers or cancel this one.
    auto node = impl.timers.extract(id);
    if (node.empty()) return;
    guarded("a post_after() callback", [&] { fire(); });
  });
  impl.timers.emplace(id, std::move(timer));
  return id;
}

bool Client::cancel_timer(uint64_t id) { return impl_->timers.erase(id) > 0; }

void Client::cancel_all() {
  for (auto& [id, run] : impl_->live) run->state->request(RunHandle::State::Stop::cancel);
  impl_->loop.stop_all(StopCause::cancelled);
}

void Client::kill_all() { impl_->loop.kill_all(); }

void Client::watch_termination_signals(std::function<void(int)> handler) {
  impl_->loop.watch_termination_signals(std::move(handler));
}

bool Client::watch_stdout_reader(std::function<void()> handler) {
  return impl_->loop.watch_stdout_reader(std::move(handler));
}

void Client::set_fanout(FanoutLimits limits) { impl_->router_state.fanout.set_client_limits(limits); }

void Client::keep_agents_warm(size_t max_agents) {
  Impl& impl = *impl_;
  if (impl.pool == nullptr) {
    if (max_agents == 0) return;
    impl.pool = static_cast<AcpPool*>(
        impl.loop.add_service("acp-pool", std::make_unique<AcpPool>(impl.loop)));
    impl.transports.set(*impl.pool);
  }
  impl.pool->set_max_agents(max_agents);
}

Result Client::run(const RunRequest& request) { return stream(request, nullptr); }

Result Client::stream(const RunRequest& request, const EventHandler& on_event) {
  RunRequest streamed = request;
  if (on_event) streamed.stream = true;
  auto out = std::make_shared<std::optional<Result>>();
  submit(std::move(streamed), on_event, [out](Result result) { *out = std::move(result); });
  impl_->drive([&out] { return out->has_value(); });
  return out->has_value() ? std::move(**out) : unfilled_result(request.route);
}

std::optional<ZeroConfigRoute> zero_config_route(const Config& config) {
  for (const char* preset : {"claude-cli", "codex-cli", "pi-cli", "opencode-cli"}) {
    auto [route, error] = config.resolve(preset);
    if (!route) continue;
    const std::string& command = route->account_spec->transport.command;
    auto env = build_child_environment({}, {});
    if (resolve_command(command, env, "").empty()) continue;
    return ZeroConfigRoute{preset, command};
  }
  return std::nullopt;
}

}  // namespace drover
