// Routes of a Config and resolving a route id to one. Route pointers (Route::provider_spec /
// account_spec) point into the Config they came from: they stay valid while that Config lives
// and is neither modified nor moved. routes() and resolve() recompute them on every call, so
// copying a Config is fine as long as routes are taken from the copy they are used with.
#include <algorithm>

#include "src/config/fanout.h"
#include "src/config/sections.h"

namespace drover::cfg {

namespace {

constexpr size_t kMaxListedRoutes = 10;

std::string route_list(const std::vector<Route>& routes) {
  std::string out;
  const size_t shown = std::min(routes.size(), kMaxListedRoutes);
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    out += routes[i].id;
  }
  if (routes.size() > shown) out += " … and " + std::to_string(routes.size() - shown) + " more";
  return out;
}

std::string route_id(const std::string& provider, const std::string& transport,
                     const std::string& account, const std::string& model) {
  return provider + ":" + transport + ":" + account + ":" + model;
}

// Splits on ':' into at most four parts; the last part keeps any further ':' (model names such
// as `llama3:8b` are then at least resolvable as unlisted models).
std::vector<std::string> split_route(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() < 3) {
    const size_t colon = id.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(id.substr(start, colon - start));
    start = colon + 1;
  }
  parts.push_back(id.substr(start));
  return parts;
}

bool part_matches(const std::vector<std::string>& parts, size_t i, const std::string& value) {
  return i >= parts.size() || parts[i].empty() || parts[i] == value;
}

// One route of a Config before it is built: resolve() matches these and builds only the route it
// returns (a config with every preset has dozens of routes, and every run resolves one).
struct RouteRef {
  const ProviderSpec& provider;
  const AccountSpec& account;
  const std::string& transport;
  const std::string& model;
};

// Calls `visit` for each route in file order until it returns true; true when one did.
template <typename Visit>
bool each_route(const Config& config, Visit&& visit) {
  static const std::string no_model;  // an account without models: the harness's default
  for (const auto& p : config.providers) {
    for (const auto& a : p.accounts) {
      const std::string transport =
          a.transport.id.empty() ? std::string(to_string(a.transport.kind)) : a.transport.id;
      if (a.models.empty() && visit(RouteRef{p, a, transport, no_model})) return true;
      for (const auto& m : a.models)
        if (visit(RouteRef{p, a, transport, m.id})) return true;
    }
  }
  return false;
}

Route build_route(const Config& config, const RouteRef& r, const std::string& model) {
  return Route{route_id(r.provider.id, r.transport, r.account.id, model), r.provider.id,
               r.transport, r.account.id, model, &r.provider, &r.account, config.staging,
               merged_fanout(r.account.fanout, r.provider.fanout), {}};
}

// The first route in file order that `wanted` accepts, built; with `model`, that model instead of
// the route's own (an unlisted model on a matching account).
template <typename Wanted>
std::optional<Route> first_route(const Config& config, Wanted&& wanted,
                                 const std::string* model = nullptr) {
  std::optional<Route> found;
  each_route(config, [&](const RouteRef& r) {
    if (!wanted(r)) return false;
    found = build_route(config, r, model ? *model : r.model);
    return true;
  });
  return found;
}

}  // namespace

std::optional<std::string> default_route_problem(const Config& config, const std::string& origin) {
  if (config.default_route) {
    auto [route, error] = config.resolve(*config.default_route);
    if (error) return origin + ": defaultRoute: " + error->message;
  }
  if (config.routing.default_route_id) {
    auto [route, error] = config.resolve(*config.routing.default_route_id);
    if (error) return origin + ": routing.resolution.defaultRouteId: " + error->message;
  }
  return std::nullopt;
}

}  // namespace drover::cfg

