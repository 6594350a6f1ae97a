// ACP terminal/* against the fake ACP agent (fixtures/fake_acp_agent, --terminal): commands run,
// their output kept and bounded, the permission policy, cwd and env checks, and nothing left
// running after a cancel, a deadline, the agent's death or the end of the run.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "drover/session.h"
#include "harness/acp_terminal.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One ACP route on the fake agent with `fake_args` (each element one argv entry, so a JSON
// object stays whole) and `acp` merged into its acp block.
// ACP args take placeholders, so literal braces (the JSON ones) are written doubled.
std::string literal_arg(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '{' || c == '}') out += c;
  }
  return out;
}

Config terminal_config(const std::vector<std::string>& fake_args, const json& acp = json::object()) {
  json args = json::array();
  for (const auto& arg : fake_args) args.push_back(literal_arg(arg));
  json block = {{"args", args}};
  block.merge_patch(acp);
  json config = {{"routing", {{"fallback", {{"on", json::object()}}}}},
                 {"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport",
                         {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}}},
                        {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

std::vector<std::string> terminal_args(const json& create, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--chunks", "1", "--terminal", create.dump()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

json shell(const std::string& script) { return {{"command", "sh"}, {"args", {"-c", script}}}; }

struct TerminalRun {
  Result result;
  std::vector<Event> events;
};

// Runs the route once; `on_event` may cancel through the control it is given.
TerminalRun run_terminal(const Config& config, RunRequest request,
                         std::function<void(const Event&, RunControl&)> on_event = nullptr) {
  TerminalRun run;
  if (request.prompt.empty()) request.prompt = "hello";
  Loop loop;
  std::shared_ptr<RunControl> control;
  control = start_run(loop, config, builtin_transports(), request,
                      [&](const Event& e) {
                        run.events.push_back(e);
                        if (on_event && control) on_event(e, *control);
                      },
                      [&](Result&& r) { run.result = std::move(r); });
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u) << "every process is gone when the Result is delivered";
  return run;
}

// Alive and not a zombie (a zombie waiting for init to reap it is gone for our purposes).
bool running(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

// A killed process closes its descriptors (the pipes drover waits for) a moment before it turns
// into a zombie: give it that moment, bounded.
bool gone(long pid) {
  for (int i = 0; i < 500; ++i) {
    if (!running(pid)) return true;
    ::usleep(10000);
  }
  return false;
}

// The numbers after "key=" in `text`.
std::vector<long> numbers_after(const std::string& text, const std::string& key) {
  std::vector<long> out;
  std::regex re(key + "=([0-9]+)");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.push_back(std::stol((*it)[1]));
  return out;
}

// The output the fake agent reported in its tool_call_update (--terminal-wait-for).
std::string reported_output(const Event& e) {
  if (e.kind != Event::Kind::tool || !e.raw.is_object()) return "";
  const json* raw = &e.raw;
  if (raw->contains("update")) raw = &(*raw)["update"];
  if (!raw->contains("rawOutput") || !(*raw)["rawOutput"].is_object()) return "";
  return (*raw)["rawOutput"].value("output", "");
}

json initialize_capabilities(const std::string& transcript) {
  std::ifstream in(transcript);
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    if (e["dir"] == "out" && e.contains("msg") && e["msg"].value("method", "") == "initialize")
      return e["msg"]["params"]["clientCapabilities"];
  }
  return nullptr;
}

RunRequest in_dir(const ScratchDir& dir, std::optional<PermissionPolicy> policy = PermissionPolicy::approve_all) {
  RunRequest request;
  request.cwd = dir.path();
  request.permissions = policy;
  return request;
}

// ---- pure parts -------------------------------------------------------------------------------

TEST(TerminalOutput, KeepsTheEndAtACharacterBoundaryWhateverTheChunks) {
  const std::string text = "hello w\xc3\xb6rld \xe2\x82\xac!";  // ö (2 bytes), € (3 bytes)
  for (uint64_t limit : {0, 1, 3, 4, 5, 8, 9, 100}) {
    TerminalOutput whole(limit);
    whole.append(text);
    const std::string expected = whole.text(true);
    EXPECT_LE(expected.size(), limit);
    EXPECT_EQ(whole.truncated(), text.size() > limit);
    EXPECT_EQ(text.substr(text.size() - expected.size()), expected);
    for (size_t split = 0; split <= text.size(); ++split) {
      TerminalOutput pieces(limit);
      pieces.append(text.substr(0, split));
      pieces.append(text.substr(split));
      EXPECT_EQ(pieces.text(true), expected) << "limit " << limit << ", split at " << split;
    }
  }
  TerminalOutput small(2);
  small.append("a\xc3\xb6z");
  EXPECT_EQ(small.text(true), "z") << "the last byte of a cut ö goes too";
}

TEST(TerminalOutput, HoldsBackACharacterStillArrivingAndReplacesBadBytes) {
  TerminalOutput out(100);
  out.append("price: \xe2\x82");  // € cut after two of its three bytes
  EXPECT_EQ(out.text(false), "price: ");
  out.append("\xac");
  EXPECT_EQ(out.text(false), "price: \xe2\x82\xac");
  TerminalOutput bad(100);
  bad.append("a\xff" "b\xe2\x82");
  EXPECT_EQ(bad.text(true), "a\xef\xbf\xbd" "b\xef\xbf\xbd") << "a finished command's bytes";
}

TEST(TerminalCreate, ACommandWithArgsRunsDirectlyWithoutArgsThroughTheShell) {
  std::string problem;
  auto direct = parse_terminal_create(
      {{"sessionId", "s"}, {"command", "ls"}, {"args", {"-la", "$HOME"}}, {"outputByteLimit", 10}},
      problem);
  ASSERT_TRUE(direct) << problem;
  EXPECT_EQ(direct->file, "ls");
  EXPECT_EQ(direct->argv, (std::vector<std::string>{"ls", "-la", "$HOME"}));
  EXPECT_EQ(direct->output_limit, 10u);
  auto line = parse_terminal_create({{"command", "ls -la | head -1"}}, problem);
  ASSERT_TRUE(line) << problem;
  EXPECT_EQ(line->file, "/bin/sh");
  EXPECT_EQ(line->argv, (std::vector<std::string>{"sh", "-c", "ls -la | head -1"}));
  auto empty_args = parse_terminal_create({{"command", "true"}, {"args", json::array()}}, problem);
  ASSERT_TRUE(empty_args);
  EXPECT_EQ(empty_args->file, "/bin/sh");
}

TEST(TerminalCreate, RefusesWhatCannotBeRunAsAsked) {
  const std::vector<std::pair<json, std::string>> bad = {
      {json::object(), "command"},
      {{{"command", ""}}, "command"},
      {{{"command", 5}}, "command"},
      {{{"command", "ls"}, {"args", {"-l", 3}}}, "args"},
      {{{"command", "ls"}, {"args", "-l"}}, "args"},
      {{{"command", std::string("l\0s", 3)}}, "NUL"},
      {{{"command", "ls"}, {"args", {std::string("a\0b", 3)}}}, "NUL"},
      {{{"command", "ls"}, {"env", {{{"name", "BAD NAME"}, {"value", "x"}}}}}, "plain name"},
      {{{"command", "ls"}, {"env", {{{"name", "A=B"}, {"value", "x"}}}}}, "plain name"},
      {{{"command", "ls"}, {"env", {{{"name", "1A"}, {"value", "x"}}}}}, "plain name"},
      {{{"command", "ls"}, {"env", {{{"name", "A"}}}}}, "{name, value}"},
      {{{"command", "ls"}, {"env", {{{"name", "A"}, {"value", std::string("x\0", 2)}}}}}, "NUL"},
      {{{"command", "ls"}, {"cwd", "relative/dir"}}, "absolute"},
      {{{"command", "ls"}, {"outputByteLimit", -1}}, "outputByteLimit"},
      {{{"command", "ls"}, {"outputByteLimit", 1.5}}, "outputByteLimit"},
      {{{"command", "ls"}, {"args", json::array({std::string(600000, 'a'), std::string(600000, 'b')})}},
       "1 MiB"},
  };
  for (const auto& [params, word] : bad) {
    std::string problem;
    EXPECT_FALSE(parse_terminal_create(params, problem)) << params.dump().substr(0, 100);
    EXPECT_NE(problem.find(word), std::string::npos) << problem;
  }
  json many_env = {{"command", "ls"}, {"env", json::array()}};
  for (int i = 0; i < 257; ++i) many_env["env"].push_back({{"name", "V" + std::to_string(i)}, {"value", ""}});
  std::string problem;
  EXPECT_FALSE(parse_terminal_create(many_env, problem));
}

TEST(TerminalCreate, ExitStatusIsACodeOrASignalName) {
  ProcessInfo exited;
  exited.exit_code = 3;
  EXPECT_EQ(terminal_exit_status(exited), (json{{"exitCode", 3}, {"signal", nullptr}}));
  ProcessInfo killed;
  killed.term_signal = SIGKILL;
  EXPECT_EQ(terminal_exit_status(killed), (json{{"exitCode", nullptr}, {"signal", "SIGKILL"}}));
}

// ---- against the fake agent ------------------------------------------------------------------

TEST(AcpTerminal, RunsACommandReadsItsOutputWaitsAndReleases) {
  ScratchDir dir;
  RunRequest request = in_dir(dir);
  request.transcript_path = dir.path() + "/t.ndjson";
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell("echo hi; exit 3")), {{"terminal", true}}), request);
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text, R"(FAKE(fake-large): hello [terminal:exit=3 truncated=false output="hi\n"])");
  EXPECT_EQ(initialize_capabilities(*request.transcript_path)["terminal"], true);
  ASSERT_EQ(run.result.permissions.size(), 1u);
  EXPECT_EQ(run.result.permissions[0].kind, "execute");
  EXPECT_EQ(run.result.permissions[0].decision, "allowed");
  EXPECT_EQ(run.result.permissions[0].rule, "approve-all");
  EXPECT_NE(run.result.permissions[0].title.find("echo hi"), std::string::npos);
  EXPECT_EQ(std::count_if(run.events.begin(), run.events.end(),
                          [](const Event& e) { return e.kind == Event::Kind::permission; }),
            1);
}

