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

}  // namespace drover
