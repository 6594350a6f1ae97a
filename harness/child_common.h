// What print mode and ACP share about a harness child: its directory and environment, the
// noise markers of its route, and the wording of failures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/request.h"
#include "drover/config.h"
#include "parsers/noise_filter.h"
#include "staging/session_lock.h"
#include "staging/temp_dir.h"
#include "src/core/time.h"  // seconds_text

namespace drover {

class Loop;

/// The last non-empty lines of a failing process's stderr (or stdout), for an error message.
std::string failure_excerpt(const std::string& stderr_tail, const std::string& stdout_tail);
/// What a run whose stdout a parser consumes keeps of stdout's tail: enough for
/// failure_excerpt(), so the answer is not held twice (SpawnOptions::stdout_kept_bytes).
inline constexpr uint64_t kParsedStdoutKeptBytes = 64u << 10;

/// `watchdog` with the request's timeouts in place of the route's (RunRequest::timeout_ms and
/// friends; 0 there means no limit at all).
WatchdogSpec apply_request_timeouts(WatchdogSpec watchdog, const RunRequest& request);

/// The error of a run its watchdog or a cancel stopped (`cause`), worded for `command_name`:
/// timeout naming the limit, aborted for a cancel or shutdown; nullopt for StopCause::none.
/// `start_what` and `idle_what` say what the harness failed to do in time ("printed nothing …").
std::optional<Error> stop_cause_error(StopCause cause, const std::string& command_name,
                                      const WatchdogSpec& watchdog, const std::string& start_what,
                                      const std::string& idle_what);


/// Runs resuming the same harness session are serialized, never interleaved: takes the route's
/// lock for `session_id`, waiting while another run holds it. The wait counts against
/// `total_timeout_ms`: `on_ready` gets the lock (or the error) and what is left of the total
/// timeout (at least 1 ms; nullopt without a limit). Always from the loop.
std::shared_ptr<SessionLockWait> acquire_run_lock(
    Loop& loop, const Route& route, const std::string& session_id,
    std::optional<int64_t> total_timeout_ms,
    std::function<void(std::optional<SessionLock>, std::optional<Error>, std::optional<int64_t>)>
        on_ready);

/// The child's environment: drover's own minus `clear_env`, plus `set` (which wins).
std::vector<std::string> build_child_environment(const std::map<std::string, std::string>& set,
                                                 const std::vector<std::string>& clear_env);

/// Finds `command` the way a shell would with the child's PATH: a name containing '/' is used as
/// is (relative to `cwd` when relative); otherwise each PATH entry is searched. Empty when not
/// found or not executable.
std::string resolve_command(const std::string& command, const std::vector<std::string>& env,
                            const std::string& cwd);

/// The built-in noise markers (unless switched off) plus the route's own.
parsers::NoiseMarkers markers_for(const NoiseSpec& spec);

/// Where a harness runs: the request's cwd, else the route's, else drover's own, made absolute.
/// In clean context mode a fresh empty `<temp>/work` directory instead (the TempDir owns it).
/// Errors: config_error when the workspace does not exist, harness_error when the clean
/// directory cannot be made.
struct ChildDirectory {
  std::string workspace;           ///< absolute; relative attachment paths resolve against it
  std::string cwd;                 ///< where the child runs
  std::optional<TempDir> temp_dir;  ///< set in clean mode
};
std::pair<std::optional<ChildDirectory>, std::optional<Error>> prepare_child_directory(
    const std::optional<std::string>& request_cwd, const std::optional<std::string>& route_cwd,
    ContextMode mode);

/// The permission policy of one harness run and how its route enforces it (README
/// "Permissions"). The policy: the request's, else the ACP route's `permissions`, else
/// approve-reads. `refusal` (unsupported_capability, naming the route and the policy) is set when
/// the route cannot enforce it: the run must not start. `warning` is set when the caller asked for
/// a policy explicitly that an undeclared print-mode route does not enforce.
struct PolicyGate {
  PermissionPolicy policy = PermissionPolicy::approve_reads;
  PolicyReport report;
  std::optional<Error> refusal;
  std::optional<std::string> warning;
};
PolicyGate gate_permission_policy(const Route& route, const RunRequest& request);

/// For `env:NAME` conditions: whether NAME is set and non-empty in a child environment
/// ("NAME=value" entries). The environment must outlive the function.
std::function<bool(const std::string&)> env_lookup(const std::vector<std::string>& env);

/// `values` expanded into `env` (README "Configuration": `${NAME}`, `${NAME:-default}` from
/// drover's environment, `{system_file}`); a variable whose value needs a {system_file} the run
/// has none of is not set. `used_system_file`, when given, is set when a variable took it.
void add_expanded_env(std::map<std::string, std::string>& env,
                      const std::map<std::string, std::string>& values,
                      const std::optional<std::string>& system_file = std::nullopt,
                      bool* used_system_file = nullptr);

/// `env` with the variables of every `envWhen` entry whose conditions hold, in order, expanded
/// as add_expanded_env() does.
void apply_env_when(std::map<std::string, std::string>& env,
                    const std::vector<ConditionalEnv>& env_when, const RunFacts& facts,
                    const std::optional<std::string>& system_file = std::nullopt,
                    bool* used_system_file = nullptr);

}  // namespace drover
