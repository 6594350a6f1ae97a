// One run at a time per harness session: an advisory lock (flock) on a file named after the
// session, shared by every drover process of the user. Acquired without blocking the loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "drover/result.h"

namespace drover {

class Loop;

/// A held session lock. Destroying it removes the lock file (while still holding the flock, so
/// a waiter that got the old file notices and takes the new one) and releases the lock.
class SessionLock {
 public:
  SessionLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  SessionLock(SessionLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  SessionLock& operator=(SessionLock&&) = delete;
  SessionLock(const SessionLock&) = delete;
  ~SessionLock();

 private:
  int fd_;
  std::string path_;
};

/// The lock file for `session_id` of harness `scope` (a route's provider:transport:account):
/// ${XDG_RUNTIME_DIR:-/tmp}/drover-<uid>/sessions/<hash>.lock. Only computes the path.
std::string session_lock_path(const std::string& scope, const std::string& session_id);

/// Whether `dir` may hold session locks of user `uid`: a real directory (not a symlink) owned by
/// `uid` with mode 0700. Anything else could be another user's trap (a planted symlink, a lock
/// held forever), so it is refused: harness_error naming the directory and what is wrong.
std::optional<Error> check_lock_directory(const std::string& dir, uid_t uid);

/// A pending acquire_session_lock.
class SessionLockWait {
 public:
  virtual ~SessionLockWait() = default;
  /// Ends the wait: on_ready gets aborted (from the loop). Does nothing once it was answered.
  virtual void cancel() = 0;
};

/// Takes the lock for (scope, session_id), waiting on a loop timer while another run holds it.
/// The lock directories are created (0700) if missing and checked with check_lock_directory; the
/// lock file is opened with O_NOFOLLOW. `on_ready` gets the held lock, or an error: aborted when
/// the loop is stopped or the wait cancelled, timeout when `timeout_ms` passes while another run
/// holds the session, harness_error when a directory is refused or the lock file cannot be
/// opened. Runs exactly once, always from the loop (Loop::post), never before this returns.
/// Dropping the returned wait does not end it.
std::shared_ptr<SessionLockWait> acquire_session_lock(
    Loop& loop, const std::string& scope, const std::string& session_id,
    std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready,
    std::optional<int64_t> timeout_ms = std::nullopt);

}  // namespace drover
