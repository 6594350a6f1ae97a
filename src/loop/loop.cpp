#include "src/loop/loop.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "src/loop/process.h"

namespace drover {
namespace {

// glibc's waitid() has no rusage argument; the system call does, and fills it even with
// WNOWAIT, which leaves the zombie for libuv to reap.
bool peek_rusage(pid_t pid, struct rusage& usage) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  long rc;
  do {
    rc = syscall(SYS_waitid, P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT, &usage);
  } while (rc == -1 && errno == EINTR);
  return rc == 0 && info.si_pid == pid;
}

void close_and_delete_signal(uv_handle_t* handle) {
  delete reinterpret_cast<uv_signal_t*>(handle);
}

// Marks the loop as no longer running when run() or run_until() returns.
struct Leave {
  bool& running;
  ~Leave() { running = false; }
};

}  // namespace

namespace detail {
void log_callback_failure(const char* where, const char* what) noexcept {
  try {
    spdlog::error("{} failed: {}", where, what);
  } catch (...) {
  }
}
}  // namespace detail

std::vector<int> termination_signals() {
  // Every signal whose default action ends the process and that arrives asynchronously. Not
  // SIGPIPE (ignored: a failed write is an error to handle), not the fault signals (SEGV, BUS,
  // ILL, FPE, TRAP, SYS: handling them later on the loop would re-run the faulting code), not
  // SIGKILL/SIGSTOP (cannot be caught).
  std::vector<int> signals{SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,   SIGUSR2, SIGALRM,
                           SIGVTALRM, SIGPROF, SIGIO, SIGPWR,  SIGXCPU, SIGXFSZ, SIGSTKFLT};
  for (int signum = SIGRTMIN; signum <= SIGRTMAX; ++signum) signals.push_back(signum);
  return signals;
}

Loop::Loop() {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    spdlog::critical("uv_loop_init failed: {}", uv_strerror(rc));
    std::abort();
  }
  uv_signal_init(&loop_, &sigchld_watcher_);
  sigchld_watcher_.data = this;
  uv_signal_start(&sigchld_watcher_, &Loop::on_sigchld, SIGCHLD);
  uv_unref(reinterpret_cast<uv_handle_t*>(&sigchld_watcher_));
  uv_idle_init(&loop_, &posted_idle_);
  posted_idle_.data = this;
}

void Loop::post(std::function<void()> work) {
  posted_.push_back(std::move(work));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&posted_idle_)))
    uv_idle_start(&posted_idle_, &Loop::on_posted);
}

void Loop::on_posted(uv_idle_t* handle) noexcept {
  auto* self = static_cast<Loop*>(handle->data);
  // Only what was posted before this iteration: work posting more work (a completion starting
  // the next run) waits for the next iteration, so the stack stays flat and I/O gets its turn.
  std::deque<std::function<void()>> batch;
  batch.swap(self->posted_);
  for (auto& work : batch) guarded("a posted callback", work);
  if (self->posted_.empty()) uv_idle_stop(&self->posted_idle_);
}

