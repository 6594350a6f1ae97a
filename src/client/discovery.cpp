#include "src/client/discovery.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/acp.h"
#include "parsers/json_limits.h"
#include "src/api/api_transport.h"
#include "harness/child_common.h"
#include "harness/print_mode.h"
#include "parsers/json_path.h"
#include "parsers/utf8.h"
#include "src/config/credentials.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"
#include "src/config/redact.h"

namespace drover {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One file per route and agent: the same route id in another config (another command or
// arguments) must not share a list.
std::string cache_file(const std::string& dir, const Route& route) {
  const TransportSpec& t = route.account_spec->transport;
  std::string identity = route.id + "\n" + t.command;
  if (const AcpSpec* acp = t.if_acp())
    for (const auto& a : acp->args) identity += "\n" + a;
  if (const CliSpec* cli = t.if_cli()) {
    for (const auto& a : cli->discovery.args) identity += "\n" + a;
    identity += "\n" + cli->discovery.route;
  } else {
    identity += "\n";  // as before: the empty discovery route of a route without a cli block
  }
  std::string name;
  for (char c : route.id) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return dir + "/" + name + "-" + std::to_string(std::hash<std::string>{}(identity)) + ".json";
}

std::optional<ModelsReport> read_cache_or_throw(const std::string& file, int64_t ttl_ms) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j = parsers::parse_untrusted(text);
  if (!j.is_object() || !j.contains("at") || !j["at"].is_number_integer()) return std::nullopt;
  if (now_ms() - j["at"].get<int64_t>() > ttl_ms) return std::nullopt;
  ModelsReport r;
  r.source = j.value("source", "");
  if (j.contains("current") && j["current"].is_string()) r.current = j["current"].get<std::string>();
  for (const auto& m : j.value("models", json::array())) {
    DiscoveredModel d;
    d.id = m.value("id", "");
    d.name = m.value("name", "");
    if (m.contains("contextWindow") && m["contextWindow"].is_number_integer())
      d.context_window = m["contextWindow"].get<int64_t>();
    d.context_window_source = m.value("contextWindowSource", "");
    if (!d.id.empty()) r.models.push_back(std::move(d));
  }
  r.cached = true;
  return r;
}

std::optional<ModelsReport> read_cache(const std::string& file, int64_t ttl_ms) {
  try {
    return read_cache_or_throw(file, ttl_ms);
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged cache file is a miss
  }
}

void write_cache(const std::string& file, const ModelsReport& r) {
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  json j = to_json(r);
  j["at"] = now_ms();
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump();
    if (!out) return;
  }
  fs::rename(tmp, file, ec);  // atomic: a concurrent reader sees the old or the new list
}

// The route's own models[], with their configured context windows.
void add_configured(ModelsReport& r, const Route& route) {
  for (const auto& m : route.account_spec->models) {
    DiscoveredModel d;
    d.id = m.id;
    if (m.context_window) {
      d.context_window = m.context_window;
      d.context_window_source = "configured";
    }
    r.models.push_back(std::move(d));
  }
}

// modelAllowlistMode over a discovered list: the account's models first, in its order (the
// discovered entry where there is one); then, unless the allowlist is strict, the other
// discovered models in the order they came. Without a mode the list stays as discovered.
void apply_allowlist(ModelsReport& r, const Route& route) {
  const AccountSpec& account = *route.account_spec;
  if (!account.model_allowlist || account.models.empty() || r.source == "configured") return;
  std::vector<DiscoveredModel> ordered;
  std::vector<bool> used(r.models.size(), false);
  for (const auto& m : account.models) {
    bool found = false;
    for (size_t i = 0; i < r.models.size() && !found; ++i)
      if (!used[i] && r.models[i].id == m.id) {
        used[i] = found = true;
        ordered.push_back(r.models[i]);
      }
    if (!found)
      ordered.push_back({m.id, "", m.context_window, m.context_window ? "configured" : ""});
  }
  if (*account.model_allowlist == ModelAllowlistMode::shortlist)
    for (size_t i = 0; i < r.models.size(); ++i)
      if (!used[i]) ordered.push_back(r.models[i]);
  r.models = std::move(ordered);
}

// A configured context window for a discovered model that did not report one.
void merge_configured_windows(ModelsReport& r, const Route& route) {
  for (auto& d : r.models) {
    if (d.context_window) continue;
    for (const auto& m : route.account_spec->models)
      if (m.id == d.id && m.context_window) {
        d.context_window = m.context_window;
        d.context_window_source = "configured";
      }
  }
}

