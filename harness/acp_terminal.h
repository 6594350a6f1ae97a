// ACP terminal/* requests (create, output, wait_for_exit, kill, release): each command a
// supervised child process in a process group of its own, its output kept for the agent up to a
// bound, every command subject to the run's permission policy (README "ACP routes").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

class Loop;

/// The output a terminal keeps: at most `limit` bytes, the end of what the command wrote (the
/// front is dropped at a character boundary, as ACP asks).
class TerminalOutput {
 public:
  explicit TerminalOutput(uint64_t limit) : limit_(limit) {}
  void append(std::string_view bytes);
  /// What is kept, as valid UTF-8 (ill-formed bytes replaced). While the command still runs
  /// (`complete` false), a character cut by the end of the bytes so far is held back.
  std::string text(bool complete);
  /// Some output was dropped to stay within the limit.
  bool truncated();

 private:
  void trim();
  uint64_t limit_;
  std::string bytes_;
  bool truncated_ = false;
};

/// A terminal/create request, checked.
struct TerminalCommand {
  std::string file;               ///< what is executed: the command, or /bin/sh
  std::vector<std::string> argv;  ///< argv[0] included
  std::vector<std::pair<std::string, std::string>> env;  ///< the agent's entries, in order
  std::optional<std::string> cwd;  ///< as the agent gave it (absolute)
  std::optional<uint64_t> output_limit;
  std::string shown;  ///< the command line, for permission decisions and warnings
};

/// Reads terminal/create's params (the session id is the caller's to check). A command with
/// `args` runs directly, without a shell; a command without `args` is a shell command line (as
/// agents written for editor terminals send it) and runs as `/bin/sh -c COMMAND`. Refused
/// (nullopt and `problem` set): a missing or empty command, an argument or environment entry
/// that is not a string or holds a NUL byte, an environment name that is not a plain identifier,
/// a relative cwd, a negative outputByteLimit, and more than 4096 arguments, 256 environment
/// entries or 1 MiB of them in all.
std::optional<TerminalCommand> parse_terminal_create(const nlohmann::json& params,
                                                     std::string& problem);

/// The answer of terminal/wait_for_exit (and terminal/output's exitStatus): `exitCode` or
/// `signal` (its name, "SIGKILL"), the other null.
nlohmann::json terminal_exit_status(const ProcessInfo& info);

/// The terminals of one agent. Serves its terminal/* requests on the loop; owned by the agent
/// and destroyed before it. Commands still running when it is destroyed get SIGKILL (group).
class AcpTerminals {
 public:
  /// How answers and findings reach the agent's connection and its run.
  struct Hooks {
    std::function<void(const nlohmann::json& id, nlohmann::json result)> respond;
    std::function<void(const nlohmann::json& id, int code, const std::string& message)> fail;
    std::function<void(std::string)> warn;
    /// Every terminal/create the policy decided (kind "execute"), allowed or not, with the
    /// request's params.
    std::function<void(PermissionDecision, const nlohmann::json& params)> decided;
  };
  /// The agent's state a request is checked against.
  struct Scope {
    std::string session_id;  ///< requests naming another session are refused
    std::string cwd;         ///< where a command runs without a cwd of its own
    std::vector<std::filesystem::path> roots;  ///< where a cwd may be (canonical)
    PermissionPolicy policy = PermissionPolicy::approve_reads;
    bool accepting = false;  ///< a turn runs and was not cancelled: new commands may start
  };

  /// `env`: the agent's environment ("NAME=value"); a command gets it without the variables
  /// the route sets whose names look like secrets (KEY, TOKEN, SECRET, PASSWORD), plus the
  /// request's own entries.
  AcpTerminals(Loop& loop, const AcpSpec& spec, const std::vector<std::string>& env, Hooks hooks);
  ~AcpTerminals();
  AcpTerminals(const AcpTerminals&) = delete;
  AcpTerminals& operator=(const AcpTerminals&) = delete;

  /// Serves one request whose method starts with "terminal/"; false for a method it does not
  /// know (the caller answers -32601). Every answer goes through the hooks, now or later
  /// (wait_for_exit: once the command has exited and its output is complete).
  bool serve(const nlohmann::json& id, const std::string& method, const nlohmann::json& params,
             const Scope& scope);

  /// Stops every running command: SIGTERM to its group, SIGKILL after the route's killGrace.
  /// Its terminal stays readable until released. Idempotent.
  void kill_all();
  /// Stops every running command and releases every terminal. `done`, when given, runs once no
  /// command process is left (posted on the loop; dropped if this is destroyed first).
  void release_all(std::function<void()> done = nullptr);
  /// No command process is left.
  bool idle() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace drover
