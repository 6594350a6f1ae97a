#include "drover/agent_sessions.h"

#include <filesystem>
#include <memory>
#include <set>

#include "harness/acp.h"
#include "parsers/utf8.h"
#include "src/loop/loop.h"

namespace drover {
namespace {

using nlohmann::json;

constexpr size_t kMaxPages = 100;
constexpr size_t kMaxIdBytes = 1024;
constexpr size_t kMaxTitleBytes = 500;
constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxDirectories = 64;
constexpr size_t kMaxFailuresNamed = 5;

// A string member of the agent's answer: valid UTF-8, cut to `max` bytes; empty when absent or
// not a string.
std::string bounded_string(const json& j, const char* key, size_t max) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  std::string text = parsers::valid_utf8(it->get_ref<const std::string&>());
  if (text.size() > max) text = parsers::valid_utf8(text.substr(0, max)) + "…";
  return text;
}

// The session capability `name` (sessionCapabilities.<name>: an object, not null) of an
// initialize result.
bool advertises(const json& initialize_result, const char* name) {
  const json* at = &initialize_result;
  for (const char* key : {"agentCapabilities", "sessionCapabilities", name}) {
    if (!at->is_object()) return false;
    auto it = at->find(key);
    if (it == at->end() || it->is_null()) return false;
    at = &*it;
  }
  return at->is_object() || (at->is_boolean() && at->get<bool>());
}

std::string agent_name(const json& initialize_result, const Route& route) {
  std::string name;
  if (initialize_result.is_object())
    if (auto info = initialize_result.find("agentInfo"); info != initialize_result.end())
      name = bounded_string(*info, "name", 80);
  if (name.empty()) name = route.account_spec->transport.command;
  return name;
}

Error not_advertised(const Route& route, const json& init, const std::string& method,
                     const char* capability) {
  return Error::make(ErrorCode::unsupported_capability,
                     "the agent of route " + route.id + " (" + agent_name(init, route) +
                         ") does not advertise " + method + " (sessionCapabilities." +
                         capability + " in its initialize answer)");
}

// The ACP route `id` names, or the error saying why there is none.
std::optional<Route> acp_route(const Config& config, const std::string& id,
                               AgentSessionsReport& report) {
  auto [route, error] = config.resolve(id);
  if (!route) {
    report.error = error ? *error : Error::make(ErrorCode::validation_error, "no route " + id);
    return std::nullopt;
  }
  report.route = route->id;
  if (route->account_spec->transport.kind != TransportKind::acp) {
    report.error = Error::make(ErrorCode::unsupported_capability,
                               "route " + route->id + " is not an ACP route: sessions are listed "
                                                      "and deleted through an ACP agent");
    return std::nullopt;
  }
  return route;
}

struct Exchange {
  AgentSessionsReport report;
  std::set<std::string> seen_ids;
  size_t pages = 0;
  size_t skipped = 0;
  bool finished = false;  // the flow ended by itself (answered, refused or failed)
};

// The agent is gone: a flow it did not let finish fails with the reason it ended.
void agent_gone(Exchange& x, Result&& last) {
  if (x.finished || x.report.error) return;
  x.report.error = last.error ? std::move(last.error)
                              : Error::make(ErrorCode::harness_error,
                                            "the agent ended before it answered");
}

void finish(Exchange& x, AcpAgent& agent) {
  x.finished = true;
  shutdown_acp_agent(agent);
}

// One session/list page, then the next one while the agent gives a cursor.
void list_page(AcpAgent& agent, std::shared_ptr<Exchange> x, std::optional<std::string> cwd,
               std::optional<std::string> cursor, size_t max_sessions) {
  json params = json::object();
  if (cwd) params["cwd"] = *cwd;
  if (cursor) params["cursor"] = *cursor;
  acp_agent_call(agent, "session/list", std::move(params),
                 [a = &agent, x, cwd, max_sessions](json result, std::optional<Error> error) {
    AcpAgent& agent = *a;
    if (error) {
      x->report.error = std::move(error);
      return finish(*x, agent);
    }
    ++x->pages;
    const json* list = result.is_object() && result.contains("sessions") ? &result["sessions"]
                                                                         : nullptr;
    if (!list || !list->is_array()) {
      x->report.error = Error::make(ErrorCode::harness_error,
                                    "the agent answered session/list without a sessions array");
      return finish(*x, agent);
    }
    for (const auto& entry : *list) {
      AgentSession s;
      s.id = bounded_string(entry, "sessionId", kMaxIdBytes);
      // Invalid entries are skipped, as the schema tells clients to.
      if (s.id.empty()) {
        ++x->skipped;
        continue;
      }
      if (!x->seen_ids.insert(s.id).second) continue;  // a page repeated
      if (x->report.sessions.size() >= max_sessions) {
        x->report.truncated = true;
        break;
      }
      s.cwd = bounded_string(entry, "cwd", kMaxPathBytes);
      s.title = bounded_string(entry, "title", kMaxTitleBytes);
      s.updated_at = bounded_string(entry, "updatedAt", 64);
      if (auto dirs = entry.find("additionalDirectories");
          dirs != entry.end() && dirs->is_array())
        for (const auto& d : *dirs)
          if (d.is_string() && s.additional_directories.size() < kMaxDirectories)
            s.additional_directories.push_back(
                parsers::valid_utf8(d.get_ref<const std::string&>().substr(0, kMaxPathBytes)));
      x->report.sessions.push_back(std::move(s));
    }
    const std::string next = bounded_string(result, "nextCursor", kMaxIdBytes);
    if (!next.empty() && !x->report.truncated) {
      if (x->pages < kMaxPages) return list_page(agent, x, cwd, next, max_sessions);
      x->report.truncated = true;
    }
    if (x->skipped > 0)
      x->report.warnings.push_back("skipped " + std::to_string(x->skipped) +
                                   " session(s) the agent listed without a sessionId");
    if (x->report.truncated)
      x->report.warnings.push_back("the list was cut at " +
                                   std::to_string(x->report.sessions.size()) + " sessions (" +
                                   std::to_string(x->pages) + " page(s))");
    finish(*x, agent);
  });
}

// session/delete for ids[i], then the rest.
void delete_next(AcpAgent& agent, std::shared_ptr<Exchange> x,
                 std::shared_ptr<const std::vector<std::string>> ids, size_t i,
                 std::shared_ptr<std::vector<std::string>> failures) {
  if (i >= ids->size()) {
    if (!failures->empty()) {
      std::string named;
      for (size_t k = 0; k < failures->size() && k < kMaxFailuresNamed; ++k)
        named += (k ? "; " : "") + (*failures)[k];
      if (failures->size() > kMaxFailuresNamed)
        named += "; and " + std::to_string(failures->size() - kMaxFailuresNamed) + " more";
      x->report.error = Error::make(ErrorCode::harness_error,
                                    "could not delete " + std::to_string(failures->size()) +
                                        " of " + std::to_string(ids->size()) +
                                        " session(s): " + named);
    }
    return finish(*x, agent);
  }
  const std::string& id = (*ids)[i];
  acp_agent_call(agent, "session/delete", {{"sessionId", id}},
                 [a = &agent, x, ids, i, failures](json, std::optional<Error> error) {
                   const std::string& id = (*ids)[i];
                   if (error)
                     failures->push_back(id + ": " + error->message);
                   else
                     x->report.deleted.push_back(id);
                   delete_next(*a, x, ids, i + 1, failures);
                 });
}

}  // namespace

