// How a supervised harness process is watched and stopped (src/loop/process.h): its timeouts, and
// the grace and drain periods of the stop. Plain data, filled from the configuration
// and the request.
#pragma once

#include <cstdint>
#include <optional>

namespace drover {

/// The total timeout of a print-mode or ACP route whose watchdog sets none: a harness that
/// hangs is stopped after an hour. `"timeout": "none"` (or `--timeout none`) switches it off.
inline constexpr int64_t kDefaultHarnessTimeoutMs = 60 * 60 * 1000;

/// Watchdog and stop policy for one harness process. Absent timeouts are off.
struct WatchdogSpec {
  std::optional<int64_t> start_timeout_ms;  ///< no byte at all since spawn
  std::optional<int64_t> idle_timeout_ms;   ///< no byte since the last one
  std::optional<int64_t> total_timeout_ms;  ///< wall-clock deadline
  int64_t grace_ms = 2000;        ///< SIGTERM to SIGKILL
  int64_t drain_ms = 500;         ///< how long pipes may stay open after the child exited
  /// Replacements used when the run resumes a session (`watchdog.resume`): a resumed turn has
  /// its context already, so it is expected to start answering sooner.
  struct Resume {
    std::optional<int64_t> start_timeout_ms, idle_timeout_ms, total_timeout_ms;
  };
  std::optional<Resume> resume;
  /// This watchdog with `resume`'s values applied when `resuming`.
  WatchdogSpec for_run(bool resuming) const;
  /// A route's watchdog before its config is read: kDefaultHarnessTimeoutMs in total.
  static WatchdogSpec harness_default() {
    WatchdogSpec w;
    w.total_timeout_ms = kDefaultHarnessTimeoutMs;
    return w;
  }
};

inline WatchdogSpec WatchdogSpec::for_run(bool resuming) const {
  WatchdogSpec w = *this;
  if (resuming && resume) {
    if (resume->start_timeout_ms) w.start_timeout_ms = resume->start_timeout_ms;
    if (resume->idle_timeout_ms) w.idle_timeout_ms = resume->idle_timeout_ms;
    if (resume->total_timeout_ms) w.total_timeout_ms = resume->total_timeout_ms;
  }
  w.resume.reset();
  return w;
}

}  // namespace drover
