#include "drover/check.h"

#include <filesystem>
#include <memory>
#include <set>

#include "harness/acp.h"
#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"

namespace drover {
namespace {

constexpr int64_t kVersionTimeoutMs = 5000;
constexpr int64_t kAcpTimeoutMs = 15000;

std::string string_member(const nlohmann::json& j, const char* key, const char* fallback) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

// `COMMAND --version` through the process supervisor: the first line of its output.
void probe_version(Loop& loop, CheckRow& row, const std::vector<std::string>& env) {
  SpawnOptions spawn;
  spawn.file = row.path;
  spawn.args = {row.command, "--version"};
  spawn.env = env;
  std::error_code cwd_error;
  spawn.cwd = std::filesystem::current_path(cwd_error).string();
  if (cwd_error) spawn.cwd = "/";
  spawn.watchdog.total_timeout_ms = kVersionTimeoutMs;
  ProcessCallbacks callbacks;
  callbacks.on_complete = [&row](ProcessOutcome&& o) {
    std::string text = o.stdout_tail.empty() ? o.stderr_tail : o.stdout_tail;
    text = text.substr(0, text.find('\n'));
    if (o.info.exit_code == 0 && !text.empty())
      row.version = text;
    else
      row.problem = "'" + row.command + " --version' failed" +
                    (o.info.stopped_by != StopCause::none ? " (timed out)" : "");
  };
  Error error;
  if (Process::start(loop, std::move(spawn), std::move(callbacks), error) == nullptr)
    row.problem = error.message;
}

// The agent's answer to initialize, through the ACP client: agentInfo has its name and version.
void probe_agent(Loop& loop, CheckRow& row, const Route& route) {
  probe_acp_agent(loop, route, kAcpTimeoutMs, [&row](AcpProbe probe) {
    if (probe.answered) {
      const auto& result = probe.initialize_result;
      const auto info = result.is_object() ? result.value("agentInfo", nlohmann::json())
                                           : nlohmann::json();
      row.version = string_member(info, "name", "ACP agent") + " " +
                    string_member(info, "version", "(no version)");
      return;
    }
    row.problem = "'" + row.command + "' did not answer ACP initialize";
    if (probe.error && probe.error->code == ErrorCode::timeout)
      row.problem += " (timed out)";
    else if (probe.error)
      row.problem += ": " + probe.error->message;
  });
}

}  // namespace

std::string find_command(const std::string& command) {
  return resolve_command(command, build_child_environment({}, {}), "");
}

CheckReport check_routes(const Config& config) {
  CheckReport report;
  std::vector<Route> routes;  // of each row, for the ACP handshake
  std::set<std::string> seen;
  const auto env = build_child_environment({}, {});
  for (const auto& r : config.routes()) {
    const auto& t = r.account_spec->transport;
    if (t.kind == TransportKind::api) continue;
    if (!seen.insert(r.provider + ":" + r.account).second) continue;
    CheckRow row;
    row.route = r.provider + ":" + r.transport + ":" + r.account;
    row.preset = r.provider_spec->preset;
    row.command = t.command;
    row.path = resolve_command(t.command, env, "");
    if (row.path.empty()) row.problem = "'" + t.command + "' not found on PATH";
    report.rows.push_back(std::move(row));
    routes.push_back(r);
  }
  Loop loop;
  for (size_t i = 0; i < report.rows.size(); ++i) {
    CheckRow& row = report.rows[i];
    if (row.path.empty()) continue;
    if (routes[i].account_spec->transport.kind == TransportKind::acp)
      probe_agent(loop, row, routes[i]);
    else
      probe_version(loop, row, env);
  }
  loop.run();
  return report;
}

nlohmann::json to_json(const CheckReport& report) {
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : report.rows)
    out.push_back({{"route", row.route},
                   {"preset", row.preset},
                   {"command", row.command},
                   {"path", or_null(row.path)},
                   {"version", or_null(row.version)},
                   {"ok", row.ok()},
                   {"problem", or_null(row.problem)}});
  return out;
}

}  // namespace drover
