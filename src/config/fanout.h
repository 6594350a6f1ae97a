// Merging fan-out limits (README "Fan-out limits"): each field separately.
#pragma once

#include "drover/config.h"

namespace drover {

/// `upper`'s fields, else `lower`'s, field by field.
FanoutLimits merged_fanout(const FanoutLimits& upper, const FanoutLimits& lower);

}  // namespace drover
