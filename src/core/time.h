// Wall-clock time as drover writes it.
#pragma once

#include <cstdint>
#include <string>

namespace drover {

/// Current time as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

/// "1.5 s" for 1500 ms.
std::string seconds_text(int64_t ms);

}  // namespace drover
