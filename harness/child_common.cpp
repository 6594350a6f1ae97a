#include "harness/child_common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <boost/process/environment.hpp>
#include <boost/process/search_path.hpp>
#include <uv.h>

#include "parsers/utf8.h"
#include "src/config/args_template.h"
#include "src/config/env_value.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"

namespace drover {

// The last non-empty lines of a failing process's stderr (or stdout), for the error message.
std::string failure_excerpt(const std::string& stderr_tail, const std::string& stdout_tail) {
  const std::string& source = stderr_tail.find_first_not_of(" \t\r\n") != std::string::npos
                                  ? stderr_tail
                                  : stdout_tail;
  std::string excerpt = tail_lines(source, 5, 1000);
  while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == '\r' ||
                              excerpt.back() == ' '))
    excerpt.pop_back();
  size_t start = excerpt.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : parsers::valid_utf8(excerpt.substr(start));
}

WatchdogSpec apply_request_timeouts(WatchdogSpec watchdog, const RunRequest& request) {
  for (auto [from, to] : {std::pair{&request.timeout_ms, &watchdog.total_timeout_ms},
                          {&request.idle_timeout_ms, &watchdog.idle_timeout_ms},
                          {&request.start_timeout_ms, &watchdog.start_timeout_ms}}) {
    if (*from) *to = **from > 0 ? *from : std::nullopt;
  }
  return watchdog;
}

std::optional<Error> stop_cause_error(StopCause cause, const std::string& command_name,
                                      const WatchdogSpec& watchdog, const std::string& start_what,
                                      const std::string& idle_what) {
  auto timed_out = [&](const std::string& what, const std::optional<int64_t>& ms) {
    return Error::make(ErrorCode::timeout,
                       command_name + " " + what + " (" + seconds_text(ms.value_or(0)) + ")");
  };
  switch (cause) {
    case StopCause::start_timeout:
      return timed_out(start_what, watchdog.start_timeout_ms);
    case StopCause::idle_timeout:
      return timed_out(idle_what, watchdog.idle_timeout_ms);
    case StopCause::total_timeout:
      return timed_out("did not finish within the timeout", watchdog.total_timeout_ms);
    case StopCause::cancelled:
    case StopCause::shutdown:
      return Error::make(ErrorCode::aborted, "the run was cancelled");
    case StopCause::none:
      break;
  }
  return std::nullopt;
}

std::shared_ptr<SessionLockWait> acquire_run_lock(
    Loop& loop, const Route& route, const std::string& session_id,
    std::optional<int64_t> total_timeout_ms,
    std::function<void(std::optional<SessionLock>, std::optional<Error>, std::optional<int64_t>)>
        on_ready) {
  const std::string scope = route.provider + ":" + route.transport + ":" + route.account;
  const uint64_t waiting_since = uv_hrtime();
  return acquire_session_lock(
      loop, scope, session_id,
      [total_timeout_ms, waiting_since, on_ready = std::move(on_ready)](
          std::optional<SessionLock> lock, std::optional<Error> error) {
        std::optional<int64_t> left = total_timeout_ms;
        if (left) {
          const auto waited = static_cast<int64_t>((uv_hrtime() - waiting_since) / 1000000);
          left = std::max<int64_t>(*left - waited, 1);
        }
        on_ready(std::move(lock), std::move(error), left);
      },
      total_timeout_ms);
}

