#include "src/loop/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>

#include "src/loop/loop.h"

namespace drover {
namespace {

constexpr size_t kEvidenceBytes = 4096;
constexpr size_t kEvidenceLines = 20;

std::string human_bytes(uint64_t n) {
  if (n >= (1ull << 20) && n % (1ull << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1ull << 10) && n % (1ull << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// libuv closes only its own descriptors in the child; anything else the embedding program opened
// without O_CLOEXEC would leak into the harness. Mark every descriptor above stderr
// close-on-exec first: one close_range() call, or a /proc/self/fd walk where it is missing.
void mark_descriptors_cloexec() {
#ifdef CLOSE_RANGE_CLOEXEC
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int self_fd = ::dirfd(dir);
    while (dirent* entry = ::readdir(dir)) {
      int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != self_fd) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    ::closedir(dir);
  }
}

// The harness must not outlive drover, even when drover is killed with SIGKILL and has no
// chance to stop it: the kernel sends it SIGKILL when the thread that spawned it ends
// (PR_SET_PDEATHSIG, kept across execve). The flag has to be set in the child between fork and
// exec, and uv_spawn offers no hook there; but libuv forks with the C library's fork(), which
// runs pthread_atfork child handlers in the new process. The handler acts only for forks made
// by Process::start (the flag below, per thread: the child is a copy of the forking thread) and
// uses async-signal-safe system calls only. If drover died before prctl() took effect, the
// parent is already someone else: the child then ends at once. The harness's own descendants
// are not covered (only the harness has drover as its parent); catchable signals stop the
// whole group instead (Loop::watch_termination_signals).
thread_local pid_t spawning_parent = 0;

void set_parent_death_signal_in_child() noexcept {
  if (spawning_parent == 0) return;
  // A prctl() refused (a seccomp sandbox) leaves the harness to the group kill rather than
  // failing every spawn.
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != spawning_parent) ::_exit(127);
}

void install_parent_death_hook() {
  static const int installed = ::pthread_atfork(nullptr, nullptr, &set_parent_death_signal_in_child);
  (void)installed;
}

// A NUL byte would silently cut an argument or an environment entry short at execve().
bool has_nul(const std::vector<std::string>& strings) {
  return std::any_of(strings.begin(), strings.end(),
                     [](const std::string& s) { return s.find('\0') != std::string::npos; });
}

double timeval_ms(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
}

}  // namespace

std::string tail_lines(std::string_view text, size_t max_lines, size_t max_bytes) {
  if (text.size() > max_bytes) {
    text.remove_prefix(text.size() - max_bytes);
    // Do not start in the middle of a UTF-8 sequence.
    while (!text.empty() && (static_cast<unsigned char>(text.front()) & 0xC0) == 0x80)
      text.remove_prefix(1);
  }
  std::string_view body = text;
  while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  size_t lines = 0;
  size_t pos = body.size();
  while (pos > 0) {
    size_t nl = body.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) break;
    if (++lines == max_lines) {
      text.remove_prefix(nl + 1);
      break;
    }
    pos = nl;
  }
  return std::string(text);
}

Process::Process(Loop& loop, SpawnOptions options, ProcessCallbacks callbacks)
    : loop_(loop), options_(std::move(options)), callbacks_(std::move(callbacks)) {
  out_.is_stdout = true;
  process_.data = this;
  for (uv_timer_t* timer : all_timers()) {
    uv_timer_init(loop_.uv(), timer);
    timer->data = this;
    ++open_handles_;
  }
  for (Pipe* pipe : {&out_, &err_}) {
    uv_pipe_init(loop_.uv(), &pipe->handle, 0);
    pipe->handle.data = this;
    ++open_handles_;
  }
  if (options_.stdin_data || options_.interactive_stdin) {
    uv_pipe_init(loop_.uv(), &in_, 0);
    in_.data = this;
    in_open_ = true;
    ++open_handles_;
  }
}

Process::~Process() = default;

Process* Process::start(Loop& loop, SpawnOptions options, ProcessCallbacks callbacks,
                        Error& error) {
  if (has_nul(options.args) || has_nul(options.env)) {
    error = Error::make(ErrorCode::validation_error,
                        std::string("cannot run ") + options.file + ": " +
                            (has_nul(options.args) ? "an argument" : "an environment value") +
                            " contains a NUL byte");
    return nullptr;
  }
  auto* self = new Process(loop, std::move(options), std::move(callbacks));
  const SpawnOptions& opts = self->options_;

  std::vector<char*> argv;
  for (const auto& arg : opts.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : opts.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  if (self->in_open_) {
    stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
    stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&self->in_);
  } else {
    stdio[0].flags = UV_IGNORE;  // libuv opens /dev/null: the child reads EOF at once
  }
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&self->out_.handle);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&self->err_.handle);

  uv_process_options_t uv_opts{};
  uv_opts.exit_cb = &Process::on_exit;
  uv_opts.file = opts.file.c_str();
  uv_opts.args = argv.data();
  uv_opts.env = envp.data();
  uv_opts.cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();
  // A session of its own (setsid): the child leads a new process group that we signal as a
  // whole, and a Ctrl-C on the terminal reaches drover only, which then stops the group.
  uv_opts.flags = UV_PROCESS_DETACHED;
  uv_opts.stdio_count = 3;
  uv_opts.stdio = stdio;

  mark_descriptors_cloexec();
  install_parent_death_hook();
  self->spawned_at_ = uv_hrtime();
  spawning_parent = ::getpid();
  int rc = uv_spawn(loop.uv(), &self->process_, &uv_opts);
  spawning_parent = 0;
  ++self->open_handles_;  // the process handle must be closed whether or not spawn worked
  if (rc != 0) {
    std::string what = uv_strerror(rc);
    if (rc == UV_ENOENT || rc == UV_EACCES || rc == UV_ENOTDIR) {
      bool cwd_missing = !opts.cwd.empty() && ::access(opts.cwd.c_str(), X_OK) != 0;
      error = cwd_missing
                  ? Error::make(ErrorCode::config_error,
                                "working directory " + opts.cwd + " is not usable: " + what)
                  : Error::make(ErrorCode::not_found,
                                "cannot run " + opts.file + ": " + what);
    } else {
      error = Error::make(ErrorCode::harness_error, "cannot spawn " + opts.file + ": " + what);
    }
    // Nothing ran: tear down quietly; on_complete never fires for a failed spawn.
    self->callbacks_ = {};
    self->finishing_ = true;
    self->exited_ = true;
    self->close_handle(reinterpret_cast<uv_handle_t*>(&self->process_));
    self->close_handle(reinterpret_cast<uv_handle_t*>(&self->out_.handle));
    self->close_handle(reinterpret_cast<uv_handle_t*>(&self->err_.handle));
    if (self->in_open_) self->close_handle(reinterpret_cast<uv_handle_t*>(&self->in_));
    for (uv_timer_t* t : self->all_timers())
      self->close_handle(reinterpret_cast<uv_handle_t*>(t));
    return nullptr;
  }

  self->info_.pid = self->process_.pid;
  loop.register_process(self);

  // Read both streams before writing stdin: a child that floods stdout and stderr while we
  // block on its stdin would otherwise deadlock.
  for (Pipe* pipe : {&self->out_, &self->err_})
    uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe->handle), &Process::on_alloc,
                  &Process::on_read);
  if (self->in_open_ && !opts.interactive_stdin) {
    if (opts.stdin_data->empty()) {
      self->close_handle(reinterpret_cast<uv_handle_t*>(&self->in_));
    } else {
      uv_buf_t buf = uv_buf_init(const_cast<char*>(opts.stdin_data->data()),
                                 static_cast<unsigned>(opts.stdin_data->size()));
      self->stdin_write_.data = self;
      int wrc = uv_write(&self->stdin_write_, reinterpret_cast<uv_stream_t*>(&self->in_), &buf,
                         1, &Process::on_stdin_written);
      if (wrc != 0) {
        self->warnings_.push_back(std::string("could not write the prompt to stdin: ") +
                                  uv_strerror(wrc));
        self->close_handle(reinterpret_cast<uv_handle_t*>(&self->in_));
      }
    }
  }

  const WatchdogSpec& wd = opts.watchdog;
  if (wd.total_timeout_ms) self->arm(self->total_timer_, *wd.total_timeout_ms);
  if (wd.start_timeout_ms)
    self->arm(self->start_timer_, *wd.start_timeout_ms);
  else if (wd.idle_timeout_ms) {
    self->arm(self->idle_timer_, *wd.idle_timeout_ms);
    self->idle_started_ = true;
  }
  return self;
}

