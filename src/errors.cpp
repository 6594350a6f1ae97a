#include "src/errors.h"

#include "src/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstring>

namespace drover {
namespace {

}  // namespace

ErrorCode classify_failure_message(std::string_view message) noexcept {
  try {
    const std::string m = text::lower(message);
    // Order matters: a quota message often also says 429.
    if (text::contains_any(m, {"insufficient_quota", "quota", "billing", "credit balance",
                         "payment required", "out of credits", "usage limit"}))
      return ErrorCode::quota_exhausted;
    if (text::contains_any(m, {"rate limit", "rate_limit", "ratelimit", "too many requests", " 429",
                         "429 "}))
      return ErrorCode::rate_limit;
    if (text::contains_any(m, {"context length", "context_length", "context window",
                         "prompt is too long", "maximum context", "too many tokens",
                         "context_window_exceeded"}))
      return ErrorCode::context_overflow;
    if (text::contains_any(m, {"invalid api key", "invalid x-api-key", "api key not valid",
                         "incorrect api key", "unauthorized", "authentication", "not logged in",
                         "please run /login", "401", "403", "forbidden", "permission denied"}))
      return ErrorCode::auth_error;
    if (text::contains_any(m, {"overloaded", "529", "503", "502", "500 ", "internal server error",
                         "service unavailable", "bad gateway", "econnreset", "econnrefused",
                         "etimedout", "socket hang up", "connection reset", "temporarily",
                         "try again"}))
      return ErrorCode::temporary_unavailable;
  } catch (...) {
  }
  return ErrorCode::harness_error;
}

std::string signal_name(int signum) {
  static constexpr std::array<std::pair<int, const char*>, 12> kNames{{
      {SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
      {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGKILL, "SIGKILL"},
      {SIGSEGV, "SIGSEGV"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
  }};
  for (const auto& [num, name] : kNames)
    if (num == signum) return name;
  return "signal " + std::to_string(signum);
}

}  // namespace drover