AgentSessionsReport list_agent_sessions(const Config& config, const std::string& route_id,
                                        const AgentSessionsOptions& options) {
  auto x = std::make_shared<Exchange>();
  const std::optional<Route> route = acp_route(config, route_id, x->report);
  if (!route) return std::move(x->report);
  std::optional<std::string> cwd = options.cwd;
  if (cwd) {
    std::error_code ec;
    std::filesystem::path path(*cwd);
    if (path.is_relative()) path = std::filesystem::current_path(ec) / path;
    cwd = path.lexically_normal().string();
  }
  Loop loop;
  start_acp_control_agent(
      loop, *route, options.timeout_ms,
      [x, route, cwd, max = options.max_sessions](AcpAgent& agent, const json& init) {
        if (!advertises(init, "list")) {
          x->report.error = not_advertised(*route, init, "session/list", "list");
          return finish(*x, agent);
        }
        list_page(agent, x, cwd, std::nullopt, max);
      },
      [x](Result&& last) { agent_gone(*x, std::move(last)); });
  loop.run();
  return std::move(x->report);
}

AgentSessionsReport delete_agent_sessions(const Config& config, const std::string& route_id,
                                          const std::vector<std::string>& ids,
                                          const AgentSessionsOptions& options) {
  auto x = std::make_shared<Exchange>();
  for (const auto& id : ids) {
    if (id.empty() || id.size() > kMaxIdBytes) {
      x->report.error = Error::make(ErrorCode::validation_error,
                                    "a session id must be 1 to " + std::to_string(kMaxIdBytes) +
                                        " bytes long");
      return std::move(x->report);
    }
  }
  if (ids.empty()) {
    x->report.error = Error::make(ErrorCode::validation_error, "no session id to delete");
    return std::move(x->report);
  }
  const std::optional<Route> route = acp_route(config, route_id, x->report);
  if (!route) return std::move(x->report);
  auto shared_ids = std::make_shared<const std::vector<std::string>>(ids);
  Loop loop;
  start_acp_control_agent(
      loop, *route, options.timeout_ms,
      [x, route, shared_ids](AcpAgent& agent, const json& init) {
        if (!advertises(init, "delete")) {
          x->report.error = not_advertised(*route, init, "session/delete", "delete");
          return finish(*x, agent);
        }
        delete_next(agent, x, shared_ids, 0, std::make_shared<std::vector<std::string>>());
      },
      [x](Result&& last) { agent_gone(*x, std::move(last)); });
  loop.run();
  return std::move(x->report);
}

json to_json(const AgentSessionsReport& report, bool deletion) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json out = {{"route", report.route}};
  if (deletion) {
    out["deleted"] = report.deleted;
  } else {
    json sessions = json::array();
    for (const auto& s : report.sessions)
      sessions.push_back({{"sessionId", s.id},
                          {"title", or_null(s.title)},
                          {"cwd", or_null(s.cwd)},
                          {"updatedAt", or_null(s.updated_at)},
                          {"additionalDirectories", s.additional_directories}});
    out["sessions"] = std::move(sessions);
    out["truncated"] = report.truncated;
  }
  out["warnings"] = report.warnings;
  out["error"] = report.error ? json{{"code", std::string(to_string(report.error->code))},
                                     {"message", report.error->message}}
                              : json(nullptr);
  return out;
}

}  // namespace drover
