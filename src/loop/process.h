// Supervised child processes: spawn in a new process group, pipes, watchdogs, stop policy,
// bounded drain after exit, OS accounting.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "drover/result.h"
#include "drover/watchdog.h"

namespace drover {

class Loop;

struct SpawnOptions {
  std::string file;                ///< executable path (already resolved)
  std::vector<std::string> args;   ///< full argv, argv[0] included
  std::string cwd;                 ///< explicit working directory
  std::vector<std::string> env;    ///< the child's whole environment, "NAME=value"
  /// Written to the child's stdin, which is then closed. nullopt: stdin is /dev/null.
  std::optional<std::string> stdin_data;
  /// stdin stays an open pipe for write_stdin() until close_stdin() (long-lived protocols such
  /// as ACP); stdin_data is then ignored.
  bool interactive_stdin = false;
  /// Loop::stop_all() leaves this process to its owner's stop hook, which ends it gracefully
  /// (a protocol-level cancel first); Loop::kill_all() still kills it at once.
  bool owner_stops = false;
  WatchdogSpec watchdog;
  uint64_t max_output_bytes = 16ull << 20;  ///< per stream kept in memory (the tail beyond it)
  /// Set when a parser consumes stdout as it arrives (print mode, ACP): the outcome then keeps
  /// only this much of stdout's tail, for error messages, instead of a second copy of up to
  /// max_output_bytes. Truncation is still reported against max_output_bytes.
  std::optional<uint64_t> stdout_kept_bytes;
  /// After the run, SIGKILL whatever is left in the child's process group (daemons and
  /// grandchildren the harness left behind).
  bool kill_leftovers = true;
  /// stdout bytes do not re-arm the idle watchdog: the owner calls Process::note_activity() for
  /// the output that shows the child at work (print mode: not a harness's progress notices).
  /// The first byte still arms it when the start timeout ends; stderr re-arms it as before.
  bool stdout_activity_by_owner = false;
};

/// Everything known once a process run is over.
struct ProcessOutcome {
  ProcessInfo info;
  std::string stdout_tail;  ///< at most max_output_bytes (the tail)
  std::string stderr_tail;
  std::vector<std::string> warnings;  ///< truncation, EPIPE on stdin, pipes held open
  /// Set when one of the owner's callbacks (on_stdout, on_stderr) or drover's own handling of
  /// the process threw: the child was stopped early and the run must fail with this error
  /// (harness_error, naming the exception), whatever the exit status says.
  std::optional<Error> error;
};

struct ProcessCallbacks {
  std::function<void(std::string_view)> on_stdout;  ///< every chunk, in order
  std::function<void(std::string_view)> on_stderr;
  /// Runs once, after the child exited, both pipes reached EOF (or the drain limit passed) and
  /// every handle is closed. The Process is destroyed right after it returns.
  std::function<void(ProcessOutcome&&)> on_complete;
};

/// One child process on the loop. Owned by itself and registered with the Loop: it deletes
/// itself after on_complete, so a Process* is valid only until then.
class Process {
 public:
  /// Spawns `options`. On failure returns nullptr and sets `error` (not_found for a missing or
  /// non-executable file, validation_error for an argument or environment entry with a NUL
  /// byte); no callback runs and nothing is left open. The child gets SIGKILL from the kernel
  /// when the calling thread ends (PR_SET_PDEATHSIG), so it never outlives a killed drover.
  static Process* start(Loop& loop, SpawnOptions options, ProcessCallbacks callbacks,
                        Error& error);

  /// SIGTERM to the whole group, then SIGKILL after the grace period. Idempotent: the first
  /// cause is the one recorded. StopCause::none stops without recording a cause (the ordinary
  /// end of a long-lived child whose work is done).
  void stop(StopCause cause);
  /// SIGKILL to the whole group now.
  void kill();
  /// Re-arms the idle watchdog, as output does (SpawnOptions::stdout_activity_by_owner). Does
  /// nothing once the child has exited or before the idle watchdog runs.
  void note_activity();