TEST(AcpTerminal, StderrAShellLineEnvAndASignal) {
  ScratchDir dir;
  json create = {{"command", "echo \"$GREETING\" >&2; kill -TERM $$"},
                 {"env", {{{"name", "GREETING"}, {"value", "hi there"}}}}};
  TerminalRun run = run_terminal(terminal_config(terminal_args(create), {{"terminal", true}}),
                                 in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find(R"([terminal:signal=SIGTERM truncated=false output="hi there\n"])"),
            std::string::npos)
      << run.result.text;
}

TEST(AcpTerminal, TheRouteSecretsStayOutOfTheCommandsEnvironment) {
  ScratchDir dir;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell("echo ${FAKE_API_KEY:-unset} $PLAIN")),
                      {{"terminal", true},
                       {"env", {{"FAKE_API_KEY", "sekrit-value-123"}, {"PLAIN", "visible"}}}}),
      in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find(R"(output="unset visible\n")"), std::string::npos) << run.result.text;
}

TEST(AcpTerminal, NotOfferedUnlessTheRouteEnablesIt) {
  ScratchDir dir;
  for (const json& acp : {json::object(), json{{"terminal", false}},
                          json{{"terminal", {{"enabled", false}, {"maxTerminals", 2}}}}}) {
    RunRequest request = in_dir(dir);
    request.transcript_path = dir.path() + "/t.ndjson";
    TerminalRun run =
        run_terminal(terminal_config(terminal_args(shell("touch marker")), acp), request);
    ASSERT_FALSE(run.result.error) << run.result.error->message;
    EXPECT_NE(run.result.text.find("[terminal:error -32601]"), std::string::npos) << run.result.text;
    EXPECT_EQ(initialize_capabilities(*request.transcript_path)["terminal"], false);
    EXPECT_TRUE(run.result.permissions.empty());
    EXPECT_FALSE(fs::exists(dir.path() + "/marker"));
  }
}

