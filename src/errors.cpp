#include "src/errors.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstring>

namespace drover {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains_any(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  for (auto needle : needles)
    if (haystack.find(needle) != std::string::npos) return true;
  return false;
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is invalid.
size_t utf8_sequence_length(std::string_view s) noexcept {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < need + 1) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i <= need; ++i)
    if ((b(i) & 0xC0) != 0x80) return 0;
  return need + 1;
}

}  // namespace

ErrorCode classify_failure_message(std::string_view message) noexcept {
  try {
    const std::string m = lower(message);
    // Order matters: a quota message often also says 429.
    if (contains_any(m, {"insufficient_quota", "quota", "billing", "credit balance",
                         "payment required", "out of credits", "usage limit"}))
      return ErrorCode::quota_exhausted;
    if (contains_any(m, {"rate limit", "rate_limit", "ratelimit", "too many requests", " 429",
                         "429 "}))
      return ErrorCode::rate_limit;
    if (contains_any(m, {"context length", "context_length", "context window",
                         "prompt is too long", "maximum context", "too many tokens",
                         "context_window_exceeded"}))
      return ErrorCode::context_overflow;
    if (contains_any(m, {"invalid api key", "invalid x-api-key", "api key not valid",
                         "incorrect api key", "unauthorized", "authentication", "not logged in",
                         "please run /login", "401", "403", "forbidden", "permission denied"}))
      return ErrorCode::auth_error;
    if (contains_any(m, {"overloaded", "529", "503", "502", "500 ", "internal server error",
                         "service unavailable", "bad gateway", "econnreset", "econnrefused",
                         "etimedout", "socket hang up", "connection reset", "temporarily",
                         "try again"}))
      return ErrorCode::temporary_unavailable;
  } catch (...) {
  }
  return ErrorCode::harness_error;
}

bool is_valid_utf8(std::string_view text) noexcept {
  while (!text.empty()) {
    size_t n = utf8_sequence_length(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t n = utf8_sequence_length(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
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
