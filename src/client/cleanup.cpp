#include "drover/cleanup.h"

#include "staging/temp_dir.h"

namespace drover {

// The prefix every temporary directory of a run has (harness/child_common.cpp, print mode).
std::size_t remove_stale_temp_dirs() noexcept { return TempDir::remove_stale("drover-"); }

}  // namespace drover