// `sidecar`: the listing is for a print-mode route, which is shown the names it can pass on
// (passable_model_id), the current model too.
ModelsReport from_acp(const Route& acp_route, bool sidecar = false) {
  ModelsReport r;
  Loop loop;
  AcpModelReport listing;
  discover_acp_models(loop, acp_route, [&](AcpModelReport l) { listing = std::move(l); });
  loop.run();
  r.warnings = std::move(listing.warnings);
  r.error = std::move(listing.error);
  r.source = "acp";
  r.current = listing.current;
  const auto& aliases = acp_route.account_spec->transport.acp().model_aliases;
  for (auto& m : listing.models) {
    std::string id = sidecar ? passable_model_id(m, aliases) : m.id;
    if (sidecar && r.current == m.id) r.current = id;
    r.models.push_back({std::move(id), m.name, std::nullopt, ""});
  }
  if (!r.error && r.models.empty()) r.error = Error::make(ErrorCode::unsupported_capability, "the agent advertises no models");
  return r;
}

// What an API endpoint serves (GET …/models), with the first key of the route's pool.
ModelsReport from_api(const Route& route) {
  ModelsReport r;
  r.source = "api";
  std::optional<Error> key_error;
  auto keys = load_api_keys(route.account_spec->transport.api().credentials, route.id, key_error);
  if (key_error) {
    r.error = std::move(key_error);
    return r;
  }
  Loop loop;
  ModelListing listing;
  list_api_models(loop, route, keys.empty() ? std::string() : keys.front(),
                  [&](ModelListing&& l) { listing = std::move(l); });
  loop.run();
  r.error = std::move(listing.error);
  for (const auto& m : listing.models) {
    DiscoveredModel d{m.id, "", m.context_window, m.context_window ? "discovered" : ""};
    r.models.push_back(std::move(d));
  }
  return r;
}

ModelsReport from_command(const Route& route, const DiscoverySpec& spec) {
  ModelsReport r;
  r.source = "command";
  const TransportSpec& transport = route.account_spec->transport;
  SpawnOptions spawn;
  std::map<std::string, std::string> env;
  add_expanded_env(env, transport.cli().env);
  spawn.env = build_child_environment(env, transport.cli().clear_env);
  std::error_code ec;
  spawn.cwd = fs::current_path(ec).string();
  spawn.file = resolve_command(transport.command, spawn.env, spawn.cwd);
  if (spawn.file.empty()) {
    r.error = Error::make(ErrorCode::not_found, "command '" + transport.command + "' was not found");
    return r;
  }
  spawn.args = {transport.command};
  spawn.args.insert(spawn.args.end(), spec.args.begin(), spec.args.end());
  spawn.watchdog.total_timeout_ms = 30000;
  Loop loop;
  ProcessOutcome outcome;
  ProcessCallbacks callbacks;
  callbacks.on_complete = [&](ProcessOutcome&& o) { outcome = std::move(o); };
  Error error;
  if (!Process::start(loop, std::move(spawn), std::move(callbacks), error)) {
    r.error = std::move(error);
    return r;
  }
  loop.run();
  std::string what;
  for (const auto& a : spec.args) what += " " + a;
  if (outcome.info.exit_code != 0) {
    r.error = Error::make(ErrorCode::harness_error,
                          transport.command + what + " failed: " +
                              failure_excerpt(outcome.stderr_tail, outcome.stdout_tail));
    return r;
  }
  std::string problem;
  r.models = parse_model_listing(spec, outcome.stdout_tail, problem);
  if (r.models.empty())
    r.error = Error::make(ErrorCode::harness_error,
                          transport.command + what + " listed no models" +
                              (problem.empty() ? "" : " (" + problem + ")"));
  return r;
}

}  // namespace

