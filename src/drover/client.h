// The library's front door: one request in, one Result out, events on the way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

struct RunRequest {
  std::string prompt;
  std::string route;  ///< full or partial route id; empty: the default route
  std::optional<std::string> model;          ///< overrides the route's model
  std::optional<std::string> system_prompt;
  std::optional<std::string> cwd;            ///< overrides the route's working directory
  std::optional<std::string> session_id;     ///< resume this harness session
  std::vector<std::string> files;            ///< attachment paths
  /// Override the route's watchdogs (milliseconds); 0 switches that watchdog off.
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> idle_timeout_ms;
  std::optional<int64_t> start_timeout_ms;
  std::optional<ContextMode> context_mode;   ///< overrides the route's contextMode
  /// Overrides the route's `ephemeral`: true leaves no session files (no session id in the
  /// result), false keeps the session resumable even in clean mode.
  std::optional<bool> ephemeral;
  /// The permission policy of a harness run (print mode and ACP): overrides the ACP route's
  /// own; unset: that, else approve-reads. A route that cannot enforce it refuses the run.
  std::optional<PermissionPolicy> permissions;
  /// ACP routes: every JSON-RPC message both ways, as NDJSON, to this file (secrets redacted).
  std::optional<std::string> transcript_path;
  /// The caller consumes deltas as they come: print-mode routes with a streaming variant use it.
  bool stream = false;
};

struct RouterState;

/// Called for every event, in order, on the thread running the request.
using EventHandler = std::function<void(const Event&)>;
/// Called once with a submitted run's Result.
using DoneHandler = std::function<void(Result)>;

/// A submitted run (Client::submit, Session::submit). Copies refer to the same run; dropping
/// every copy does not stop it. Use from the thread that drives the run's loop.
class RunHandle {
 public:
  RunHandle() = default;
  /// Ends the run and discards it: its Result has error `aborted`. Does nothing once done.
  void cancel() const;
  /// Ends the run keeping the answer so far: its Result has the text until then, no error and
  /// `stopReason` "paused". Does nothing once done.
  void pause() const;
  /// Whether the run's Result has been delivered.
  bool done() const noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  struct State;  ///< private (src/run_handle.h)
  explicit RunHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

/// Runs requests against a validated Config on one event loop of its own, which lives as long
/// as the Client. Any number of runs may be in flight at once: submit() starts nothing by
/// itself, wait() (or run()/stream()) drives the loop on the calling thread. Use a Client from
/// one thread at a time; separate Clients may be used from separate threads. A Client remembers
/// failed credentials and accounts (cooldowns) and round-robin positions across its requests.
///
/// Completion: every submit() gets exactly one `on_done` (unless the Client is destroyed first),
/// after the last event of its run,
/// always called from the loop (never from inside submit(), cancel() or pause()). A throwing
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
