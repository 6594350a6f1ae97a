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

#include "src/loop/loop.h"

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

// One acquire_session_lock call: retries on a timer while another run holds the session. Every
// answer, the immediate ones too, reaches on_ready through Loop::post.
class Waiter final : public SessionLockWait, public std::enable_shared_from_this<Waiter> {
 public:
  using Ready = std::function<void(std::optional<SessionLock>, std::optional<Error>)>;
  Waiter(Loop& loop, std::string path, std::string session_id, std::optional<int64_t> timeout_ms,
         Ready on_ready)
      : loop_(loop),
        path_(std::move(path)),
        session_id_(std::move(session_id)),
        timeout_ms_(timeout_ms),
        on_ready_(std::move(on_ready)) {}
  ~Waiter() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void begin() {
    const std::string base = lock_base_dir();
    for (const std::string& dir : {base, base + "/sessions"})
      if (auto error = private_directory(dir)) return finish(std::move(error));
    std::optional<Error> error;
    fd_ = open_lock_file(path_, error);
    if (fd_ < 0) return finish(std::move(error));
    if (timeout_ms_)
      deadline_ms_ = uv_hrtime() / 1000000 + static_cast<uint64_t>(std::max<int64_t>(*timeout_ms_, 0));
    if (attempt()) return;
    // Someone else runs this session now: try again on a timer, never blocking the loop.
    timer_.emplace(loop_);
    arm();
    auto self = shared_from_this();
    hook_ = loop_.add_stop_hook([self](StopCause) {
      self->finish(Error::make(ErrorCode::aborted, "cancelled while waiting for the session"));
    });
  }

  void cancel() override {
    finish(Error::make(ErrorCode::aborted, "cancelled while waiting for the session"));
  }

 private:
  // True when the wait is over (locked or failed).
  bool attempt() {
    std::optional<Error> error;
    switch (try_lock(fd_, path_, error)) {
      case LockTry::locked: finish(std::nullopt); return true;
      case LockTry::failed: finish(std::move(error)); return true;
      case LockTry::busy: break;
    }
    if (timeout_ms_ && uv_hrtime() / 1000000 >= deadline_ms_) {
      finish(Error::make(ErrorCode::timeout,
                         "timed out after " + std::to_string(*timeout_ms_) +
                             " ms waiting for the session lock: another run is using session " +
                             session_id_));
      return true;
    }
    return false;
  }

  void arm() {
    std::weak_ptr<Waiter> weak = weak_from_this();
    timer_->start(static_cast<int64_t>(kRetryMs), [weak] {
      auto self = weak.lock();
      if (self && !self->done_ && !self->attempt()) self->arm();
    });
  }

  void finish(std::optional<Error> error) {
    if (done_) return;
    done_ = true;
    if (hook_) loop_.remove_stop_hook(hook_);  // drops the hook's reference to this waiter
    hook_ = 0;
    timer_.reset();
    auto lock = std::make_shared<std::optional<SessionLock>>();
    if (!error) {
      lock->emplace(fd_, path_);
      fd_ = -1;
    } else if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    loop_.post([done = std::move(on_ready_), lock, error = std::move(error)]() mutable {
      if (done) done(std::move(*lock), std::move(error));
    });
  }

  Loop& loop_;
  int fd_ = -1;
  std::string path_;
  std::string session_id_;
  std::optional<int64_t> timeout_ms_;
  uint64_t deadline_ms_ = 0;  // uv_hrtime in ms, when timeout_ms is set
  std::optional<LoopTimer> timer_;
  uint64_t hook_ = 0;
  bool done_ = false;
  Ready on_ready_;
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

std::shared_ptr<SessionLockWait> acquire_session_lock(
    Loop& loop, const std::string& scope, const std::string& session_id,
    std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready,
    std::optional<int64_t> timeout_ms) {
  auto waiter = std::make_shared<Waiter>(loop, session_lock_path(scope, session_id), session_id,
                                         timeout_ms, std::move(on_ready));
  waiter->begin();
  return waiter;
}

}  // namespace drover
