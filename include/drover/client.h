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

/// Runs requests against a validated Config on one event loop of its own, which lives as long
/// as the Client. Any number of runs may be in flight at once: submit() starts nothing by
/// itself, wait() (or run()/stream()) drives the loop on the calling thread. Use a Client from
/// one thread at a time; separate Clients may be used from separate threads. A Client remembers
/// failed credentials and accounts (cooldowns) and round-robin positions across its requests.
///
/// Completion: every submit() gets exactly one `on_done` (unless the Client is destroyed first),
/// after the last event of its run, always called from the loop (never from inside submit(),
/// cancel() or pause()). A throwing
/// `on_event` cancels its run, which then fails with harness_error naming the exception; a
/// throwing `on_done` is logged and changes nothing else. A run the loop can no longer complete
/// (no transport delivered its Result) fails with harness_error, never reads as a success.
/// Blocking calls (wait, run, stream) from inside an event or completion handler of the same
/// Client abort the program with a message: submit from there instead.
class Client {
 public:
  explicit Client(Config config);
  /// Runs still pending are stopped (their processes killed) without calling their handlers:
  /// wait() first to have their Results.
  ~Client();
  Client(Client&&) noexcept;
  /// The runs still pending in the Client assigned to are stopped as by the destructor.
  Client& operator=(Client&&) noexcept;
  // A moved-from Client may only be destroyed or assigned to.

  const Config& config() const noexcept;

  /// Queues `request` and returns at once: it starts when the loop is next driven (wait, run,
  /// stream). `on_event` gets its events in order, `on_done` its Result (see Completion above).
  RunHandle submit(RunRequest request, EventHandler on_event = {}, DoneHandler on_done = {});
  /// Drives the loop until every submitted run has delivered its Result, including runs
  /// submitted from handlers meanwhile.
  void wait();
  /// Runs submitted and not yet delivered.
  size_t pending() const noexcept;

  /// Calls `fire` once on the loop `ms` milliseconds from now (a back-off before submitting
  /// again, a progress tick). wait() keeps driving the loop until every such timer has fired or
  /// been dropped. Returns an id for cancel_timer(). Callable from handlers; an exception from
  /// `fire` is logged.
  uint64_t post_after(int64_t ms, std::function<void()> fire);
  /// Drops a post_after() timer that has not fired: false when it has fired or was dropped.
  bool cancel_timer(uint64_t id);

  /// Cancels every pending run, started or not: each ends with error `aborted` (its children
  /// get SIGTERM, then SIGKILL after a grace period). Idempotent; callable from handlers.
  void cancel_all();
  /// Sends SIGKILL to every child process group of the pending runs at once (no grace, e.g. on
  /// a second Ctrl-C); the runs then complete as their transports report.
  void kill_all();
  /// Calls `handler(signum)` on the loop for each of the signals that end a process by default
  /// and can be caught (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, …; not SIGPIPE) instead of
  /// letting them end the program. The watchers do not keep the loop alive; a second call
  /// replaces the handler; they are removed when the Client goes.
  void watch_termination_signals(std::function<void(int)> handler);
  /// When stdout is a pipe: calls `handler` on the loop once its reader is gone, so that runs
  /// can stop before they have anything more to write. Does not keep the loop alive. False
  /// (nothing watched) when stdout is not a pipe or is watched already.
  bool watch_stdout_reader(std::function<void()> handler);

  /// Client-wide fan-out limits (README "Fan-out limits"), field by field over the config's
  /// top-level `fanout`. Applies to runs that start a try after the call.
  void set_fanout(FanoutLimits limits);
  /// ACP routes: keep up to `max_agents` agent processes per route alive between runs and give
  /// each run a fresh session on an idle one (README "Warm agent pools"). 0 (the default): every
  /// run spawns its own agent and shuts it down. Runs with a session id to resume, a transcript,
  /// or a route whose fanout.maxConcurrency is 1 use at most one agent.
  void keep_agents_warm(size_t max_agents);

  /// Runs `request` and returns its Result (never throws for run failures: see Result::error).
  /// Other pending runs make progress meanwhile and may stay pending.
  Result run(const RunRequest& request);
  /// Same, delivering each Event to `on_event` as it happens.
  Result stream(const RunRequest& request, const EventHandler& on_event);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The route of a zero-config start: a built-in harness preset found on PATH.
struct ZeroConfigRoute {
  std::string route;    ///< the preset's name, usable as RunRequest::route
  std::string command;  ///< the harness command found on PATH
};

/// Which route to use when `config` defines no route of its own and names no default route:
/// the first harness installed, in a fixed order of preference (claude-cli, codex-cli, pi-cli,
/// opencode-cli). nullopt when none of their commands is on PATH.
std::optional<ZeroConfigRoute> zero_config_route(const Config& config);

}  // namespace drover
