// The one libuv loop: every child process, pipe, timer and signal of drover lives on it.
#pragma once

#include <sys/resource.h>

#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "drover/result.h"

namespace drover {

class Process;

namespace detail {
/// Logs that the callback `where` threw `what` (spdlog, error level). Never throws.
void log_callback_failure(const char* where, const char* what) noexcept;
template <class Fail>
void callback_failed(const char* where, const char* what, Fail& fail) noexcept {
  log_callback_failure(where, what);
  try {
    fail(std::string(where) + " threw: " + what);
  } catch (...) {
    log_callback_failure(where, "and so did the handler of its failure");
  }
}
}  // namespace detail

/// The body of every libuv callback: runs `work`, and when it throws logs `where` with the
/// exception's message and hands `fail` the message "<where> threw: <what>" so that the owner
/// can fail its run. Never lets an exception reach libuv's C frames.
template <class Work, class Fail>
void guarded(const char* where, Work&& work, Fail&& fail) noexcept {
  try {
    std::forward<Work>(work)();
  } catch (const std::exception& e) {
    detail::callback_failed(where, e.what(), fail);
  } catch (...) {
    detail::callback_failed(where, "an exception that is not a std::exception", fail);
  }
}

/// Same, for a callback without an owner to fail: the exception is logged.
template <class Work>
void guarded(const char* where, Work&& work) noexcept {
  guarded(where, std::forward<Work>(work), [](const std::string&) {});
}

/// The signals that end a process by default and can be caught and handled later on the loop:
/// HUP, INT, QUIT, TERM, USR1, USR2, ALRM, VTALRM, PROF, IO, PWR, XCPU, XFSZ, STKFLT and the
/// real-time signals. SIGPIPE is not among them (drover ignores it and sees EPIPE instead).
std::vector<int> termination_signals();

/// Something long-lived that lives on a Loop (the HTTP client): created on first use, stopped
/// with the children by stop_all(), destroyed before the loop closes.
class LoopService {
 public:
  virtual ~LoopService() = default;
  /// Cancels whatever is in flight (SIGINT, shutdown). Idempotent.
  virtual void stop_all(StopCause cause) = 0;
};

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

  /// Runs until no referenced handle is left (every run finished). Called while the loop is
  /// already running (from one of its callbacks: a blocking Client::run, Client::wait or
  /// Session::prompt in an event or completion handler) it aborts the program with a message:
  /// re-entering the loop would run other callbacks in the middle of the calling one.
  void run();
  /// Runs until `done()` holds (checked after each loop iteration) or nothing is left to run.
  /// Refused from inside a callback like run().
  void run_until(const std::function<bool()>& done);
  /// Whether run(), run_until() or the destructor is driving the loop right now.
  bool running() const noexcept { return running_; }

  /// Runs `work` on the loop soon, after the current callback has returned: how completions
  /// are delivered, never from inside the call that started the run. Posted work runs in order
  /// and keeps the loop alive until it has run. Callable from loop callbacks only (one thread).
  void post(std::function<void()> work);

  /// Watches every termination_signals() signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, …)
  /// for the CLI: `handler(signum)` runs on the loop. The watchers do not keep the loop alive.
  void watch_termination_signals(std::function<void(int)> handler);

  /// When stdout is a pipe: calls `handler` on the loop once its reader is gone (the pipe
  /// reports an error), so a run can stop before it has anything more to write. Does not keep
  /// the loop alive. False (and nothing watched) when stdout is not a pipe.
  bool watch_stdout_reader(std::function<void()> handler);

  /// Stops every live child group (SIGTERM, grace, SIGKILL), recording `cause`. Idempotent.
  void stop_all(StopCause cause);
  /// Sends SIGKILL to every live child group at once (a second Ctrl-C).
  void kill_all();
  size_t live_processes() const noexcept { return processes_.size(); }

  /// Calls `hook(cause)` from stop_all() until removed (work that waits on a timer rather than
  /// a process, e.g. a retry back-off). Returns an id for remove_stop_hook.
  uint64_t add_stop_hook(std::function<void(StopCause)> hook);
  void remove_stop_hook(uint64_t id);

  /// The service stored under `key`, or nullptr.
  LoopService* service(std::string_view key) const noexcept;
  /// Stores `service` under `key` (replacing nothing: the first one stays) and returns it.
  LoopService* add_service(std::string key, std::unique_ptr<LoopService> service);

  // Process registry (used by Process itself).
  void register_process(Process* process);
  void unregister_process(Process* process);

 private:
  static void on_sigchld(uv_signal_t* handle, int signum) noexcept;
  static void on_termination(uv_signal_t* handle, int signum) noexcept;
  static void on_stdout_event(uv_poll_t* handle, int status, int events) noexcept;
  static void on_posted(uv_idle_t* handle) noexcept;
  /// Aborts with a clear message when the loop is already running; else marks it running.
  void enter(const char* what);

  // Declared before loop_ on purpose: libuv delivers one signal to its watchers in address
  // order, and its own SIGCHLD watcher (which reaps children) lives inside uv_loop_t. Sitting
  // at a lower address, this watcher sees every exited child while it is still a zombie and
  // can read its resource usage with waitid(WNOWAIT) before libuv reaps it.
  uv_signal_t sigchld_watcher_;
  uv_loop_t loop_;
  uv_idle_t posted_idle_;  // active while posted_ holds work
  std::deque<std::function<void()>> posted_;
  std::vector<uv_signal_t*> termination_watchers_;
  std::function<void(int)> termination_handler_;
  uv_poll_t* stdout_watcher_ = nullptr;
  std::function<void()> stdout_handler_;
  std::vector<Process*> processes_;
  std::vector<std::pair<std::string, std::unique_ptr<LoopService>>> services_;
  std::vector<std::pair<uint64_t, std::function<void(StopCause)>>> stop_hooks_;
  uint64_t next_hook_id_ = 1;
  bool running_ = false;
};

/// A timer on the loop, owned by one object. The uv handle lives on the heap and is freed in its
/// close callback, so a LoopTimer may be destroyed at any time, from its own callback too.
class LoopTimer {
 public:
  explicit LoopTimer(Loop& loop);
  ~LoopTimer();
  LoopTimer(const LoopTimer&) = delete;
  LoopTimer& operator=(const LoopTimer&) = delete;

  /// (Re)starts the timer: `fire` runs once after `ms` milliseconds on the loop.
  void start(int64_t ms, std::function<void()> fire);
  void stop() noexcept;
  bool active() const noexcept;

 private:
  struct State {
    uv_timer_t handle;
    std::function<void()> fire;
  };
  static void on_fire(uv_timer_t* handle) noexcept;
  State* state_;
};

}  // namespace drover