  /// Queues `data` for the child's stdin (interactive_stdin). Writes go out in order; false when
  /// stdin is closed or a write already failed (the child closed its end: a warning says so).
  bool write_stdin(std::string data);
  /// Closes stdin once the queued writes are out: the child reads EOF. Idempotent.
  void close_stdin();
  /// Bytes queued for stdin and not yet written.
  size_t stdin_queued_bytes() const noexcept { return stdin_queued_; }

  int64_t pid() const noexcept { return info_.pid; }
  bool owner_stops() const noexcept { return options_.owner_stops; }
  bool exited() const noexcept { return exited_; }

  /// Resource usage read from the zombie before libuv reaps it (see Loop::on_sigchld).
  void record_rusage(const struct rusage& usage) noexcept;

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

 private:
  struct Pipe {
    uv_pipe_t handle;
    bool is_stdout = false;
    bool eof = false;
    std::string capture;  ///< kept output (tail beyond the cap)
    bool truncated = false;
    char buffer[65536];
  };

  Process(Loop& loop, SpawnOptions options, ProcessCallbacks callbacks);
  ~Process();

  static void on_exit(uv_process_t* handle, int64_t exit_status, int term_signal) noexcept;
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_stdin_written(uv_write_t* req, int status) noexcept;
  static void on_stdin_chunk_written(uv_write_t* req, int status) noexcept;
  static void on_stdin_shutdown(uv_shutdown_t* req, int status) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;
  void handle_exit(int64_t exit_status, int term_signal);
  void timer_fired(uv_timer_t* timer);
  /// A callback threw (`message` names it): no more output callbacks, the child is stopped, the
  /// outcome carries the error.
  void callback_failed(const std::string& message);

  Pipe& pipe_of(uv_handle_t* handle) noexcept;
  std::array<uv_timer_t*, 5> all_timers() noexcept {
    return {&start_timer_, &idle_timer_, &total_timer_, &kill_timer_, &drain_timer_};
  }
  void handle_output(Pipe& pipe, std::string_view chunk);
  uint64_t kept_bytes(const Pipe& pipe) const;
  void pipe_done(Pipe& pipe);
  void signal_group(int signum);
  void arm(uv_timer_t& timer, int64_t ms);
  void maybe_finish();
  void close_handle(uv_handle_t* handle);
  void finished_closing();
  double elapsed_ms() const noexcept;

  Loop& loop_;
  SpawnOptions options_;
  ProcessCallbacks callbacks_;
  ProcessInfo info_;
  std::vector<std::string> warnings_;

  uv_process_t process_{};
  Pipe out_;
  Pipe err_;
  uv_pipe_t in_{};
  bool in_open_ = false;
  uv_write_t stdin_write_{};
  uv_shutdown_t stdin_shutdown_{};
  bool stdin_closing_ = false;   ///< close_stdin() was called
  bool stdin_failed_ = false;    ///< a write failed: nothing more is sent
  size_t stdin_queued_ = 0;
  uv_timer_t start_timer_{};
  uv_timer_t idle_timer_{};
  uv_timer_t total_timer_{};
  uv_timer_t kill_timer_{};   ///< grace period after SIGTERM
  uv_timer_t drain_timer_{};  ///< bound on pipes staying open after exit

  uint64_t spawned_at_ = 0;  ///< uv_hrtime()
  bool exited_ = false;
  bool stopping_ = false;
  bool idle_started_ = false;  ///< the idle watchdog was armed once (start timeout over)
  bool finishing_ = false;
  bool got_rusage_ = false;
  struct rusage rusage_{};
  int open_handles_ = 0;
  std::string evidence_;  ///< interleaved stdout+stderr tail (4 KiB)
  std::optional<Error> failure_;  ///< the first callback failure (ProcessOutcome::error)
};

/// Cuts `text` to its last `max_lines` lines and `max_bytes` bytes (on a UTF-8 boundary).
std::string tail_lines(std::string_view text, size_t max_lines, size_t max_bytes);

}  // namespace drover
