// Model discovery (`drover models`): what models a route can run, asked of the agent (ACP), of the
// harness's own list command or of the API endpoint, or taken from the configuration; cached with
// a TTL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

/// One model a route offers.
struct DiscoveredModel {
  std::string id;
  std::string name;
  std::optional<int64_t> context_window;
  std::string context_window_source;  ///< "discovered" or "configured" when known
};

/// The models of one route, and how they were found.
struct ModelsReport {
  std::string route;
  std::string source;  ///< "acp", "command", "api", "configured"
  std::optional<std::string> current;
  std::vector<DiscoveredModel> models;
  std::vector<std::string> warnings;
  std::optional<Error> error;
  bool cached = false;  ///< served from the cache
};

struct DiscoveryOptions {
  bool refresh = false;   ///< ignore the cache
  std::string cache_dir;  ///< empty: no cache (default_models_cache_dir() is the usual one)
};

/// The models of `route` (a route of `config`, which must outlive the call): an API endpoint's
/// listing, an ACP agent's (initialize, session/new, then the agent is closed), a print-mode
/// route's sidecar or list command, or the configuration. Blocking: runs its own loop on the
/// calling thread and leaves no process behind. Never throws: a failed acp or command discovery
/// falls back to the route's configured models with a warning in the report; an API listing's
/// failure is the report's `error`. Secrets never appear in the report.
ModelsReport discover_route_models(const Config& config, const Route& route,
                                   const DiscoveryOptions& options);

/// $XDG_CACHE_HOME/drover/models (or ~/.cache/drover/models); empty when neither is known.
std::string default_models_cache_dir();

/// The report as `drover models --json` prints it (the pinned shape).
nlohmann::json to_json(const ModelsReport& report);

}  // namespace drover
