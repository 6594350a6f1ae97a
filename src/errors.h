// Error classification shared by every transport: what a harness or provider said -> ErrorCode.
#pragma once

#include <string>
#include <string_view>

#include "drover/result.h"

namespace drover {

/// Maps a failure message (a harness's error text, stderr, a provider's error body) to the
/// closest code: rate limits, quota/billing, auth, overload/5xx/resets, context overflow;
/// harness_error when nothing matches.
ErrorCode classify_failure_message(std::string_view message) noexcept;

/// Whether `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;
/// Replaces every invalid UTF-8 sequence with U+FFFD.
std::string sanitize_utf8(std::string_view text);

/// `SIGKILL`, `SIGTERM`, ... or `signal N`.
std::string signal_name(int signum);

}  // namespace drover
