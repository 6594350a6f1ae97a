#include "harness/acp_terminal.h"

#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "harness/acp.h"
#include "harness/acp_fields.h"
#include "harness/child_common.h"
#include "parsers/utf8.h"
#include "src/config/redact.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"
#include "src/rpc/jsonrpc.h"

namespace drover {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Refused by drover's own rules (the permission policy, the limit on terminals): no JSON-RPC or
// ACP code says so, and this one is in the range JSON-RPC leaves to implementations.
constexpr int kRefused = -32001;

constexpr size_t kMaxArgs = 4096;
constexpr size_t kMaxEnvEntries = 256;
constexpr size_t kMaxCommandBytes = 1u << 20;  // command, arguments and environment entries
constexpr size_t kMaxEnvNameBytes = 256;
// What the Process keeps of its own pipes: the terminal keeps the output itself.
constexpr uint64_t kProcessKeptBytes = 4096;

using acp_fields::member;
using acp_fields::string_at;

bool plain_identifier(const std::string& name) {
  if (name.empty() || name.size() > kMaxEnvNameBytes) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Bytes at the end of `text` that begin a UTF-8 character whose rest has not arrived yet.
size_t unfinished_character(std::string_view text) {
  size_t back = 0;
  while (back < 3 && back < text.size() &&
         (static_cast<unsigned char>(text[text.size() - 1 - back]) & 0xC0) == 0x80)
    ++back;
  if (back == text.size()) return 0;
  const auto lead = static_cast<unsigned char>(text[text.size() - 1 - back]);
  const size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return back + 1 < length ? back + 1 : 0;
}

bool within(const fs::path& path, const std::vector<fs::path>& roots) {
  for (const auto& root : roots) {
    auto rel = path.lexically_relative(root);
    if (!rel.empty() && *rel.begin() != "..") return true;
  }
  return false;
}

// The names the route itself sets (env, cleanEnv, envWhen) that look like secrets.
std::set<std::string> route_secret_names(const AcpSpec& spec) {
  std::set<std::string> names;
  auto add = [&names](const std::map<std::string, std::string>& env) {
    for (const auto& [name, value] : env)
      if (secret_env_name(name)) names.insert(name);
  };
  add(spec.env);
  add(spec.clean_env);
  for (const auto& entry : spec.env_when) add(entry.env);
  return names;
}

std::string env_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

// ---- output ---------------------------------------------------------------------------------

void TerminalOutput::append(std::string_view bytes) {
  if (parsers::append_keeping_tail(bytes_, bytes, static_cast<size_t>(limit_))) truncated_ = true;
}

void TerminalOutput::trim() {
  if (parsers::keep_utf8_tail(bytes_, static_cast<size_t>(limit_)) > 0) truncated_ = true;
}

std::string TerminalOutput::text(bool complete) {
  trim();
  std::string_view kept = bytes_;
  if (!complete) kept.remove_suffix(unfinished_character(kept));
  return parsers::valid_utf8(kept);
}

bool TerminalOutput::truncated() {
  trim();
  return truncated_;
}

// ---- requests -------------------------------------------------------------------------------

std::optional<TerminalCommand> parse_terminal_create(const json& params, std::string& problem) {
  TerminalCommand cmd;
  size_t total = 0;
  auto text_ok = [&](const std::string& s, const std::string& what) {
    total += s.size();
    if (s.find('\0') != std::string::npos) {
      problem = what + " contains a NUL byte";
      return false;
    }
    if (total > kMaxCommandBytes) {
      problem = "the command, its arguments and environment exceed 1 MiB";
      return false;
    }
    return true;
  };
  const json* command = member(params, "command");
  if (!command || !command->is_string() || command->get<std::string>().empty()) {
    problem = "command must be a non-empty string";
    return std::nullopt;
  }
  const std::string line = command->get<std::string>();
  if (!text_ok(line, "command")) return std::nullopt;

  std::vector<std::string> args;
  if (const json* list = member(params, "args")) {
    if (!list->is_array()) {
      problem = "args must be an array of strings";
      return std::nullopt;
    }
    if (list->size() > kMaxArgs) {
      problem = "more than " + std::to_string(kMaxArgs) + " arguments";
      return std::nullopt;
    }
    for (const auto& arg : *list) {
      if (!arg.is_string()) {
        problem = "args must be an array of strings";
        return std::nullopt;
      }
      if (!text_ok(arg.get<std::string>(), "an argument")) return std::nullopt;
      args.push_back(arg.get<std::string>());
    }
  }
  if (const json* env = member(params, "env")) {
    if (!env->is_array()) {
      problem = "env must be an array of {name, value}";
      return std::nullopt;
    }
    if (env->size() > kMaxEnvEntries) {
      problem = "more than " + std::to_string(kMaxEnvEntries) + " environment entries";
      return std::nullopt;
    }
    for (const auto& entry : *env) {
      const json* name = member(entry, "name");
      const json* value = member(entry, "value");
      if (!name || !name->is_string() || !value || !value->is_string()) {
        problem = "env entries must be {name, value} with string members";
        return std::nullopt;
      }
      const std::string n = name->get<std::string>();
      if (!plain_identifier(n)) {
        problem = "environment name " + parsers::excerpt(n, 60) +
                  " is not a plain name (letters, digits, _)";
        return std::nullopt;
      }
      if (!text_ok(value->get<std::string>(), "the value of " + n)) return std::nullopt;
      total += n.size();
      cmd.env.emplace_back(n, value->get<std::string>());
    }
  }
  if (const json* cwd = member(params, "cwd")) {
    if (!cwd->is_string() || cwd->get<std::string>().empty() ||
        cwd->get<std::string>()[0] != '/') {
      problem = "cwd must be an absolute path";
      return std::nullopt;
    }
    if (!text_ok(cwd->get<std::string>(), "cwd")) return std::nullopt;
    cmd.cwd = cwd->get<std::string>();
  }
  if (const json* limit = member(params, "outputByteLimit")) {
    if (!limit->is_number_integer() || (!limit->is_number_unsigned() && limit->get<int64_t>() < 0)) {
      problem = "outputByteLimit must be an integer >= 0";
      return std::nullopt;
    }
    cmd.output_limit = limit->is_number_unsigned() ? limit->get<uint64_t>()
                                                   : static_cast<uint64_t>(limit->get<int64_t>());
  }

  cmd.shown = line;
  if (args.empty()) {
    cmd.file = "/bin/sh";
    cmd.argv = {"sh", "-c", line};
  } else {
    cmd.file = line;
    cmd.argv = {line};
    for (auto& arg : args) {
      cmd.shown += ' ' + arg;
      cmd.argv.push_back(std::move(arg));
    }
  }
  cmd.shown = parsers::excerpt(cmd.shown, 200);
  return cmd;
}

json terminal_exit_status(const ProcessInfo& info) {
  json status = {{"exitCode", nullptr}, {"signal", nullptr}};
  if (info.exit_code)
    status["exitCode"] = *info.exit_code;
  else if (info.term_signal)
    status["signal"] = signal_name(*info.term_signal);
  return status;
}

// ---- the terminals --------------------------------------------------------------------------

namespace {

struct Terminal {
  explicit Terminal(uint64_t limit) : output(limit) {}
  std::string id;
  std::string session_id;
  std::string shown;
  Process* process = nullptr;  // until its completion
  TerminalOutput output;
  std::optional<ProcessInfo> exit;  // set once the command is over, output complete
  std::vector<json> waiting;        // wait_for_exit requests to answer then
};

}  // namespace

struct AcpTerminals::State : std::enable_shared_from_this<AcpTerminals::State> {
  State(Loop& l, const AcpSpec& s) : loop(l), spec(s) {}
  Loop& loop;
  const AcpSpec& spec;  // used while serving requests only (the owner's)
  std::vector<std::string> env;
  Hooks hooks;
  bool owner_alive = true;
  std::map<std::string, std::shared_ptr<Terminal>> terminals;  // not released
  std::vector<std::shared_ptr<Terminal>> running;               // with a live process
  std::vector<std::function<void()>> on_idle;
  uint64_t next_id = 1;
  bool idle_posted = false;

  void create(const json& id, const json& params, const Scope& scope);
  void exited(const std::shared_ptr<Terminal>& terminal, ProcessInfo info);
  void run_when_idle(std::function<void()> done);
};

AcpTerminals::AcpTerminals(Loop& loop, const AcpSpec& spec, const std::vector<std::string>& env,
                           Hooks hooks)
    : state_(std::make_shared<State>(loop, spec)) {
  const std::set<std::string> secret = route_secret_names(spec);
  for (const auto& entry : env)
    if (!secret.count(env_name(entry))) state_->env.push_back(entry);
  state_->hooks = std::move(hooks);
}

AcpTerminals::~AcpTerminals() {
  state_->owner_alive = false;
  state_->hooks = {};
  state_->on_idle.clear();
  // Nothing may outlive the agent: the group goes at once. The completions find the state gone.
  for (const auto& terminal : state_->running)
    if (terminal->process) terminal->process->kill();
}

bool AcpTerminals::idle() const { return state_->running.empty(); }

void AcpTerminals::kill_all() {
  for (const auto& terminal : state_->running)
    if (terminal->process) terminal->process->stop(StopCause::cancelled);
}

void AcpTerminals::release_all(std::function<void()> done) {
  kill_all();
  state_->terminals.clear();
  if (done) state_->run_when_idle(std::move(done));
}

void AcpTerminals::State::run_when_idle(std::function<void()> done) {
  if (done) on_idle.push_back(std::move(done));
  if (!running.empty() || on_idle.empty() || idle_posted) return;
  idle_posted = true;
  loop.post([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->idle_posted = false;
    if (!self->running.empty()) return;  // a command started since: its exit posts again
    auto callbacks = std::move(self->on_idle);
    self->on_idle.clear();
    // Each runs only while the owner is alive: an earlier one may end it.
    for (auto& callback : callbacks) {
      if (!self->owner_alive) return;
      callback();
    }
  });
}

bool AcpTerminals::serve(const json& id, const std::string& method, const json& params,
                         const Scope& scope) {
  static const std::set<std::string> kMethods{"terminal/create", "terminal/output",
                                              "terminal/wait_for_exit", "terminal/kill",
                                              "terminal/release"};
  if (!kMethods.count(method)) return false;
  State& s = *state_;
  if (string_at(params, "sessionId") != scope.session_id || scope.session_id.empty()) {
    s.hooks.fail(id, rpc::code::invalid_params, "unknown session");
    return true;
  }
  if (method == "terminal/create") {
    s.create(id, params, scope);
    return true;
  }
  const std::string terminal_id = string_at(params, "terminalId");
  auto found = s.terminals.find(terminal_id);
  if (found == s.terminals.end() || found->second->session_id != scope.session_id) {
    s.hooks.fail(id, rpc::code::invalid_params,
                 "unknown terminal " + parsers::excerpt(terminal_id, 60));
    return true;
  }
  std::shared_ptr<Terminal> terminal = found->second;
  if (method == "terminal/output") {
    const bool complete = terminal->exit.has_value();
    json result = {{"output", terminal->output.text(complete)},
                   {"truncated", terminal->output.truncated()}};
    if (terminal->exit) result["exitStatus"] = terminal_exit_status(*terminal->exit);
    s.hooks.respond(id, std::move(result));
  } else if (method == "terminal/wait_for_exit") {
    if (terminal->exit)
      s.hooks.respond(id, terminal_exit_status(*terminal->exit));
    else
      terminal->waiting.push_back(id);
  } else if (method == "terminal/kill") {
    if (terminal->process) terminal->process->stop(StopCause::cancelled);
    s.hooks.respond(id, json::object());
  } else {  // terminal/release
    if (terminal->process) terminal->process->stop(StopCause::cancelled);
    s.terminals.erase(found);
    s.hooks.respond(id, json::object());
  }
  return true;
}

void AcpTerminals::State::create(const json& id, const json& params, const Scope& scope) {
  std::string problem;
  std::optional<TerminalCommand> cmd = parse_terminal_create(params, problem);
  if (!cmd) {
    hooks.fail(id, rpc::code::invalid_params, "terminal/create: " + problem);
    return;
  }
  PermissionDecision decision;
  decision.title = "terminal: " + cmd->shown;
  decision.kind = "execute";
  if (!scope.accepting) {
    decision.decision = "cancelled";
    decision.rule = "cancel";
    hooks.decided(decision, params);
    hooks.fail(id, rpc::code::request_cancelled, "the turn is over or was cancelled");
    return;
  }
  // A command is tool kind `execute`, whatever it runs: only approve-all, or a permissionRules
  // entry for execute, lets it start.
  PermissionChoice choice = choose_permission(spec, scope.policy, "execute", json::array());
  decision.rule = choice.rule;
  decision.decision = choice.allowed ? "allowed" : "denied";
  hooks.decided(decision, params);
  if (!choice.allowed) {
    hooks.fail(id, kRefused,
               "the permission policy (" + choice.rule + ") does not allow running commands");
    return;
  }
  if (terminals.size() >= spec.terminal.max_terminals) {
    hooks.fail(id, kRefused,
               "too many terminals (" + std::to_string(terminals.size()) +
                   " not released; the route allows " +
                   std::to_string(spec.terminal.max_terminals) + ")");
    return;
  }
  std::string cwd = scope.cwd;
  if (cmd->cwd) {
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(*cmd->cwd, ec);
    if (ec || !within(resolved, scope.roots)) {
      hooks.warn("refused a terminal in " + parsers::excerpt(*cmd->cwd, 200) +
                 ": outside the session's directories");
      hooks.fail(id, rpc::code::invalid_params, "cwd is outside the session's directories");
      return;
    }
    if (!fs::is_directory(resolved, ec)) {
      hooks.fail(id, rpc::code::invalid_params, "cwd is not a directory");
      return;
    }
    cwd = resolved.string();
  }

  SpawnOptions spawn;
  spawn.env = env;
  for (const auto& [name, value] : cmd->env) {
    auto same = [&name = name](const std::string& entry) { return env_name(entry) == name; };
    spawn.env.erase(std::remove_if(spawn.env.begin(), spawn.env.end(), same), spawn.env.end());
    spawn.env.push_back(name + "=" + value);
  }
  spawn.file = resolve_command(cmd->file, spawn.env, cwd);
  if (spawn.file.empty()) {
    hooks.fail(id, rpc::code::resource_not_found,
               "command not found or not executable: " + parsers::excerpt(cmd->file, 200));
    return;
  }
  spawn.args = std::move(cmd->argv);
  spawn.cwd = cwd;
  spawn.watchdog.grace_ms = spec.watchdog.grace_ms;
  spawn.watchdog.drain_ms = spec.watchdog.drain_ms;
  spawn.max_output_bytes = kProcessKeptBytes;
  spawn.kill_leftovers = true;

  const uint64_t limit =
      std::min(cmd->output_limit.value_or(spec.terminal.max_output_bytes),
               spec.terminal.max_output_bytes);
  auto terminal = std::make_shared<Terminal>(limit);
  terminal->id = "term-" + std::to_string(next_id++);
  terminal->session_id = scope.session_id;
  terminal->shown = cmd->shown;

  ProcessCallbacks callbacks;
  callbacks.on_stdout = [terminal](std::string_view chunk) { terminal->output.append(chunk); };
  callbacks.on_stderr = callbacks.on_stdout;
  std::weak_ptr<State> weak = weak_from_this();
  callbacks.on_complete = [weak, terminal](ProcessOutcome&& outcome) {
    terminal->process = nullptr;
    if (auto self = weak.lock()) self->exited(terminal, std::move(outcome.info));
  };
  Error error;
  Process* process = Process::start(loop, std::move(spawn), std::move(callbacks), error);
  if (process == nullptr) {
    hooks.fail(id, error.code == ErrorCode::not_found ? rpc::code::resource_not_found
                                                       : rpc::code::invalid_params,
               "terminal/create: " + error.message);
    return;
  }
  terminal->process = process;
  terminals[terminal->id] = terminal;
  running.push_back(terminal);
  spdlog::debug("terminal {} started: {} (pid {})", terminal->id, terminal->shown, process->pid());
  hooks.respond(id, {{"terminalId", terminal->id}});
}

void AcpTerminals::State::exited(const std::shared_ptr<Terminal>& terminal, ProcessInfo info) {
  running.erase(std::remove(running.begin(), running.end(), terminal), running.end());
  terminal->exit = std::move(info);
  if (!owner_alive) return;
  for (const auto& waiting : terminal->waiting) hooks.respond(waiting, terminal_exit_status(*terminal->exit));
  terminal->waiting.clear();
  if (running.empty()) run_when_idle(nullptr);
}

}  // namespace drover
