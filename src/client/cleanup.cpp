#include "drover/cleanup.h"

#include <set>
#include <string>

#include "staging/attachments.h"
#include "staging/temp_dir.h"

namespace drover {

// The prefix every temporary directory of a run has (harness/child_common.cpp, print mode).
std::size_t remove_stale_temp_dirs() noexcept {
  return TempDir::remove_stale("drover-") +
         TempDir::remove_stale(std::string(kAttachmentDirPrefix));
}

std::size_t remove_stale_staging_dirs(const Config& config) noexcept {
  try {
    std::set<std::string> dirs;
    if (config.staging.dir) dirs.insert(*config.staging.dir);
    for (const auto& provider : config.providers)
      for (const auto& account : provider.accounts)
        if (const auto* input = file_input_of(account.transport); input && input->staging_dir)
          dirs.insert(*input->staging_dir);
    std::size_t removed = 0;
    for (const auto& dir : dirs) removed += TempDir::remove_stale(std::string(kAttachmentDirPrefix), dir);
    return removed;
  } catch (...) {
    return 0;
  }
}

}  // namespace drover
