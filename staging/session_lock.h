// One run at a time per harness session: an advisory lock (flock) on a file named after the
// session, shared by every drover process of the user. Acquired without blocking the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "drover/result.h"

namespace drover {

class Loop;

/// A held session lock; released when destroyed.
class SessionLock {
 public:
  explicit SessionLock(int fd) : fd_(fd) {}
  SessionLock(SessionLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SessionLock& operator=(SessionLock&&) = delete;
  SessionLock(const SessionLock&) = delete;
  ~SessionLock();

 private:
  int fd_;
};

/// The lock file for `session_id` of harness `scope` (a route's provider:transport:account):
/// ${XDG_RUNTIME_DIR:-/tmp}/drover-<uid>/sessions/<hash>.lock.
std::string session_lock_path(const std::string& scope, const std::string& session_id);

/// Takes the lock for (scope, session_id), waiting on a loop timer while another run holds it.
/// `on_ready` gets the held lock, or an error (aborted when the loop is stopped while waiting,
/// harness_error when the lock file cannot be opened). Runs exactly once.
void acquire_session_lock(Loop& loop, const std::string& scope, const std::string& session_id,
                          std::function<void(std::optional<SessionLock>, std::optional<Error>)> on_ready);

}  // namespace drover