std::vector<DiscoveredModel> parse_model_listing(const DiscoverySpec& spec, const std::string& output,
                                                 std::string& problem) {
  std::vector<DiscoveredModel> models;
  auto from_element = [&](const json& element) {
    DiscoveredModel d;
    if (element.is_string()) {
      d.id = element.get<std::string>();
    } else if (element.is_object()) {
      auto id_path = parsers::JsonPath::compile(spec.id_path);
      const json* id = id_path ? id_path->eval(element) : nullptr;
      if (id && id->is_string()) d.id = id->get<std::string>();
      if (!spec.context_window_path.empty()) {
        auto cw_path = parsers::JsonPath::compile(spec.context_window_path);
        const json* cw = cw_path ? cw_path->eval(element) : nullptr;
        if (cw && cw->is_number_integer() && cw->get<int64_t>() > 0) {
          d.context_window = cw->get<int64_t>();
          d.context_window_source = "discovered";
        }
      }
    }
    d.id = parsers::valid_utf8(d.id);
    if (!d.id.empty()) models.push_back(std::move(d));
  };
  std::istringstream lines(output);
  switch (spec.kind) {
    case ParserSpec::Kind::text:
      for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string first;
        if (words >> first) from_element(json(first));
      }
      break;
    case ParserSpec::Kind::jsonl:
      for (std::string line; std::getline(lines, line);) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json j = parsers::parse_untrusted(line);
        if (j.is_discarded()) {
          problem = "a line is not JSON";
          continue;
        }
        auto path = parsers::JsonPath::compile(spec.models_path);
        const json* element = path ? path->eval(j) : nullptr;
        if (element) from_element(*element);
      }
      break;
    case ParserSpec::Kind::json: {
      json j = parsers::parse_untrusted(output);
      if (j.is_discarded()) {
        problem = "the output is not JSON";
        break;
      }
      auto path = parsers::JsonPath::compile(spec.models_path);
      const json* list = path ? path->eval(j) : nullptr;
      if (!list || !list->is_array()) {
        problem = "no array at " + (spec.models_path.empty() ? std::string("the top") : spec.models_path);
        break;
      }
      for (const auto& element : *list) from_element(element);
      break;
    }
  }
  return models;
}

std::string default_models_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/drover/models";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/drover/models";
  return {};
}

ModelsReport discover_route_models(const Config& config, const Route& route,
                                   const DiscoveryOptions& options) {
  const TransportSpec& transport = route.account_spec->transport;
  if (transport.kind == TransportKind::api) {
    // Always asked afresh: the endpoint answers in milliseconds; its errors are the report's.
    ModelsReport report = from_api(route);
    if (!report.error) merge_configured_windows(report, route);
    if (!report.error) apply_allowlist(report, route);
    report.route = route.id;
    return report;
  }
  DiscoverySpec spec;
  if (transport.kind == TransportKind::acp) {
    spec.via = DiscoverySpec::Via::acp;
  } else {
    spec = transport.cli().discovery;
  }
  ModelsReport report;
  if (spec.via == DiscoverySpec::Via::static_ || spec.via == DiscoverySpec::Via::none) {
    report.source = "configured";
    add_configured(report, route);
    report.route = route.id;
    return report;
  }
  const std::string file = options.cache_dir.empty() ? "" : cache_file(options.cache_dir, route);
  if (!options.refresh && !file.empty())
    if (auto cached = read_cache(file, spec.ttl_ms)) {
      cached->route = route.id;
      apply_allowlist(*cached, route);
      return *cached;
    }

  if (spec.via == DiscoverySpec::Via::acp) {
    if (transport.kind == TransportKind::acp) {
      report = from_acp(route);
    } else {
      auto [sidecar, error] = config.resolve(spec.route);
      if (!sidecar || sidecar->account_spec->transport.kind != TransportKind::acp)
        report.error = error ? *error
                             : Error::make(ErrorCode::config_error,
                                           "discovery route " + spec.route + " is not an ACP route");
      else
        report = from_acp(*sidecar, /*sidecar=*/true);
      report.source = "acp";
    }
  } else {
    report = from_command(route, spec);
  }
  if (report.error) {
    // Fall back to what the configuration says, and say why.
    std::string why = std::string(report.source == "acp" ? "ACP" : "command") +
                      " discovery failed (" + report.error->message + ")";
    report = ModelsReport{};
    report.source = "configured";
    add_configured(report, route);
    report.warnings.push_back(why + "; listing the configured models");
  } else {
    merge_configured_windows(report, route);
    if (!file.empty()) write_cache(file, report);  // as discovered: the allowlist may change
    apply_allowlist(report, route);
  }
  // A failing listing command may print the route's secrets; the endpoint may carry credentials.
  const Secrets secrets = route_secrets(route);
  for (auto& w : report.warnings) w = redact_url(secrets.redact(std::move(w)));
  report.route = route.id;
  return report;
}

json to_json(const ModelsReport& r) {
  json models = json::array();
  for (const auto& m : r.models) {
    json entry{{"id", m.id}};
    if (!m.name.empty()) entry["name"] = m.name;
    if (m.context_window) {
      entry["contextWindow"] = *m.context_window;
      entry["contextWindowSource"] = m.context_window_source;
    }
    models.push_back(std::move(entry));
  }
  json j{{"route", r.route}, {"source", r.source}, {"models", std::move(models)},
         {"warnings", r.warnings}, {"error", r.error ? to_json(*r.error) : json(nullptr)}};
  if (r.current) j["current"] = *r.current;
  if (r.cached) j["cached"] = true;
  return j;
}

}  // namespace drover