TEST(AcpTerminal, DenyAllAndApproveReadsRefuseCommandsAndTheTurnFailsDenied) {
  for (PermissionPolicy policy : {PermissionPolicy::deny_all, PermissionPolicy::approve_reads}) {
    ScratchDir dir;
    TerminalRun run = run_terminal(
        terminal_config(terminal_args(shell("touch marker")), {{"terminal", true}}),
        in_dir(dir, policy));
    ASSERT_TRUE(run.result.error);
    EXPECT_EQ(run.result.error->code, ErrorCode::permission_denied) << run.result.error->message;
    EXPECT_NE(run.result.text.find("[terminal:error -32001]"), std::string::npos) << run.result.text;
    ASSERT_EQ(run.result.permissions.size(), 1u);
    EXPECT_EQ(run.result.permissions[0].decision, "denied");
    EXPECT_EQ(run.result.permissions[0].rule, std::string(to_string(policy)));
    EXPECT_FALSE(fs::exists(dir.path() + "/marker")) << "nothing ran";
  }
  // The route's default policy (approve-reads) refuses too.
  ScratchDir dir;
  TerminalRun by_default = run_terminal(
      terminal_config(terminal_args(shell("touch marker")), {{"terminal", true}}),
      in_dir(dir, std::nullopt));
  ASSERT_TRUE(by_default.result.error);
  EXPECT_EQ(by_default.result.error->code, ErrorCode::permission_denied);
  EXPECT_FALSE(fs::exists(dir.path() + "/marker"));
}

