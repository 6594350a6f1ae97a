// `drover sessions`: the sessions an ACP agent keeps (session/list), and deleting them
// (session/delete), for the agents that advertise these methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

/// One session as the agent describes it (session/list). Empty strings for what it leaves out.
struct AgentSession {
  std::string id;
  std::string cwd;
  std::string title;
  std::string updated_at;  ///< ISO 8601, as the agent gives it
  std::vector<std::string> additional_directories;
};

struct AgentSessionsReport {
  std::string route;
  /// list: the sessions, in the agent's order, across its pages.
  std::vector<AgentSession> sessions;
  /// list: more sessions than AgentSessionsOptions::max_sessions, or more pages than 100.
  bool truncated = false;
  /// delete: the ids the agent deleted (a failed one is named in `error`).
  std::vector<std::string> deleted;
  std::vector<std::string> warnings;
  std::optional<Error> error;
};

struct AgentSessionsOptions {
  /// list: only the sessions of this directory (absolute; a relative one is taken from the
  /// current directory).
  std::optional<std::string> cwd;
  size_t max_sessions = 1000;  ///< list: at most this many are kept
  int64_t timeout_ms = 60000;  ///< the whole exchange with the agent, start to stop; 0: none
};

/// The sessions the agent of ACP route `route` (a full id or a prefix; empty: the default
/// route) keeps: the agent is started as a run starts it, initialized, asked session/list (page
/// after page) and stopped; no session is made. Blocking: runs its own loop on the calling
/// thread and leaves no process behind. Never throws. Errors: config_error (no such route),
/// unsupported_capability (not an ACP route, or an agent that does not advertise
/// sessionCapabilities.list), auth_error, timeout, harness_error (the agent failed or ended).
AgentSessionsReport list_agent_sessions(const Config& config, const std::string& route,
                                        const AgentSessionsOptions& options = {});

/// Deletes the sessions `ids` (session/delete, one after the other; a failure does not stop the
/// rest) on the agent of ACP route `route`, as list_agent_sessions() reaches it. An agent that
/// does not advertise sessionCapabilities.delete is refused (unsupported_capability) before any
/// is sent; an empty or over-long id (over 1024 bytes) is refused (validation_error) before the
/// agent is started.
AgentSessionsReport delete_agent_sessions(const Config& config, const std::string& route,
                                          const std::vector<std::string>& ids,
                                          const AgentSessionsOptions& options = {});

/// The report as `drover sessions --json` prints it: {route, sessions: [{sessionId, title, cwd,
/// updatedAt, additionalDirectories}], truncated, warnings, error} (null for a missing title,
/// cwd, updatedAt or error); a delete report has `deleted` instead of `sessions` and `truncated`.
nlohmann::json to_json(const AgentSessionsReport& report, bool deletion = false);

}  // namespace drover