Loop::~Loop() {
  running_ = true;  // callbacks run below: a blocking call from one of them is refused too
  // Nothing may be left waiting (a retry back-off, an HTTP request), and children must be gone
  // before the loop closes, or they would be left unreaped. SIGKILL at once: no grace here.
  auto hooks = stop_hooks_;
  for (auto& [id, hook] : hooks) guarded("a stop hook", [&] { hook(StopCause::shutdown); });
  for (auto& [key, service] : services_)
    guarded("a loop service", [&] { service->stop_all(StopCause::shutdown); });
  if (!processes_.empty()) {
    kill_all();
    // Bounded: a child stuck in the kernel does not hold drover forever. The tick keeps each
    // iteration short, so the deadline is checked.
    auto* tick = new uv_timer_t;
    uv_timer_init(&loop_, tick);
    uv_timer_start(tick, [](uv_timer_t*) {}, 50, 50);
    const uint64_t deadline = uv_hrtime() + 10'000'000'000ull;
    while (!processes_.empty() && uv_hrtime() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(tick),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    if (!processes_.empty())
      spdlog::error("{} child process(es) did not end within 10 s of SIGKILL", processes_.size());
  }
  // Services close their handles in their destructors; let the close callbacks run.
  while (!services_.empty()) {
    services_.pop_back();
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  // Work posted but never run (the loop stopped early) is dropped with the loop.
  posted_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&posted_idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigchld_watcher_), nullptr);
  for (auto* watcher : termination_watchers_)
    uv_close(reinterpret_cast<uv_handle_t*>(watcher), close_and_delete_signal);
  if (stdout_watcher_ != nullptr)
    uv_close(reinterpret_cast<uv_handle_t*>(stdout_watcher_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  termination_watchers_.clear();
  // Bounded: close callbacks need at most a few iterations.
  int rc = uv_loop_close(&loop_);
  for (int i = 0; i < 1000 && rc == UV_EBUSY; ++i) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    rc = uv_loop_close(&loop_);
  }
  if (rc == UV_EBUSY) {
    // A handle whose owner never closed it: a leak, and its owner may still point at the loop.
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          spdlog::error("handle left open at exit: {}{}", uv_handle_type_name(handle->type),
                        uv_is_closing(handle) ? " (closing)" : "");
        },
        nullptr);
#ifndef NDEBUG
    std::fprintf(stderr, "drover: a libuv handle was left open when its loop was destroyed\n");
    std::abort();
#endif
  }
}

void Loop::enter(const char* what) {
  if (!running_) {
    running_ = true;
    return;
  }
  std::fprintf(stderr,
               "drover: %s called from inside a loop callback (a blocking call such as "
               "Client::run, Client::wait or Session::prompt made from an event or completion "
               "handler of the same loop); submit the work and return instead\n",
               what);
  std::abort();
}

