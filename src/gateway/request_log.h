// The gateway's request log: one JSON object per line, to a file or stderr. Lines are written
// whole under a lock, so concurrent requests never interleave.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace drover::gateway {

class RequestLog {
 public:
  RequestLog() = default;
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;
  ~RequestLog();

  /// Appends to `path` ("" = stderr). False, with `error` set, when the file cannot be opened.
  bool open(const std::string& path, std::string& error);

  /// Writes `line` as one line. Any occurrence of `secret` (the request's API key) in the text is
  /// replaced by "[redacted]" first, so a key that leaked into a body never reaches the log.
  void write(const nlohmann::ordered_json& line, const std::string& secret);

  void flush();

 private:
  std::mutex mutex_;
  std::FILE* file_ = nullptr;  ///< nullptr = stderr
};

/// "2025-05-01T12:00:00.123Z".
std::string iso8601_utc_now();

}  // namespace drover::gateway