void Process::note_activity() {
  if (exited_ || stopping_ || !idle_started_ || !options_.watchdog.idle_timeout_ms) return;
  arm(idle_timer_, *options_.watchdog.idle_timeout_ms);
}

double Process::elapsed_ms() const noexcept {
  return static_cast<double>(uv_hrtime() - spawned_at_) / 1e6;
}

void Process::arm(uv_timer_t& timer, int64_t ms) {
  uv_timer_start(&timer, &Process::on_timer, static_cast<uint64_t>(std::max<int64_t>(ms, 0)), 0);
}

Process::Pipe& Process::pipe_of(uv_handle_t* handle) noexcept {
  return handle == reinterpret_cast<uv_handle_t*>(&out_.handle) ? out_ : err_;
}

void Process::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  Pipe& pipe = static_cast<Process*>(handle->data)->pipe_of(handle);
  *buf = uv_buf_init(pipe.buffer, sizeof pipe.buffer);
}

void Process::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Process*>(stream->data);
  guarded("reading the child's output", [&] {
    Pipe* pipe = &self->pipe_of(reinterpret_cast<uv_handle_t*>(stream));
    if (nread > 0) {
      self->handle_output(*pipe, std::string_view(buf->base, static_cast<size_t>(nread)));
    } else if (nread < 0) {
      if (nread != UV_EOF)
        self->warnings_.push_back(std::string(pipe->is_stdout ? "stdout" : "stderr") +
                                  " read failed: " + uv_strerror(static_cast<int>(nread)));
      self->pipe_done(*pipe);
    }
    // nread == 0 is EAGAIN, not EOF.
  }, [self](const std::string& message) { self->callback_failed(message); });
}

