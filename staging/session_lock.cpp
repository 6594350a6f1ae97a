#include "staging/session_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <uv.h>

#include "src/loop.h"

namespace drover {
namespace {

constexpr uint64_t kRetryMs = 25;
// A holder removes its file as it lets go; after that many replacements in a row, wait a tick.
constexpr int kMaxReopens = 8;

// FNV-1a: a stable file name for any session id (ids may hold characters a path cannot).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string lock_base_dir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  return std::string(runtime && *runtime ? runtime : "/tmp") + "/drover-" + std::to_string(::getuid());
}

Error lock_error(const std::string& what, const std::string& path) {
  return Error::make(ErrorCode::harness_error,
                     "cannot " + what + " the session lock " + path + ": " + std::strerror(errno));
}

// Creates `dir` (0700) unless it exists, then makes sure it is ours and private.
std::optional<Error> private_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return lock_error("create the directory of", dir);
  return check_lock_directory(dir, ::getuid());
}

// Opens (creating) the lock file without following a symlink planted in its place.
int open_lock_file(const std::string& path, std::optional<Error>& error) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) {
    error = errno == ELOOP ? Error::make(ErrorCode::harness_error,
                                         "the session lock " + path +
                                             " is a symbolic link; refusing to follow it")
                           : lock_error("open", path);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = Error::make(ErrorCode::harness_error, "the session lock " + path + " is not a regular file");
    return -1;
  }
  return fd;
}

enum class LockTry { locked, busy, failed };

// One non-blocking try. The previous holder unlinks the file before letting go, so a lock won on
// a file that is no longer at `path` is worthless: reopen and try the file that is there now.
LockTry try_lock(int& fd, const std::string& path, std::optional<Error>& error) {
  for (int reopens = 0; reopens < kMaxReopens; ++reopens) {
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK || errno == EINTR) return LockTry::busy;
      error = lock_error("lock", path);
      return LockTry::failed;
    }
    struct stat held, current;
    if (::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &current) == 0 &&
        held.st_dev == current.st_dev && held.st_ino == current.st_ino)
      return LockTry::locked;
    ::close(fd);
    fd = open_lock_file(path, error);
    if (fd < 0) return LockTry::failed;
  }
  return LockTry::busy;
}

struct Waiter {
  Loop* loop;
  int fd;
  std::string path;
  std::string session_id;
  std::optional<int64_t> timeout_ms;
  uint64_t deadline_ms = 0;  // uv_hrtime in ms, when timeout_ms is set
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
      if (fd >= 0) ::close(fd);
    } else {
      lock.emplace(fd, path);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer),
             [](uv_handle_t* h) { delete static_cast<Waiter*>(h->data); });
    if (done) done(std::move(lock), std::move(error));
  }

  void retry() {
    std::optional<Error> error;
    switch (try_lock(fd, path, error)) {
      case LockTry::locked: return finish(std::nullopt);
      case LockTry::failed: return finish(std::move(error));
      case LockTry::busy: break;
    }
    if (timeout_ms && uv_hrtime() / 1000000 >= deadline_ms)
      finish(Error::make(ErrorCode::timeout,
                         "timed out after " + std::to_string(*timeout_ms) +
                             " ms waiting for the session lock: another run is using session " +
                             session_id));
  }
};

}  // namespace

SessionLock::~SessionLock() {
  if (fd_ < 0) return;
  // Unlinked while the flock is still held: whoever wins the old file next sees it is gone.
  struct stat held, current;
  if (::fstat(fd_, &held) == 0 && ::lstat(path_.c_str(), &current) == 0 &&
      held.st_dev == current.st_dev && held.st_ino == current.st_ino)
    ::unlink(path_.c_str());
  ::close(fd_);  // closing the descriptor releases the flock
}

std::string session_lock_path(const std::string& scope, const std::string& session_id) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.lock",
                static_cast<unsigned long long>(fnv1a(scope + "\n" + session_id)));
  return lock_base_dir() + "/sessions/" + name;
}

std::optional<Error> check_lock_directory(const std::string& dir, uid_t uid) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return lock_error("inspect the directory of", dir);
  auto refuse = [&dir](const std::string& why) {
    return Error::make(ErrorCode::harness_error,
                       "refusing the session lock directory " + dir + ": " + why +
                           " (it must be a directory of yours with mode 0700; remove it and "
                           "drover makes a new one)");
  };
  if (S_ISLNK(st.st_mode)) return refuse("it is a symbolic link");
  if (!S_ISDIR(st.st_mode)) return refuse("it is not a directory");
  if (st.st_uid != uid)
    return refuse("it is owned by uid " + std::to_string(st.st_uid) + ", not " + std::to_string(uid));
  if ((st.st_mode & 07777) != 0700) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return refuse(std::string("its mode is ") + mode);
  }
  return std::nullopt;
}

void acquire_session_lock(Loop& loop, const std::string& scope, const std::string& session_id,
                          std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready,
                          std::optional<int64_t> timeout_ms) {
  const std::string base = lock_base_dir();
  for (const std::string& dir : {base, base + "/sessions"})
    if (auto error = private_directory(dir)) return on_ready(std::nullopt, std::move(error));
  const std::string path = session_lock_path(scope, session_id);
  std::optional<Error> error;
  int fd = open_lock_file(path, error);
  if (fd < 0) return on_ready(std::nullopt, std::move(error));
  switch (try_lock(fd, path, error)) {
    case LockTry::locked: return on_ready(SessionLock(fd, path), std::nullopt);
    case LockTry::failed:
      if (fd >= 0) ::close(fd);
      return on_ready(std::nullopt, std::move(error));
    case LockTry::busy: break;
  }
  // Someone else runs this session now: try again on a timer, never blocking the loop.
  auto* waiter = new Waiter{&loop, fd, path, session_id, timeout_ms, 0, {}, 0, std::move(on_ready)};
  if (timeout_ms)
    waiter->deadline_ms = uv_hrtime() / 1000000 + static_cast<uint64_t>(std::max<int64_t>(*timeout_ms, 0));
  uv_timer_init(loop.uv(), &waiter->timer);
  waiter->timer.data = waiter;
  uv_timer_start(
      &waiter->timer, [](uv_timer_t* t) { static_cast<Waiter*>(t->data)->retry(); }, kRetryMs,
      kRetryMs);
  waiter->hook = loop.add_stop_hook([waiter](StopCause) {
    waiter->finish(Error::make(ErrorCode::aborted, "cancelled while waiting for the session"));
  });
}

}  // namespace drover
