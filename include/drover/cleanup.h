// Cleaning up after drover processes that were killed before they could clean up themselves.
#pragma once

#include <cstddef>

#include "drover/config.h"

namespace drover {

/// Removes the temporary directories ($TMPDIR/drover-<pid>-XXXXXX and the attachment staging
/// directories $TMPDIR/drover-att-<pid>-XXXXXX, real directories owned by the current user) of
/// drover processes that are gone: one killed with SIGKILL cannot remove its own. Directories of
/// live processes (this one included) are left alone; nothing else is touched. Returns how many
/// were removed; never throws, and a directory that cannot be removed is skipped. Meant for a
/// program's start-up (the CLI calls it once).
std::size_t remove_stale_temp_dirs() noexcept;

/// The same for the staging directories a config names (`staging.dir`, each route's
/// `fileInput.stagingDir`): only `drover-att-<dead pid>-XXXXXX` entries in them.
std::size_t remove_stale_staging_dirs(const Config& config) noexcept;

}  // namespace drover