uint64_t Process::kept_bytes(const Pipe& pipe) const {
  const uint64_t cap = std::max<uint64_t>(options_.max_output_bytes, 1);
  if (!pipe.is_stdout || !options_.stdout_kept_bytes) return cap;
  return std::clamp<uint64_t>(*options_.stdout_kept_bytes, 1, cap);
}

void Process::handle_output(Pipe& pipe, std::string_view chunk) {
  if (!info_.first_byte_ms) {
    info_.first_byte_ms = elapsed_ms();
    uv_timer_stop(&start_timer_);
  }
  if (!exited_ && options_.watchdog.idle_timeout_ms) {
    // Left to the owner, stdout only starts the idle watchdog (after the start timeout).
    const bool owner_decides = pipe.is_stdout && options_.stdout_activity_by_owner;
    if (!owner_decides || !idle_started_) arm(idle_timer_, *options_.watchdog.idle_timeout_ms);
    idle_started_ = true;
  }

  (pipe.is_stdout ? info_.stdout_bytes : info_.stderr_bytes) += chunk.size();

  const uint64_t cap = std::max<uint64_t>(options_.max_output_bytes, 1);
  const uint64_t kept = kept_bytes(pipe);
  // Its final capacity at once, not by reallocations that leave freed buffers resident.
  if (pipe.capture.empty() && kept <= (256u << 20))
    pipe.capture.reserve(kept + kept / 16 + sizeof pipe.buffer);
  pipe.capture.append(chunk);
  if ((pipe.is_stdout ? info_.stdout_bytes : info_.stderr_bytes) > cap && !pipe.truncated) {
    pipe.truncated = true;
    warnings_.push_back(std::string(pipe.is_stdout ? "stdout" : "stderr") + " exceeded " +
                        human_bytes(cap) + "; only the last " + human_bytes(cap) +
                        " were kept");
  }
  // Trim in batches so a long stream costs amortized O(1) per byte.
  if (pipe.capture.size() > kept + kept / 16) pipe.capture.erase(0, pipe.capture.size() - kept);
  evidence_.append(chunk);
  if (evidence_.size() > 2 * kEvidenceBytes) evidence_.erase(0, evidence_.size() - kEvidenceBytes);

  auto& callback = pipe.is_stdout ? callbacks_.on_stdout : callbacks_.on_stderr;
  if (!callback) return;
  guarded(pipe.is_stdout ? "the stdout callback" : "the stderr callback", [&] { callback(chunk); },
          [this](const std::string& message) { callback_failed(message); });
}

void Process::callback_failed(const std::string& message) {
  // The owner's state is unknown after its callback threw: it gets no more output, the child is
  // stopped, and the outcome carries the failure for the owner to end its run with.
  if (!failure_) failure_ = Error::make(ErrorCode::harness_error, message);
  callbacks_.on_stdout = nullptr;
  callbacks_.on_stderr = nullptr;
  warnings_.push_back(message + "; the process was stopped");
  stop(StopCause::none);
}

