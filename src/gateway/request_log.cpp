#include "src/gateway/request_log.h"

#include "src/core/time.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace drover::gateway {

RequestLog::~RequestLog() {
  if (file_ != nullptr) std::fclose(file_);
}

bool RequestLog::open(const std::string& path, std::string& error) {
  if (path.empty()) return true;
  std::FILE* f = std::fopen(path.c_str(), "ae");  // e: O_CLOEXEC
  if (f == nullptr) {
    error = "cannot open log file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (file_ != nullptr) std::fclose(file_);
  file_ = f;
  return true;
}

void RequestLog::write(const nlohmann::ordered_json& line, const std::string& secret) {
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  if (secret.size() >= 4) {
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
      text.replace(pos, secret.size(), "[redacted]");
  }
  text.push_back('\n');
  std::lock_guard<std::mutex> lock(mutex_);
  std::FILE* out = file_ != nullptr ? file_ : stderr;
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

void RequestLog::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::fflush(file_ != nullptr ? file_ : stderr);
}

std::string iso8601_utc_now() { return now_rfc3339(); }

}  // namespace drover::gateway
