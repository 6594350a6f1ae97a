// A batch's output file: one JSONL record per line, appended and fsynced per document, locked
// against a second writer, its torn last line (after a crash) cut off before anything is added.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "drover/batch.h"

namespace drover {

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
  /// Appends `record` as one line with a single write(), then fsync. False with `error`
  /// (harness_error naming the file and errno) when the write fails.
  bool append(const BatchRecord& record, std::optional<Error>& error);
  const std::string& path() const noexcept { return path_; }

 private:
  BatchOutput() = default;
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;  ///< bytes of complete lines (where the next record begins)
  std::map<std::string, BatchRecord> previous_;
};

}  // namespace drover
