// Wall-clock time as drover writes it.
#pragma once

#include <string>

namespace drover {

/// Current time as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

}  // namespace drover
