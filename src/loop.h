// The one libuv loop: every child process, pipe, timer and signal of drover lives on it.
#pragma once

#include <sys/resource.h>

#include <functional>
#include <memory>
#include <vector>

#include <uv.h>

#include "drover/result.h"

namespace drover {

class Process;

/// Owns the uv_loop_t, the registry of live child processes and the signal watchers.
/// Not copyable or movable: libuv keeps pointers into it. Single-threaded: every method is
/// called on the thread that runs the loop.
class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* uv() noexcept { return &loop_; }

  /// Runs until no referenced handle is left (every run finished). Never call from a callback.
  void run();

  /// Watches SIGINT and SIGTERM (and SIGHUP) for the CLI: `handler(signum)` runs on the loop.
  /// The watchers do not keep the loop alive.
  void watch_termination_signals(std::function<void(int)> handler);

  /// Stops every live child group (SIGTERM, grace, SIGKILL), recording `cause`. Idempotent.
  void stop_all(StopCause cause);
  /// Sends SIGKILL to every live child group at once (a second Ctrl-C).
  void kill_all();
  size_t live_processes() const noexcept { return processes_.size(); }

  // Process registry (used by Process itself).
  void register_process(Process* process);
  void unregister_process(Process* process);

 private:
  static void on_sigchld(uv_signal_t* handle, int signum) noexcept;
  static void on_termination(uv_signal_t* handle, int signum) noexcept;

  // Declared before loop_ on purpose: libuv delivers one signal to its watchers in address
  // order, and its own SIGCHLD watcher (which reaps children) lives inside uv_loop_t. Sitting
  // at a lower address, this watcher sees every exited child while it is still a zombie and
  // can read its resource usage with waitid(WNOWAIT) before libuv reaps it.
  uv_signal_t sigchld_watcher_;
  uv_loop_t loop_;
  std::vector<uv_signal_t*> termination_watchers_;
  std::function<void(int)> termination_handler_;
  std::vector<Process*> processes_;
};

}  // namespace drover