void Process::pipe_done(Pipe& pipe) {
  if (pipe.eof) return;
  pipe.eof = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe.handle));
  close_handle(reinterpret_cast<uv_handle_t*>(&pipe.handle));
  maybe_finish();
}

void Process::on_stdin_written(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<Process*>(req->data);
  guarded("writing the child's stdin", [&] {
    if (status < 0 && status != UV_ECANCELED) {
      self->warnings_.push_back(
          status == UV_EPIPE
              ? std::string("the harness closed stdin before reading the whole prompt (EPIPE)")
              : std::string("writing the prompt to stdin failed: ") + uv_strerror(status));
    }
    if (self->in_open_) self->close_handle(reinterpret_cast<uv_handle_t*>(&self->in_));
  }, [self](const std::string& message) { self->callback_failed(message); });
}

namespace {
struct StdinChunk {
  uv_write_t req;
  Process* owner;
  std::string data;
};
}  // namespace

bool Process::write_stdin(std::string data) {
  if (!in_open_ || stdin_closing_ || stdin_failed_ || finishing_) return false;
  if (data.empty()) return true;
  auto* chunk = new StdinChunk{{}, this, std::move(data)};
  chunk->req.data = chunk;
  uv_buf_t buf = uv_buf_init(chunk->data.data(), static_cast<unsigned>(chunk->data.size()));
  int rc = uv_write(&chunk->req, reinterpret_cast<uv_stream_t*>(&in_), &buf, 1,
                    &Process::on_stdin_chunk_written);
  if (rc != 0) {
    delete chunk;
    stdin_failed_ = true;
    warnings_.push_back(std::string("writing to the harness's stdin failed: ") + uv_strerror(rc));
    return false;
  }
  stdin_queued_ += buf.len;
  return true;
}

void Process::on_stdin_chunk_written(uv_write_t* req, int status) noexcept {
  std::unique_ptr<StdinChunk> chunk(static_cast<StdinChunk*>(req->data));
  Process* self = chunk->owner;
  guarded("writing the child's stdin", [&] {
    self->stdin_queued_ -= chunk->data.size();
    if (status < 0 && status != UV_ECANCELED && !self->stdin_failed_) {
      self->stdin_failed_ = true;
      self->warnings_.push_back(status == UV_EPIPE
                                    ? std::string("the harness closed its stdin (EPIPE)")
                                    : std::string("writing to the harness's stdin failed: ") +
                                          uv_strerror(status));
    }
  }, [self](const std::string& message) { self->callback_failed(message); });
}

void Process::close_stdin() {
  if (!in_open_ || stdin_closing_) return;
  stdin_closing_ = true;
  stdin_shutdown_.data = this;
  // shutdown waits for the queued writes, then the child reads EOF.
  if (uv_shutdown(&stdin_shutdown_, reinterpret_cast<uv_stream_t*>(&in_),
                  &Process::on_stdin_shutdown) != 0)
    close_handle(reinterpret_cast<uv_handle_t*>(&in_));
}

void Process::on_stdin_shutdown(uv_shutdown_t* req, int /*status*/) noexcept {
  auto* self = static_cast<Process*>(req->data);
  guarded("closing the child's stdin", [&] {
    if (self->in_open_) self->close_handle(reinterpret_cast<uv_handle_t*>(&self->in_));
  });
}

void Process::on_exit(uv_process_t* handle, int64_t exit_status, int term_signal) noexcept {
  auto* self = static_cast<Process*>(handle->data);
  guarded("the child's exit", [&] { self->handle_exit(exit_status, term_signal); },
          [self](const std::string& message) { self->callback_failed(message); });
}

void Process::handle_exit(int64_t exit_status, int term_signal) {
  exited_ = true;
  info_.wall_ms = elapsed_ms();
  if (term_signal != 0)
    info_.term_signal = term_signal;
  else
    info_.exit_code = static_cast<int>(exit_status);
  for (uv_timer_t* t : {&start_timer_, &idle_timer_, &total_timer_}) uv_timer_stop(t);
  if (!(out_.eof && err_.eof)) arm(drain_timer_, options_.watchdog.drain_ms);
  maybe_finish();
}

void Process::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Process*>(timer->data);
  guarded("a process watchdog", [&] { self->timer_fired(timer); },
          [self](const std::string& message) { self->callback_failed(message); });
}

