#include "staging/session_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <uv.h>

#include "src/loop.h"

namespace drover {
namespace {

constexpr uint64_t kRetryMs = 25;

// FNV-1a: a stable file name for any session id (ids may hold characters a path cannot).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct Waiter {
  Loop* loop;
  int fd;
  uv_timer_t timer;
  uint64_t hook = 0;
  std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready;

  void finish(std::optional<Error> error) {
    if (hook) loop->remove_stop_hook(hook);
    hook = 0;
    uv_timer_stop(&timer);
    auto done = std::move(on_ready);
    std::optional<SessionLock> lock;
    if (error) {
      ::close(fd);
    } else {
      lock.emplace(fd);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer),
             [](uv_handle_t* h) { delete static_cast<Waiter*>(h->data); });
    if (done) done(std::move(lock), std::move(error));
  }
};

}  // namespace

SessionLock::~SessionLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

std::string session_lock_path(const std::string& scope, const std::string& session_id) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string dir = std::string(runtime && *runtime ? runtime : "/tmp") + "/drover-" +
                    std::to_string(::getuid());
  ::mkdir(dir.c_str(), 0700);
  dir += "/sessions";
  ::mkdir(dir.c_str(), 0700);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.lock",
                static_cast<unsigned long long>(fnv1a(scope + "\n" + session_id)));
  return dir + "/" + name;
}

void acquire_session_lock(Loop& loop, const std::string& scope, const std::string& session_id,
                          std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready) {
  const std::string path = session_lock_path(scope, session_id);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    on_ready(std::nullopt, Error::make(ErrorCode::harness_error,
                                       "cannot open the session lock " + path + ": " +
                                           std::strerror(errno)));
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    on_ready(SessionLock(fd), std::nullopt);
    return;
  }
  // Someone else runs this session now: try again on a timer, never blocking the loop.
  auto* waiter = new Waiter{&loop, fd, {}, 0, std::move(on_ready)};
  uv_timer_init(loop.uv(), &waiter->timer);
  waiter->timer.data = waiter;
  uv_timer_start(
      &waiter->timer,
      [](uv_timer_t* t) {
        auto* w = static_cast<Waiter*>(t->data);
        if (::flock(w->fd, LOCK_EX | LOCK_NB) == 0) w->finish(std::nullopt);
      },
      kRetryMs, kRetryMs);
  waiter->hook = loop.add_stop_hook([waiter](StopCause) {
    waiter->finish(Error::make(ErrorCode::aborted, "cancelled while waiting for the session"));
  });
}

}  // namespace drover
