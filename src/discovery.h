// Model discovery for `drover models`: what models a route can run, asked of the agent (ACP), of
// the harness's own list command, or taken from the configuration; cached with a TTL.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

struct DiscoveredModel {
  std::string id;
  std::string name;
  std::optional<int64_t> context_window;
  std::string context_window_source;  ///< "discovered" or "configured" when known
};

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
  std::string cache_dir;  ///< empty: no cache ($XDG_CACHE_HOME/drover/models by default)
};

/// The models of a route: an API endpoint's listing, an ACP agent's, a print-mode route's sidecar
/// or list command, or the configuration. Blocking: runs its own loop. A failed acp or command
/// discovery falls back to the route's configured models with a warning in the report; an API
/// listing's failure is the report's error.
ModelsReport discover_route_models(const Config& config, const Route& route,
                                   const DiscoveryOptions& options);

/// Ids from the output of a harness's list command (DiscoverySpec parser). Pure.
std::vector<DiscoveredModel> parse_model_listing(const DiscoverySpec& spec, const std::string& output,
                                                 std::string& problem);

/// $XDG_CACHE_HOME/drover/models (or ~/.cache/drover/models); empty when neither is known.
std::string default_models_cache_dir();

nlohmann::json to_json(const ModelsReport& report);

}  // namespace drover
