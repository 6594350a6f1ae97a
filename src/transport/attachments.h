// What every transport does with a request's attachments before it starts: the staging options
// of the try (the config's `staging`, the route's fileInput on top), and staging as a stage of
// the run (a cancel or pause during it ends the run with nothing left on disk).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "drover/config.h"
#include "drover/request.h"
#include "src/transport/run_control.h"
#include "staging/attachments.h"

namespace drover {

class Loop;

/// The options for staging `request`'s attachments on `route`: dir, limits and keep from
/// route.staging overridden by the transport block's fileInput; categories from fileInput.
/// The caller sets what only it knows (`into`, `copy`, `load_max_bytes`, `remote_categories`,
/// and categories when fileInput is unset).
StagingOptions staging_options_for(const Route& route, const std::string& workspace);

/// Stages `request.attachments` as a stage of `control`, then calls `next` on the loop with the
/// staged set (empty when the request has none: then `next` is posted without a job) or an
/// error (a stop asked for meanwhile gives `aborted`).
void stage_for_run(Loop& loop, const std::shared_ptr<StageControl>& control, const RunRequest& request,
                   StagingOptions options, StagingDone next);

}  // namespace drover