namespace drover {

using namespace cfg;

// ---- Config -------------------------------------------------------------------------------------

std::vector<Route> Config::routes() const {
  std::vector<Route> out;
  each_route(*this, [&](const RouteRef& r) {
    out.push_back(build_route(*this, r, r.model));
    return false;
  });
  return out;
}

std::optional<Error> model_allowlist_refusal(const Route& route) {
  const AccountSpec* account = route.account_spec;
  if (account == nullptr || account->model_allowlist != ModelAllowlistMode::strict) return std::nullopt;
  for (const auto& m : account->models)
    if (m.id == route.model) return std::nullopt;
  std::vector<std::string_view> allowed;
  for (const auto& m : account->models) allowed.push_back(m.id);
  return Error::make(ErrorCode::validation_error,
                     valid_utf8("model " + quote(route.model) + " is not allowed on " +
                                route.provider + ":" + route.transport + ":" + route.account +
                                " (its modelAllowlistMode is strict; allowed: " +
                                join(allowed, ", ") + ")"));
}

// Resolution rules:
// 1. "" -> defaultRoute when set, else routing.resolution.defaultRouteId, else the first route.
// 2. Otherwise the id is split into provider:transport:account:model. Missing trailing parts
//    and empty parts are wildcards; the first route in file order matching every part wins.
//    With unknownSelector "off" there are no wildcards: the id must be a route's full id.
// 3. When nothing matched and a model part was given, the first route matching the other three
//    parts is returned with that model substituted: users may name models the config does not
//    list (new releases, aliases), just as `--model` may override the model of any route. This
//    applies whether or not the account lists models; listed models still win in step 2. An
//    account whose modelAllowlistMode is strict refuses the model instead (validation_error).
// 4. A selector that matched nothing is a config_error, or with unknownSelector "default" the
//    defaultRouteId route, carrying a warning that says so.
std::pair<std::optional<Route>, std::optional<Error>> Config::resolve(const std::string& id) const {
  try {
    if (auto dependency = untrusted_dependency(id)) return {std::nullopt, std::move(dependency)};
    if (id.empty()) {
      if (default_route && !default_route->empty()) return resolve(*default_route);
      if (routing.default_route_id) return resolve(*routing.default_route_id);
      if (auto first = first_route(*this, [](const RouteRef&) { return true; }))
        return {std::move(first), std::nullopt};
      return {std::nullopt,
              config_error(sources.empty() ? "no routes configured (no configuration file found)"
                                           : "no routes configured")};
    }
    const bool exact = routing.unknown_selector == RoutingSpec::UnknownSelector::off;
    const auto parts = split_route(id);
    const bool full = parts.size() == 4 && !parts[0].empty() && !parts[1].empty() &&
                      !parts[2].empty();
    auto matches = [&](const RouteRef& r, size_t n) {
      return part_matches(parts, 0, r.provider.id) && part_matches(parts, 1, r.transport) &&
             part_matches(parts, 2, r.account.id) && (n < 4 || part_matches(parts, 3, r.model));
    };
    if (!exact || full) {
      if (auto found = first_route(*this, [&](const RouteRef& r) {
            return exact ? route_id(r.provider.id, r.transport, r.account.id, r.model) == id
                         : matches(r, 4);
          }))
        return {std::move(found), std::nullopt};
      if (parts.size() == 4 && !parts[3].empty()) {
        auto found = first_route(
            *this, [&](const RouteRef& r) { return matches(r, 3); }, &parts[3]);
        if (found) {
          if (auto refused = model_allowlist_refusal(*found))
            return {std::nullopt, std::move(refused)};
          return {std::move(found), std::nullopt};
        }
      }
    }
    if (routing.unknown_selector == RoutingSpec::UnknownSelector::default_ &&
        routing.default_route_id && *routing.default_route_id != id) {
      auto [fallback, error] = resolve(*routing.default_route_id);
      if (fallback)
        fallback->resolution_warning =
            valid_utf8("no route matches " + quote(id) + "; using the default route " +
                       fallback->id + " (routing.resolution.unknownSelector is \"default\")");
      return {std::move(fallback), std::move(error)};
    }
    std::string message = "no route matches " + quote(id);
    if (exact && !full)
      message += " (routing.resolution.unknownSelector is \"off\": give a route's full id, "
                 "provider:transport:account:model)";
    const auto all = routes();
    message +=
        all.empty() ? "; no routes are configured" : "; available routes: " + route_list(all);
    return {std::nullopt, config_error(std::move(message))};
  } catch (const std::exception& e) {
    return {std::nullopt, config_error(std::string("cannot resolve route: ") + e.what())};
  }
}

}  // namespace drover
