// Runs the real build/drover binary for end-to-end tests, supervised like any child.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"
#include "staging/session_lock.h"
#include "support/fixtures.h"

namespace drover::test {

struct CliRun {
  int exit_code = -1;
  std::optional<int> term_signal;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
  std::vector<nlohmann::json> jsonl() const {
    std::vector<nlohmann::json> lines;
    size_t start = 0;
    while (start < out.size()) {
      size_t nl = out.find('\n', start);
      if (nl == std::string::npos) nl = out.size();
      if (nl > start) lines.push_back(nlohmann::json::parse(out.substr(start, nl - start)));
      start = nl + 1;
    }
    return lines;
  }
};

struct CliOptions {
  std::optional<std::string> stdin_data;
  std::map<std::string, std::string> env;  ///< added to the test's own environment
  std::vector<std::string> clear_env;
  std::string cwd;
  /// Called with drover's pid and each stdout chunk (e.g. to send it a signal mid-run).
  std::function<void(int64_t pid, std::string_view chunk)> on_stdout;
  /// Runs drover through `/bin/bash -c SCRIPT bash DROVER ARGS...` (the script runs "$@"), to
  /// start it with descriptors closed or its output redirected.
  std::string shell_script;
};

inline CliRun run_drover(const std::vector<std::string>& args, const CliOptions& options = {}) {
  CliRun result;
  Loop loop;
  SpawnOptions spawn;
  spawn.file = drover_binary();
  spawn.args = {"drover"};
  if (!options.shell_script.empty()) {
    spawn.file = "/bin/bash";
    spawn.args = {"bash", "-c", options.shell_script, "bash", drover_binary()};
  }
  spawn.args.insert(spawn.args.end(), args.begin(), args.end());
  std::vector<std::string> clear = options.clear_env;
  clear.push_back("DROVER_CONFIG");  // tests say which config they mean
  spawn.env = build_child_environment(options.env, clear);
  spawn.cwd = options.cwd.empty() ? std::filesystem::current_path().string() : options.cwd;
  spawn.stdin_data = options.stdin_data;
  spawn.watchdog.total_timeout_ms = 60000;
  int64_t pid = 0;
  ProcessCallbacks callbacks;
  callbacks.on_stdout = [&](std::string_view chunk) {
    if (options.on_stdout) options.on_stdout(pid, chunk);
  };
  callbacks.on_complete = [&](ProcessOutcome&& o) {
    result.exit_code = o.info.exit_code.value_or(-1);
    result.term_signal = o.info.term_signal;
    result.out = std::move(o.stdout_tail);
    result.err = std::move(o.stderr_tail);
  };
  Error error;
  Process* process = Process::start(loop, std::move(spawn), std::move(callbacks), error);
  if (process == nullptr) {
    result.err = error.message;
    return result;
  }
  pid = process->pid();
  loop.run();
  return result;
}

/// A private directory for one test, removed with its contents at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/drover-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
  bool empty() const { return std::filesystem::is_empty(path_); }

 private:
  std::string path_;
};

/// A config with one fake-agent route `t:cli:a:m` whose cli block is `cli_json`.
inline std::string fake_agent_config(const nlohmann::json& cli_json,
                                     const std::vector<std::string>& models = {"m"}) {
  nlohmann::json config = {
      {"providers",
       {{"t",
         {{"accounts",
           {{{"id", "a"},
             {"transport", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", cli_json}}},
             {"models", models}}}}}}}}};
  return config.dump(2);
}

// A stand-in `claude` on PATH: answers `claude -p … -- PROMPT` like the real one (through the
// fake agent's json mode, whose one result line the preset's stream-json parser reads).
inline std::string fake_claude_dir(const ScratchDir& dir) {
  std::string bin = dir.path() + "/bin";
  std::filesystem::create_directories(bin);
  std::string script = bin + "/claude";
  std::ofstream(script) << "#!/bin/sh\n[ \"$1\" = -p ] || exit 64\n"
                        << "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
                        << "[ $# -eq 2 ] || exit 64\nexec " << fake_agent()
                        << " --mode json --prompt \"$2\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return bin;
}

/// Takes the session lock of `route` for `session_id` as another run would (runs `loop`).
inline std::optional<SessionLock> hold_session_lock(Loop& loop, const Route& route,
                                                    const std::string& session_id) {
  std::optional<SessionLock> held;
  acquire_session_lock(loop, route.provider + ":" + route.transport + ":" + route.account,
                       session_id, [&](std::optional<SessionLock> l, std::optional<Error>) {
                         if (l) held.emplace(std::move(*l));
                       });
  loop.run();
  return held;
}

/// How many `method` messages drover sent in an ACP transcript.
inline int sent_in_transcript(const std::string& transcript, const std::string& method) {
  std::ifstream in(transcript);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json e = nlohmann::json::parse(line);
    if (e["dir"] == "out" && e.contains("msg") && e["msg"].value("method", "") == method) ++n;
  }
  return n;
}

}  // namespace drover::test