TEST(AcpTerminal, PermissionRulesForExecuteDecideOverThePolicy) {
  ScratchDir dir;
  TerminalRun allowed = run_terminal(
      terminal_config(terminal_args(shell("touch marker")),
                      {{"terminal", true}, {"permissionRules", {{"execute", "allow"}}}}),
      in_dir(dir, PermissionPolicy::approve_reads));
  ASSERT_FALSE(allowed.result.error) << allowed.result.error->message;
  EXPECT_TRUE(fs::exists(dir.path() + "/marker"));
  ASSERT_EQ(allowed.result.permissions.size(), 1u);
  EXPECT_EQ(allowed.result.permissions[0].rule, "rule:execute");
  ScratchDir other;
  TerminalRun denied = run_terminal(
      terminal_config(terminal_args(shell("touch marker")),
                      {{"terminal", true}, {"permissionRules", {{"execute", "deny"}}}}),
      in_dir(other, PermissionPolicy::approve_all));
  ASSERT_TRUE(denied.result.error);
  EXPECT_EQ(denied.result.error->code, ErrorCode::permission_denied);
  EXPECT_FALSE(fs::exists(other.path() + "/marker"));
}

TEST(AcpTerminal, OutputIsTruncatedFromTheStartAtACharacterBoundary) {
  ScratchDir dir;
  // "hello wörld": the last 4 bytes start inside ö, so 3 are kept.
  json create = shell("printf 'hello w\\303\\266rld'");
  create["outputByteLimit"] = 4;
  TerminalRun run = run_terminal(terminal_config(terminal_args(create), {{"terminal", true}}),
                                 in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find(R"([terminal:exit=0 truncated=true output="rld"])"),
            std::string::npos)
      << run.result.text;
  // The route's maxOutputBytes bounds what an agent may ask for.
  create["outputByteLimit"] = 1000;
  TerminalRun capped = run_terminal(
      terminal_config(terminal_args(create), {{"terminal", {{"maxOutputBytes", 5}}}}), in_dir(dir));
  ASSERT_FALSE(capped.result.error) << capped.result.error->message;
  EXPECT_NE(capped.result.text.find("truncated=true output=\"\xc3\xb6rld\""), std::string::npos)
      << capped.result.text;
}

