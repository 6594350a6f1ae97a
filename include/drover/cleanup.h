// Cleaning up after drover processes that were killed before they could clean up themselves.
#pragma once

#include <cstddef>

namespace drover {

/// Removes the temporary directories ($TMPDIR/drover-<pid>-XXXXXX, real directories owned by the
/// current user) of drover processes that are gone: one killed with SIGKILL cannot remove its own. Directories of live processes
/// (this one included) are left alone. Returns how many were removed; never throws, and a
/// directory that cannot be removed is skipped. Meant for a program's start-up (the CLI calls
/// it once).
std::size_t remove_stale_temp_dirs() noexcept;

}  // namespace drover
