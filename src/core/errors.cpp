#include "src/core/errors.h"

#include "src/core/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstring>

namespace drover {
namespace {

// A status code as a word of its own: "HTTP 502" or "(429)", never the digits inside an id
// ("…-ba150206e64f" holds "502").
bool contains_status(std::string_view m, std::initializer_list<std::string_view> codes) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (std::string_view code : codes) {
    for (size_t at = m.find(code); at != std::string_view::npos; at = m.find(code, at + 1)) {
      const bool left = at == 0 || !alnum(m[at - 1]);
      const bool right = at + code.size() == m.size() || !alnum(m[at + code.size()]);
      if (left && right) return true;
    }
  }
  return false;
}

}  // namespace

ErrorCode classify_failure_message(std::string_view message) noexcept {
  try {
    const std::string m = text::lower(message);
    // Order matters: a quota message often also says 429.
    if (text::contains_any(m, {"insufficient_quota", "quota", "billing", "credit balance",
                         "payment required", "out of credits", "usage limit"}))
      return ErrorCode::quota_exhausted;
    if (text::contains_any(m, {"rate limit", "rate_limit", "ratelimit", "too many requests"}) ||
        contains_status(m, {"429"}))
      return ErrorCode::rate_limit;
    if (text::contains_any(m, {"context length", "context_length", "context window",
                         "prompt is too long", "maximum context", "too many tokens",
                         "context_window_exceeded"}))
      return ErrorCode::context_overflow;
    if (text::contains_any(m, {"invalid api key", "invalid x-api-key", "api key not valid",
                         "incorrect api key", "unauthorized", "authentication", "not logged in",
                         "please run /login", "forbidden", "permission denied"}) ||
        contains_status(m, {"401", "403"}))
      return ErrorCode::auth_error;
    if (text::contains_any(m, {"overloaded", "internal server error", "service unavailable",
                               "bad gateway", "econnreset", "econnrefused", "etimedout",
                               "socket hang up", "connection reset", "temporarily", "try again"}) ||
        contains_status(m, {"529", "503", "502", "500"}))
      return ErrorCode::temporary_unavailable;
  } catch (...) {
  }
  return ErrorCode::harness_error;
}

std::string signal_name(int signum) {
  static constexpr std::array<std::pair<int, const char*>, 21> kNames{{
      {SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
      {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGKILL, "SIGKILL"},
      {SIGSEGV, "SIGSEGV"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
      {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
      {SIGIO, "SIGIO"}, {SIGPWR, "SIGPWR"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
      {SIGSTKFLT, "SIGSTKFLT"},
  }};
  for (const auto& [num, name] : kNames)
    if (num == signum) return name;
  return "signal " + std::to_string(signum);
}

}  // namespace drover