TEST(AcpTerminal, TheCwdIsConfinedToTheSessionsDirectories) {
  ScratchDir dir;
  fs::create_directories(dir.path() + "/sub");
  json inside = {{"command", "pwd"}, {"cwd", dir.path() + "/sub/."}};
  TerminalRun ok = run_terminal(terminal_config(terminal_args(inside), {{"terminal", true}}),
                                in_dir(dir));
  ASSERT_FALSE(ok.result.error) << ok.result.error->message;
  const std::string sub = fs::canonical(dir.path() + "/sub").string();
  EXPECT_NE(ok.result.text.find("output=\"" + sub + "\\n\""), std::string::npos) << ok.result.text;
  TerminalRun plain = run_terminal(terminal_config(terminal_args({{"command", "pwd"}}), {{"terminal", true}}),
                                   in_dir(dir));
  EXPECT_NE(plain.result.text.find("output=\"" + fs::canonical(dir.path()).string() + "\\n\""),
            std::string::npos)
      << "the session's cwd by default: " << plain.result.text;
  for (const std::string& outside : {std::string("/"), dir.path() + "/..", dir.path() + "/missing"}) {
    json create = {{"command", "touch escaped-marker"}, {"cwd", outside}};
    TerminalRun refused = run_terminal(
        terminal_config(terminal_args(create), {{"terminal", true}}), in_dir(dir));
    EXPECT_NE(refused.result.text.find("[terminal:error -32602]"), std::string::npos)
        << outside << ": " << refused.result.text;
  }
  // A symlink out of the session's directory is resolved before the check.
  ScratchDir elsewhere;
  fs::create_directory_symlink(elsewhere.path(), dir.path() + "/link");
  TerminalRun linked = run_terminal(
      terminal_config(terminal_args({{"command", "touch escaped-marker"}, {"cwd", dir.path() + "/link"}}),
                      {{"terminal", true}}),
      in_dir(dir));
  EXPECT_NE(linked.result.text.find("[terminal:error -32602]"), std::string::npos) << linked.result.text;
  EXPECT_TRUE(elsewhere.empty());
  EXPECT_FALSE(fs::exists("/escaped-marker"));
}

TEST(AcpTerminal, BadRequestsAreRefusedWithInvalidParams) {
  ScratchDir dir;
  for (const json& create : {json{{"command", "ls"}, {"env", {{{"name", "BAD NAME"}, {"value", "x"}}}}},
                             json{{"command", "ls"}, {"cwd", "relative"}},
                             json{{"command", ""}}}) {
    TerminalRun run = run_terminal(terminal_config(terminal_args(create), {{"terminal", true}}),
                                   in_dir(dir));
    EXPECT_NE(run.result.text.find("[terminal:error -32602]"), std::string::npos) << run.result.text;
  }
  TerminalRun missing = run_terminal(
      terminal_config(terminal_args({{"command", "no-such-command-here"}, {"args", {"x"}}}),
                      {{"terminal", true}}),
      in_dir(dir));
  EXPECT_NE(missing.result.text.find("[terminal:error -32002]"), std::string::npos)
      << missing.result.text;
}

TEST(AcpTerminal, TheNumberOfTerminalsNotReleasedIsBounded) {
  ScratchDir dir;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell("echo x"), {"--terminal-keep", "--terminal-repeat", "3"}),
                      {{"terminal", {{"maxTerminals", 2}}}}),
      in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(numbers_after(run.result.text, "exit").size(), 2u) << run.result.text;
  EXPECT_NE(run.result.text.find("[terminal:error -32001]"), std::string::npos) << run.result.text;
}

TEST(AcpTerminal, KillStopsTheCommandAndTheTerminalStaysReadable) {
  ScratchDir dir;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell("echo started; exec sleep 1000"),
                                    {"--terminal-wait-for", "started", "--terminal-kill"}),
                      {{"terminal", true}}),
      in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find(R"([terminal:signal=SIGTERM truncated=false output="started\n"])"),
            std::string::npos)
      << run.result.text;
}

// The command and its background child, by the pids it printed.
const char* kTwoSleeps = "sleep 1000 & echo child=$!; echo shell=$$; echo ready; wait";

TEST(AcpTerminal, CancelKillsTheCommandsGroupAndLeavesNothingRunning) {
  ScratchDir dir;
  std::vector<long> pids;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell(kTwoSleeps), {"--terminal-wait-for", "ready"}),
                      {{"terminal", true}}),
      in_dir(dir), [&](const Event& e, RunControl& control) {
        const std::string out = reported_output(e);
        if (out.find("ready") == std::string::npos) return;
        for (const char* key : {"child", "shell"})
          for (long pid : numbers_after(out, key)) pids.push_back(pid);
        control.cancel();
      });
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::aborted) << run.result.error->message;
  EXPECT_EQ(run.result.stop_reason, "cancelled");
  ASSERT_EQ(pids.size(), 2u);
  for (long pid : pids) EXPECT_TRUE(gone(pid)) << "pid " << pid << " is still running";
}

