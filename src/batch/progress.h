// What a running batch shows: a live line on a terminal, a plain status line elsewhere.
#pragma once

#include <string>

#include "drover/batch.h"

namespace drover {

/// "120/1000 done · 3 failed · 8 running · 4.1 docs/s · ETA 3m34s · 1.2M tokens · $0.42".
std::string format_batch_progress(const BatchProgress& progress);

}  // namespace drover