void Process::timer_fired(uv_timer_t* timer) {
  if (timer == &start_timer_) {
    stop(StopCause::start_timeout);
  } else if (timer == &idle_timer_) {
    stop(StopCause::idle_timeout);
  } else if (timer == &total_timer_) {
    stop(StopCause::total_timeout);
  } else if (timer == &kill_timer_) {
    signal_group(SIGKILL);
  } else if (timer == &drain_timer_) {
    // The child is gone but something (a descendant) still holds its stdout or stderr.
    // Stop waiting: kill what is left of the group and close our ends.
    info_.output_held_open = true;
    warnings_.push_back("output pipes stayed open " + std::to_string(options_.watchdog.drain_ms) +
                        " ms after the harness exited (a descendant kept them); closed");
    signal_group(SIGKILL);
    for (Pipe* pipe : {&out_, &err_}) pipe_done(*pipe);
  }
}

void Process::stop(StopCause cause) {
  if (finishing_ || stopping_) return;
  stopping_ = true;
  if (cause != StopCause::none) info_.stopped_by = cause;
  if (exited_) {
    // Only descendants holding the pipes are left; no grace is owed to them.
    signal_group(SIGKILL);
    return;
  }
  signal_group(SIGTERM);
  arm(kill_timer_, options_.watchdog.grace_ms);
}

void Process::kill() {
  if (finishing_) return;
  if (!stopping_) {
    stopping_ = true;
    info_.stopped_by = StopCause::shutdown;
  }
  signal_group(SIGKILL);
}

void Process::signal_group(int signum) {
  // Never after the run finished: the group id may then belong to someone else.
  if (finishing_ || info_.pid <= 0) return;
  int rc = uv_kill(-static_cast<int>(info_.pid), signum);
  if (rc == 0) info_.stop_signal_sent = signum;
}

void Process::record_rusage(const struct rusage& usage) noexcept {
  rusage_ = usage;
  got_rusage_ = true;
}

void Process::maybe_finish() {
  if (finishing_ || !exited_ || !out_.eof || !err_.eof) return;
  if (options_.kill_leftovers && info_.pid > 0 && ::kill(-static_cast<pid_t>(info_.pid), 0) == 0) {
    // The harness exited but left members of its group running (daemons, tool processes).
    // The group id cannot be reused while any member lives, so this reaches only them.
    ::kill(-static_cast<pid_t>(info_.pid), SIGKILL);
    spdlog::debug("killed processes left in group {} after the harness exited", info_.pid);
  }
  finishing_ = true;
  loop_.unregister_process(this);
  if (in_open_) close_handle(reinterpret_cast<uv_handle_t*>(&in_));
  for (uv_timer_t* t : all_timers())
    close_handle(reinterpret_cast<uv_handle_t*>(t));
  close_handle(reinterpret_cast<uv_handle_t*>(&process_));
}

void Process::close_handle(uv_handle_t* handle) {
  if (uv_is_closing(handle)) return;
  if (handle == reinterpret_cast<uv_handle_t*>(&in_)) in_open_ = false;
  uv_close(handle, &Process::on_handle_closed);
}

void Process::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Process*>(handle->data);
  if (--self->open_handles_ == 0) guarded("a process completion", [self] { self->finished_closing(); });
}

void Process::finished_closing() {
  if (!callbacks_.on_complete) {
    delete this;
    return;
  }
  ProcessOutcome outcome;
  outcome.info = info_;
  if (got_rusage_) {
    outcome.info.cpu_user_ms = timeval_ms(rusage_.ru_utime);
    outcome.info.cpu_system_ms = timeval_ms(rusage_.ru_stime);
    outcome.info.peak_rss_kb = rusage_.ru_maxrss;  // kilobytes on Linux
  }
  outcome.info.stdout_truncated = out_.truncated;
  outcome.info.stderr_truncated = err_.truncated;
  bool failed = info_.stopped_by != StopCause::none || info_.term_signal ||
                (info_.exit_code && *info_.exit_code != 0);
  if (failed) outcome.info.evidence = tail_lines(evidence_, kEvidenceLines, kEvidenceBytes);
  for (Pipe* pipe : {&out_, &err_}) {
    const uint64_t kept = kept_bytes(*pipe);
    if (pipe->capture.size() > kept) pipe->capture.erase(0, pipe->capture.size() - kept);
  }
  outcome.stdout_tail = std::move(out_.capture);
  outcome.stderr_tail = std::move(err_.capture);
  outcome.warnings = std::move(warnings_);
  outcome.error = std::move(failure_);
  auto on_complete = std::move(callbacks_.on_complete);
  delete this;
  // Its owner has the run: nothing is left here to fail (an exception is logged by the guard).
  on_complete(std::move(outcome));
}

}  // namespace drover
