// Print mode: one harness process per prompt, argv from a template, stdout parsed.
#pragma once

#include <string>
#include <vector>

#include "drover/request.h"
#include "drover/config.h"
#include "harness/child_common.h"
#include "src/transport/transport.h"

namespace drover {

class Loop;

/// Runs `attempt.request` once through the print-mode route `attempt.route` on `loop` (the
/// transport contract, src/transport/transport.h). The outcome's Result carries text, usage, session id,
/// warnings, process info and error (the router fills route, attempts and timings). Temporary
/// files are gone before `sink.on_done` runs. The control's cancel and pause stop the run's
/// process group (or its wait for the session lock).
std::shared_ptr<RunControl> start_print_mode(Loop& loop, const TransportAttempt& attempt,
                                             TransportSink sink);

}  // namespace drover
