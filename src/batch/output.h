// A batch's output file: one JSONL record per line, appended and fsynced per document, locked
// against a second writer, its torn last line (after a crash) cut off before anything is added.
#pragma once

#include <cstdint>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <memory>
#include <optional>
#include <string>

#include "drover/batch.h"

namespace drover {

/// The shortest time between the starts of two syncs of a batch output.
inline constexpr int kSyncIntervalMs = 25;

class BatchOutput {
 public:
  /// Opens (creating, 0644 by umask) and locks `path` (flock on the file itself, so a killed
  /// process never leaves a stale lock). A second process gets config_error "… is being written
  /// by another drover batch (pid …)" when the pid is known. Reads the complete records already
  /// there; a torn last line (no newline at the end) is cut off; a complete line that is not a
  /// record is an error naming the file and line (nothing is lost: the file is left as it is).
  static std::unique_ptr<BatchOutput> open(const std::string& path, std::optional<Error>& error);
  ~BatchOutput();
  BatchOutput(const BatchOutput&) = delete;
  BatchOutput& operator=(const BatchOutput&) = delete;

  /// The last record of each id found when the file was opened (later lines win).
  const std::map<std::string, BatchRecord>& previous() const noexcept { return previous_; }
  /// Appends `record` as one line with a single write() and returns; a thread of the output
  /// fsyncs what was written meanwhile (group commit: one fsync covers every line written since
  /// the previous one, and syncs start at most kSyncIntervalMs apart, so the loop never waits for
  /// the disk). A line is in the file once append() returns, so a killed process loses nothing; a
  /// machine crash at most the lines of the last few tens of milliseconds. False with `error`
  /// (harness_error naming the file and errno) when the write fails, or an earlier fsync did.
  bool append(const BatchRecord& record, std::optional<Error>& error);
  /// Waits until every line appended so far is on disk. False with `error` when an fsync failed.
  bool flush(std::optional<Error>& error);
  const std::string& path() const noexcept { return path_; }

 private:
  BatchOutput() = default;
  void sync_lines();  ///< the fsync thread
  std::optional<Error> sync_failure();

  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;  ///< bytes of complete lines (where the next record begins)
  std::map<std::string, BatchRecord> previous_;
  std::mutex sync_mutex_;
  std::condition_variable sync_wake_;   ///< lines were written, or the output is closing
  std::condition_variable sync_done_;   ///< an fsync finished
  uint64_t written_lines_ = 0;          ///< appended so far
  uint64_t synced_lines_ = 0;           ///< known to be on disk
  int flush_waiting_ = 0;               ///< flush() calls waiting: sync without the interval
  bool syncer_idle_ = false;            ///< the fsync thread waits for lines (append wakes it)
  bool closing_ = false;
  std::optional<std::string> sync_error_;  ///< the first fsync failure
  std::thread syncer_;
};

}  // namespace drover