TEST(AcpTerminal, ADeadlineKillsTheCommandTheAgentWaitsFor) {
  ScratchDir dir;
  RunRequest request = in_dir(dir);
  request.timeout_ms = 500;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell(kTwoSleeps)), {{"terminal", true}}), request);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout) << run.result.error->message;
}

TEST(AcpTerminal, TheAgentsDeathTakesItsCommandsWithIt) {
  ScratchDir dir;
  std::vector<long> pids;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell(kTwoSleeps),
                                    {"--terminal-wait-for", "ready", "--terminal-no-wait",
                                     "--crash-on-prompt"}),
                      {{"terminal", true}}),
      in_dir(dir), [&](const Event& e, RunControl&) {
        for (const char* key : {"child", "shell"})
          for (long pid : numbers_after(reported_output(e), key)) pids.push_back(pid);
      });
  ASSERT_TRUE(run.result.error);
  EXPECT_NE(run.result.error->message.find("exited with code 3"), std::string::npos)
      << run.result.error->message;
  ASSERT_EQ(pids.size(), 2u);
  for (long pid : pids) EXPECT_TRUE(gone(pid)) << "pid " << pid << " is still running";
}

TEST(AcpTerminal, TheEndOfTheRunKillsWhatTheAgentLeftRunning) {
  ScratchDir dir;
  std::vector<long> pids;
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell(kTwoSleeps), {"--terminal-wait-for", "ready",
                                                         "--terminal-no-wait"}),
                      {{"terminal", true}}),
      in_dir(dir), [&](const Event& e, RunControl&) {
        for (const char* key : {"child", "shell"})
          for (long pid : numbers_after(reported_output(e), key)) pids.push_back(pid);
      });
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find("[terminal:started]"), std::string::npos);
  ASSERT_EQ(pids.size(), 2u);
  for (long pid : pids) EXPECT_TRUE(gone(pid)) << "pid " << pid << " is still running";
}

TEST(AcpTerminal, AGrandchildHoldingTheOutputDoesNotHoldTheWait) {
  ScratchDir dir;
  // The shell exits at once; its background sleep keeps the output pipe open.
  TerminalRun run = run_terminal(
      terminal_config(terminal_args(shell("sleep 1000 & echo child=$!")),
                      {{"terminal", true}, {"watchdog", {{"drainAfterExit", 0.2}}}}),
      in_dir(dir));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find("[terminal:exit=0 truncated=false output=\"child="), std::string::npos)
      << run.result.text;
  const std::vector<long> pids = numbers_after(run.result.text, "child");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(gone(pids[0])) << "the holder is killed with the command's group";
}

TEST(AcpTerminal, ASessionsTurnEndsWithItsCommandsGoneAndTheAgentStays) {
  ScratchDir dir;
  Config config = terminal_config(
      terminal_args(shell(kTwoSleeps), {"--terminal-wait-for", "ready", "--terminal-no-wait"}),
      {{"terminal", true}});
  SessionOptions options;
  options.cwd = dir.path();
  options.permissions = PermissionPolicy::approve_all;
  options.transcript_path = dir.path() + "/t.ndjson";
  Session session(config, options);
  for (int turn = 0; turn < 2; ++turn) {
    std::vector<long> pids;
    Result result = session.prompt("go", [&](const Event& e) {
      for (const char* key : {"child", "shell"})
        for (long pid : numbers_after(reported_output(e), key)) pids.push_back(pid);
    });
    ASSERT_FALSE(result.error) << result.error->message;
    EXPECT_NE(result.text.find("[terminal:started]"), std::string::npos) << result.text;
    ASSERT_EQ(pids.size(), 2u);
    for (long pid : pids) EXPECT_TRUE(gone(pid)) << "turn " << turn << ": pid " << pid;
  }
  EXPECT_EQ(sent_in_transcript(*options.transcript_path, "initialize"), 1) << "one agent for both";
}

}  // namespace
}  // namespace drover::test
