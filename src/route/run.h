// Starting one request on a loop: route resolution, transport dispatch, the final Result.
#pragma once

#include <functional>
#include <memory>

#include "drover/request.h"
#include "drover/config.h"
#include "drover/result.h"
#include "src/transport/transport.h"

namespace drover {

class Loop;
struct RouterState;

/// Starts `request` on `loop` through the router (src/route/router.cpp), each try on the transport of
/// `transports` for its route's kind. `on_done` runs exactly once, always from the loop (posted),
/// never before this returns: also when the request fails up front (empty prompt, bad route).
/// `config`, `transports` (and `state`, when given) must outlive the run. Events reach
/// `on_event` (may be empty) in order, before `on_done`. `state` carries cooldowns and
/// round-robin counters across requests; nullptr: fresh.
///
/// The returned control (never null) stops the whole request: cancel() and pause() go to the
/// try in flight and no further try starts; while waiting to retry, cancel() ends the request
/// with `aborted` and pause() with the last try's text, no error, stop_reason "paused". It does
/// not keep the run alive and does nothing once the Result is on its way.
std::shared_ptr<RunControl> start_run(Loop& loop, const Config& config,
                                      const TransportSet& transports, const RunRequest& request,
                                      EventHandler on_event, ResultHandler on_done,
                                      RouterState* state = nullptr);

/// The Result of a run that ended without any transport delivering one: harness_error, so that
/// it can never read as a success.
Result unfilled_result(const std::string& route);

/// `on_done`, called at most once: later calls are ignored, and when every copy of the returned
/// handler is destroyed without having been called (its run was dropped), `on_done` gets
/// unfilled_result(route) from that destructor.
ResultHandler completing_on_drop(ResultHandler on_done, std::string route);

}  // namespace drover
