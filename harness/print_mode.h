// Print mode: one harness process per prompt, argv from a template, stdout parsed.
#pragma once

#include <string>
#include <vector>

#include "drover/client.h"
#include "drover/config.h"
#include "src/run.h"

namespace drover {

class Loop;

/// Runs `request` once through the print-mode route `route` on `loop`. `on_done` runs exactly
/// once with a Result carrying text, usage, session id, warnings, process info and error (the
/// caller fills route, attempts and timings). Temporary files are gone before it runs.
void start_print_mode(Loop& loop, const Route& route, const RunRequest& request,
                      EventHandler on_event, ResultHandler on_done);

/// The child's environment: drover's own minus `clear_env`, plus `set` (which wins).
std::vector<std::string> build_child_environment(const std::map<std::string, std::string>& set,
                                                 const std::vector<std::string>& clear_env);

/// Finds `command` the way a shell would with the child's PATH: a name containing '/' is used as
/// is (relative to `cwd` when relative); otherwise each PATH entry is searched. Empty when not
/// found or not executable.
std::string resolve_command(const std::string& command, const std::vector<std::string>& env,
                            const std::string& cwd);

}  // namespace drover