std::vector<std::string> build_child_environment(const std::map<std::string, std::string>& set,
                                                 const std::vector<std::string>& clear_env) {
  std::vector<std::string> env;
  auto parent = boost::this_process::environment();
  for (const auto& entry : parent) {
    std::string name = entry.get_name();
    if (set.count(name)) continue;
    if (std::find(clear_env.begin(), clear_env.end(), name) != clear_env.end()) continue;
    env.push_back(name + "=" + entry.to_string());
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

std::string resolve_command(const std::string& command, const std::vector<std::string>& env,
                            const std::string& cwd) {
  auto executable = [](const std::filesystem::path& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (command.empty()) return {};
  if (command.find('/') != std::string::npos) {
    std::filesystem::path p(command);
    if (p.is_relative() && !cwd.empty()) p = std::filesystem::path(cwd) / p;
    return executable(p) ? p.string() : std::string();
  }
  std::string path_var;
  for (const auto& entry : env)
    if (entry.rfind("PATH=", 0) == 0) path_var = entry.substr(5);
  std::vector<boost::filesystem::path> dirs;
  std::stringstream split(path_var);
  for (std::string dir; std::getline(split, dir, ':');)
    dirs.emplace_back(dir.empty() ? "." : dir);
  auto found = boost::process::search_path(command, dirs);
  return found.empty() ? std::string() : found.string();
}

// The built-in markers (unless switched off) plus the route's own.
parsers::NoiseMarkers markers_for(const NoiseSpec& spec) {
  if (!spec.builtin_markers) return spec.markers;
  parsers::NoiseMarkers m = parsers::default_noise_markers();
  const parsers::NoiseMarkers& own = spec.markers;
  m.lines.insert(m.lines.end(), own.lines.begin(), own.lines.end());
  m.prefixes.insert(m.prefixes.end(), own.prefixes.begin(), own.prefixes.end());
  m.regexes.insert(m.regexes.end(), own.regexes.begin(), own.regexes.end());
  m.after_noise.insert(m.after_noise.end(), own.after_noise.begin(), own.after_noise.end());
  m.blocks.insert(m.blocks.end(), own.blocks.begin(), own.blocks.end());
  return m;
}

std::pair<std::optional<ChildDirectory>, std::optional<Error>> prepare_child_directory(
    const std::optional<std::string>& request_cwd, const std::optional<std::string>& route_cwd,
    ContextMode mode) {
  std::error_code ec;
  std::string workspace = request_cwd.value_or(route_cwd.value_or(""));
  if (workspace.empty()) workspace = std::filesystem::current_path(ec).string();
  workspace = std::filesystem::absolute(workspace, ec).string();
  if (!std::filesystem::is_directory(workspace, ec))
    return {std::nullopt, Error::make(ErrorCode::config_error,
                                      "working directory " + workspace + " does not exist")};
  ChildDirectory dir;
  dir.workspace = workspace;
  dir.cwd = workspace;
  if (mode == ContextMode::clean) {
    // A fresh empty directory per run, so no project file (CLAUDE.md, AGENTS.md, .git) is in
    // reach.
    Error error;
    dir.temp_dir = TempDir::create("drover-", error);
    if (!dir.temp_dir) return {std::nullopt, std::move(error)};
    dir.cwd = dir.temp_dir->path() + "/work";
    if (::mkdir(dir.cwd.c_str(), 0700) != 0)
      return {std::nullopt, Error::make(ErrorCode::harness_error,
                                        "cannot create the clean working directory " + dir.cwd +
                                            ": " + std::strerror(errno))};
  }
  return {std::move(dir), std::nullopt};
}

namespace {

// Whether the route has a group, envWhen entry or session mode for `policy` (README
// "Permissions": conditions approve-all, approve-reads, deny-all), in what this run uses.
bool route_maps_policy(const TransportSpec& transport, PermissionPolicy policy, bool stream) {
  std::vector<std::vector<std::string>> when;
  auto add = [&when](const std::vector<std::vector<std::string>>& more) {
    when.insert(when.end(), more.begin(), more.end());
  };
  auto add_env = [&when](const std::vector<ConditionalEnv>& env_when) {
    for (const auto& entry : env_when) when.push_back(entry.when);
  };
  if (const CliSpec* cli = transport.if_cli()) {
    add(stream && cli->streaming ? cli->streaming->args_when : cli->args_when);
    add_env(cli->env_when);
  } else if (const AcpSpec* acp = transport.if_acp()) {
    if (acp->policy_modes.count(policy)) return true;
    add(acp->args_when);
    add_env(acp->env_when);
  }
  return conditions_map_policy(when, policy);
}

}  // namespace

PolicyGate gate_permission_policy(const Route& route, const RunRequest& request) {
  const TransportSpec& transport = route.account_spec->transport;
  const bool acp = transport.kind == TransportKind::acp;
  PolicyGate gate;
  gate.policy = request.permissions.value_or(acp ? transport.acp().permissions
                                                 : PermissionPolicy::approve_reads);
  const std::string policy(to_string(gate.policy));
  gate.report.requested = policy;
  // Undeclared: an ACP route keeps answering the requests its agent sends; a print-mode route
  // runs as it always did, and says that nothing enforced the policy.
  const PermissionDeclaration declared =
      transport.permissions.value_or(PermissionDeclaration{
          acp ? PermissionEnforcement::agent_asks : PermissionEnforcement::none, {}, {}});
  const bool cannot =
      declared.enforcement == PermissionEnforcement::none ||
      std::find(declared.cannot_enforce.begin(), declared.cannot_enforce.end(), gate.policy) !=
          declared.cannot_enforce.end();
  gate.report.enforcement = std::string(to_string(declared.enforcement));
  gate.report.mechanism = declared.mechanism;
  if (gate.report.mechanism.empty()) {
    switch (declared.enforcement) {
      case PermissionEnforcement::agent_asks:
        gate.report.mechanism = "session/request_permission, answered by the policy";
        break;
      case PermissionEnforcement::mapped:
        gate.report.mechanism = "the route's policy conditions (argsTemplate, args, envWhen)";
        break;
      case PermissionEnforcement::none:
        gate.report.mechanism = "none: the harness runs with its own defaults";
        break;
    }
  }
  if (!cannot && declared.enforcement == PermissionEnforcement::mapped &&
      gate.policy != PermissionPolicy::approve_all &&
      !route_maps_policy(transport, gate.policy, request.stream)) {
    // Declared mapped, yet nothing of the route's own switches on this policy: the harness runs
    // with its defaults. Said, not refused (the route's author may rely on those defaults).
    gate.report.enforcement = "none";
    gate.report.mechanism = "none: no condition of the route selects " + policy;
    const CliSpec* cli = transport.if_cli();
    const std::string where = acp ? "args, envWhen or policyModes"
                              : request.stream && cli && cli->streaming
                                  ? "streaming.argsTemplate or envWhen"
                                  : "argsTemplate or envWhen";
    gate.warning = "route " + route.id + " has no " + policy + " condition (" + where +
                   ") to map it to the harness's own switches; the " + policy +
                   " policy was not enforced";
    return gate;
  }
  if (!cannot || gate.policy == PermissionPolicy::approve_all) {
    if (cannot) gate.report.enforcement = "none";  // nothing to restrict
    return gate;
  }
  gate.report.enforcement = "none";
  if (!transport.permissions) {
    gate.report.mechanism = "none: the route does not declare how it enforces permissions "
                            "(transport.permissions), so " + policy + " was not enforced";
    if (request.permissions)
      gate.warning = "route " + route.id + " does not declare how it enforces permissions; the " +
                     policy + " policy was not enforced";
    return gate;
  }
  gate.report.mechanism = "none: " + policy + " cannot be enforced" +
                          (declared.mechanism.empty() ? "" : " (" + declared.mechanism + ")");
  gate.refusal = Error::make(
      ErrorCode::unsupported_capability,
      "route " + route.id + " cannot enforce the " + policy + " permission policy (" +
          (declared.enforcement == PermissionEnforcement::none
               ? std::string("transport.permissions is none")
               : "transport.permissions.cannotEnforce lists " + policy) +
          ": its harness offers no way to restrict its tools), so it was not started; use "
          "--approve-all to run it unrestricted, or a route that enforces " + policy);
  return gate;
}

std::function<bool(const std::string&)> env_lookup(const std::vector<std::string>& env) {
  return [&env](const std::string& name) {
    const std::string prefix = name + "=";
    return std::any_of(env.begin(), env.end(), [&](const std::string& entry) {
      return entry.size() > prefix.size() && entry.compare(0, prefix.size(), prefix) == 0;
    });
  };
}

void add_expanded_env(std::map<std::string, std::string>& env,
                      const std::map<std::string, std::string>& values,
                      const std::optional<std::string>& system_file, bool* used_system_file) {
  const EnvLookup lookup = process_env_lookup();
  for (const auto& [name, value] : values)
    if (auto expanded = expand_env_value(value, lookup, system_file)) {
      env[name] = std::move(*expanded);
      if (used_system_file && system_file && env_value_uses_system_file(value))
        *used_system_file = true;
    }
}

void apply_env_when(std::map<std::string, std::string>& env,
                    const std::vector<ConditionalEnv>& env_when, const RunFacts& facts,
                    const std::optional<std::string>& system_file, bool* used_system_file) {
  for (const auto& entry : env_when)
    if (std::all_of(entry.when.begin(), entry.when.end(),
                    [&](const std::string& c) { return condition_holds(c, facts); }))
      add_expanded_env(env, entry.env, system_file, used_system_file);
}

}  // namespace drover