void Loop::run() {
  enter("Loop::run");
  Leave leave{running_};
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::watch_termination_signals(std::function<void(int)> handler) {
  termination_handler_ = std::move(handler);
  if (!termination_watchers_.empty()) return;
  for (int signum : termination_signals()) {
    auto* watcher = new uv_signal_t;
    uv_signal_init(&loop_, watcher);
    watcher->data = this;
    uv_signal_start(watcher, &Loop::on_termination, signum);
    uv_unref(reinterpret_cast<uv_handle_t*>(watcher));
    termination_watchers_.push_back(watcher);
  }
}

bool Loop::watch_stdout_reader(std::function<void()> handler) {
  struct stat st;
  if (stdout_watcher_ != nullptr || ::fstat(STDOUT_FILENO, &st) != 0 || !S_ISFIFO(st.st_mode))
    return false;
  const int flags = ::fcntl(STDOUT_FILENO, F_GETFL);
  auto* watcher = new uv_poll_t;
  if (flags == -1 || uv_poll_init(&loop_, watcher, STDOUT_FILENO) != 0) {
    delete watcher;
    return false;
  }
  // uv_poll_init made the pipe non-blocking, for whoever shares it too; writes to stdout stay
  // blocking, and epoll watches the descriptor either way.
  ::fcntl(STDOUT_FILENO, F_SETFL, flags);
  watcher->data = this;
  stdout_watcher_ = watcher;
  stdout_handler_ = std::move(handler);
  // A pipe's write end reports an error (EPOLLERR, whatever was asked for) once no reader is
  // left; nothing else about it is watched.
  uv_poll_start(watcher, UV_DISCONNECT, &Loop::on_stdout_event);
  uv_unref(reinterpret_cast<uv_handle_t*>(watcher));
  return true;
}

void Loop::on_stdout_event(uv_poll_t* handle, int status, int events) noexcept {
  auto* self = static_cast<Loop*>(handle->data);
  if (status >= 0 && (events & UV_DISCONNECT) == 0) return;
  uv_poll_stop(handle);
  guarded("the stdout watcher", [&] {
    if (self->stdout_handler_) self->stdout_handler_();
  });
}

void Loop::on_termination(uv_signal_t* handle, int signum) noexcept {
  auto* self = static_cast<Loop*>(handle->data);
  guarded("the signal handler", [&] {
    if (self->termination_handler_) self->termination_handler_(signum);
  });
}

void Loop::on_sigchld(uv_signal_t* handle, int) noexcept {
  auto* self = static_cast<Loop*>(handle->data);
  guarded("the SIGCHLD watcher", [&] {
    for (Process* process : self->processes_) {
      if (process->exited()) continue;
      struct rusage usage;
      if (peek_rusage(static_cast<pid_t>(process->pid()), usage)) process->record_rusage(usage);
    }
  });
}

void Loop::run_until(const std::function<bool()>& done) {
  enter("Loop::run");
  Leave leave{running_};
  while (!done() && uv_run(&loop_, UV_RUN_ONCE) != 0) {
  }
}

void Loop::stop_all(StopCause cause) {
  // stop() never removes from the registry synchronously, but copy anyway: cheap and safe.
  auto live = processes_;
  for (Process* process : live)
    if (!process->owner_stops()) process->stop(cause);
  for (auto& [key, service] : services_) service->stop_all(cause);
  auto hooks = stop_hooks_;  // a hook may remove itself
  for (auto& [id, hook] : hooks) hook(cause);
}

uint64_t Loop::add_stop_hook(std::function<void(StopCause)> hook) {
  stop_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Loop::remove_stop_hook(uint64_t id) {
  stop_hooks_.erase(std::remove_if(stop_hooks_.begin(), stop_hooks_.end(),
                                   [id](const auto& h) { return h.first == id; }),
                    stop_hooks_.end());
}

LoopService* Loop::service(std::string_view key) const noexcept {
  for (const auto& [name, service] : services_)
    if (name == key) return service.get();
  return nullptr;
}

LoopService* Loop::add_service(std::string key, std::unique_ptr<LoopService> service) {
  if (LoopService* existing = this->service(key)) return existing;
  services_.emplace_back(std::move(key), std::move(service));
  return services_.back().second.get();
}

void Loop::kill_all() {
  auto live = processes_;
  for (Process* process : live) process->kill();
}

void Loop::register_process(Process* process) { processes_.push_back(process); }

void Loop::unregister_process(Process* process) {
  processes_.erase(std::remove(processes_.begin(), processes_.end(), process), processes_.end());
}

LoopTimer::LoopTimer(Loop& loop) : state_(new State{}) {
  uv_timer_init(loop.uv(), &state_->handle);
  state_->handle.data = state_;
}

LoopTimer::~LoopTimer() {
  uv_timer_stop(&state_->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&state_->handle), [](uv_handle_t* handle) {
    delete static_cast<State*>(handle->data);
  });
}

void LoopTimer::start(int64_t ms, std::function<void()> fire) {
  state_->fire = std::move(fire);
  // Timers count from the loop's cached clock, which is stale when the loop has been idle
  // (between the prompts of a Session): refresh it first.
  uv_update_time(state_->handle.loop);
  uv_timer_start(&state_->handle, &LoopTimer::on_fire, static_cast<uint64_t>(std::max<int64_t>(ms, 0)), 0);
}

void LoopTimer::stop() noexcept { uv_timer_stop(&state_->handle); }

bool LoopTimer::active() const noexcept {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&state_->handle)) != 0;
}

void LoopTimer::on_fire(uv_timer_t* handle) noexcept {
  // A copy: the callback may restart the timer (replacing `fire`) or destroy its owner.
  guarded("a timer callback", [&] {
    auto fire = static_cast<State*>(handle->data)->fire;
    if (fire) fire();
  });
}

}  // namespace drover
