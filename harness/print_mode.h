// Print mode: one harness process per prompt, argv from a template, stdout parsed.
#pragma once

#include <string>
#include <vector>

#include "drover/client.h"
#include "drover/config.h"
#include "src/run.h"
#include "src/transport.h"

namespace drover {

class Loop;

/// Runs `attempt.request` once through the print-mode route `attempt.route` on `loop` (the
/// transport contract, src/transport.h). The outcome's Result carries text, usage, session id,
/// warnings, process info and error (the router fills route, attempts and timings). Temporary
/// files are gone before `sink.on_done` runs.
std::shared_ptr<RunControl> start_print_mode(Loop& loop, const TransportAttempt& attempt,
                                             TransportSink sink);

/// The child's environment: drover's own minus `clear_env`, plus `set` (which wins).
std::vector<std::string> build_child_environment(const std::map<std::string, std::string>& set,
                                                 const std::vector<std::string>& clear_env);

/// Finds `command` the way a shell would with the child's PATH: a name containing '/' is used as
/// is (relative to `cwd` when relative); otherwise each PATH entry is searched. Empty when not
/// found or not executable.
std::string resolve_command(const std::string& command, const std::vector<std::string>& env,
                            const std::string& cwd);

}  // namespace drover
