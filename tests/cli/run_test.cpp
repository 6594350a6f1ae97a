// `drover run` and `drover routes` end to end: the real binary, the fake agent, real configs.
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "src/core/errors.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

const json kJsonCli = {
    {"argsTemplate", {"--mode", "json", "--prompt", "{prompt}", json::array({"--model", "{model}"})}},
    {"parser",
     {{"kind", "json"},
      {"textPath", "result"},
      {"usagePath", ""},
      {"sessionIdPath", "session_id"},
      {"stopReasonPath", "stop_reason"},
      {"error", {{"path", "result"}, {"wherePath", "is_error"}, {"whereEquals", true}}}}}};

json cli_with(const json& base, const json& patch) {
  json out = base;
  out.merge_patch(patch);
  return out;
}

TEST(CliRun, JsonOutputCarriesThePinnedFields) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliRun run = run_drover({"run", "--config", config, "--output", "json", "hello world"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = run.json();
  EXPECT_EQ(r["text"], "echo: hello world [model=m]");
  EXPECT_EQ(r["route"], "t:cli:a:m");
  EXPECT_EQ(r["model"], "m");
  EXPECT_TRUE(r["error"].is_null());
  EXPECT_EQ(r["warnings"], json::array());
  EXPECT_EQ(r["sessionId"], "fake-session-1");
  EXPECT_EQ(r["stopReason"], "end_turn");
  EXPECT_EQ(r["usage"]["inputTokens"], 2);
  EXPECT_EQ(r["usage"]["outputTokens"], 4);
  EXPECT_EQ(r["usage"]["cacheReadTokens"], 3);
  EXPECT_DOUBLE_EQ(r["usage"]["costUsd"].get<double>(), 0.0012);
  EXPECT_EQ(r["usage"]["calls"], 1);
  ASSERT_EQ(r["attempts"].size(), 1u);
  EXPECT_EQ(r["attempts"][0]["route"], "t:cli:a:m");
  EXPECT_EQ(r["attempts"][0]["transport"], "cli");
  EXPECT_EQ(r["process"]["exitCode"], 0);
  EXPECT_TRUE(r["process"].contains("cpuUserMs"));
  EXPECT_TRUE(r["process"].contains("peakRssKb"));
  EXPECT_TRUE(r["timings"].contains("startedAt"));
}

TEST(CliRun, TextOutputIsTheAnswerOnly) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliRun run = run_drover({"run", "-c", config, "-m", "other", "hi"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "echo: hi [model=other]\n");
  EXPECT_EQ(run.err, "");
}

TEST(CliRun, PromptFromStdinWithDash) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.stdin_data = "from stdin\n";
  CliRun run = run_drover({"run", "-c", config, "-"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "echo: from stdin\n [model=m]\n");
}

TEST(CliRun, JsonlStreamsDeltasThatConcatenateToTheAnswer) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "jsonl", "--ms", "30", "--prompt", "{prompt}"}},
              {"parser",
               {{"kind", "jsonl"},
                {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}},
                {"usage", {{"path", "usage"}, {"wherePath", "type"}, {"whereEquals", "usage"}}},
                {"sessionId", "session_id"},
                {"stopReason", "stop_reason"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "jsonl", "stream this answer please"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto lines = run.jsonl();
  ASSERT_GE(lines.size(), 4u);
  std::string concatenated;
  size_t deltas = 0, usage = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i]["type"] == "usage") {  // the agent's usage line, normalized
      ++usage;
      EXPECT_EQ(lines[i]["usage"], lines.back()["usage"]) << lines[i].dump();
      continue;
    }
    EXPECT_EQ(lines[i]["type"], "delta");
    concatenated += lines[i]["text"].get<std::string>();
    ++deltas;
  }
  EXPECT_EQ(deltas, 3u) << "one delta per agent line";
  EXPECT_EQ(usage, 1u);
  const json& result = lines.back();
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["text"], "echo: stream this answer please");
  EXPECT_EQ(concatenated, result["text"]);
  EXPECT_EQ(result["sessionId"], "fake-session-1");
  EXPECT_EQ(result["stopReason"], "end_turn");
  EXPECT_GT(result["timings"]["firstDeltaMs"].get<double>(), 0.0);
}

TEST(CliRun, StdinInputKeepsThePromptOutOfArgv) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "argv", "--stdin"}},
              {"input", "stdin"},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "a secret prompt"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json argv = json::parse(run.json()["text"].get<std::string>());
  ASSERT_EQ(argv.size(), 4u);
  EXPECT_EQ(argv[1], "--mode");
  EXPECT_EQ(run.out.find("a secret prompt"), std::string::npos);
}

// -o json writes a long answer escaped piece by piece: multi-byte characters, quotes,
// backslashes and newlines across the pieces' edges must come out exactly as one dump() would.
TEST(CliRun, ALongAnswerInJsonOutputIsExactAcrossThePiecesItIsWrittenIn) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "echo", "--stdin"}},
              {"input", "stdin"},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  std::string prompt;
  const std::string pieces[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\"", "\\",
                                "/", "\n"};
  for (size_t i = 0; prompt.size() < 300000; ++i) prompt += pieces[(i * 7 + i / 5) % 8];
  prompt += "end";
  CliOptions options;
  options.stdin_data = prompt;
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "-"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_FALSE(run.out.empty());
  EXPECT_EQ(run.out.back(), '\n');
  EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "one line";
  json r = run.json();
  EXPECT_EQ(r["text"].get<std::string>(), "echo: " + prompt);
  EXPECT_TRUE(r["error"].is_null());
}

TEST(CliRun, OutputFileIsTheAnswerAndIsRemovedAfterwards) {
  ScratchDir dir;
  ScratchDir tmp;
  json cli = {{"argsTemplate", {"--mode", "output-file", "--output-file", "{output_file}",
                                "--prompt", "{prompt}"}},
              {"parser", {{"kind", "jsonl"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}};
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "write it"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.json()["text"], "echo: write it");
  EXPECT_TRUE(tmp.empty()) << "the {output_file} directory must be gone";
}

TEST(CliRun, AnAnswerFileKeepsOnlyMaxOutputBytes) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "output-file", "--output-file", "{output_file}",
                                "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"maxOutputBytes", 8}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "write it"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = run.json();
  const std::string text = r["text"];
  const std::string whole = "echo: write it";
  EXPECT_LE(text.size(), 8u);
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(whole.substr(whole.size() - text.size()), text);
  EXPECT_NE(r["warnings"].dump().find("the answer file exceeded 8 bytes (maxOutputBytes)"),
            std::string::npos)
      << r["warnings"].dump();
}

TEST(CliRun, HarnessErrorPayloadIsUnwrappedAndClassified) {
  ScratchDir dir;
  auto config = dir.write("drover.json",
                          fake_agent_config(cli_with(kJsonCli, {{"argsTemplate",
                                                                 {"--mode", "error-json", "--prompt", "{prompt}"}}})));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  EXPECT_EQ(run.exit_code, 1);
  json r = run.json();
  EXPECT_EQ(r["error"]["code"], "rate_limit");
  EXPECT_EQ(r["error"]["retryable"], true);
  std::string message = r["error"]["message"];
  EXPECT_NE(message.find("Rate limit reached for requests"), std::string::npos) << message;
  EXPECT_EQ(message.find("{\"type\""), std::string::npos) << "envelope not unwrapped: " << message;
}

TEST(CliRun, AnErrorNestedTooDeeplyIsAnErrorNamingTheLimitNotACrash) {
  // {"type":"error","message":[[[...]]]} 10^5 / 10^6 levels deep once killed drover (SIGSEGV).
  for (const char* depth : {"100000", "1000000"}) {
    ScratchDir dir;
    json cli = {{"argsTemplate", {"--mode", "deep-json", "--bytes", depth, "--prompt", "{prompt}"}},
                {"parser",
                 {{"kind", "jsonl"},
                  {"textPath", "text"},
                  {"error", {{"path", "message"}, {"wherePath", "type"}, {"whereEquals", "error"}}}}}};
    auto config = dir.write("drover.json", fake_agent_config(cli));
    CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
    EXPECT_FALSE(run.term_signal) << depth;
    EXPECT_EQ(run.exit_code, 1) << run.err;
    json r = run.json();
    const std::string message = r["error"]["message"];
    EXPECT_NE(message.find("stdout line 1 is JSON nested deeper than 512 levels"), std::string::npos)
        << message;
  }
}

TEST(CliRun, MaxOutputBytesBoundsTheAnswerAndItsWarningIsTrue) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "big-text", "--bytes", "8388608", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"maxOutputBytes", 1048576}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = run.json();
  const std::string text = r["text"];
  EXPECT_LE(text.size(), 1048576u);
  EXPECT_GT(text.size(), 1000000u);
  bool said = false;
  for (const auto& w : r["warnings"])
    said = said || w.get<std::string>().find("only its last " + std::to_string(text.size()) +
                                             " bytes were kept") != std::string::npos;
  EXPECT_TRUE(said) << r["warnings"].dump();
}

TEST(CliRun, NonZeroExitBecomesAnErrorWithStderr) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "stderr-error", "--text", "model exploded", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "x"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("harness_error"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("exited with code 1: fake_agent: fatal: model exploded"),
            std::string::npos)
      << run.err;
}

TEST(CliRun, KilledBySignalIsAHarnessError) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "die", "--signal", "ABRT", "--prompt", "{prompt}"}}, {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  EXPECT_EQ(run.exit_code, 1);
  json r = run.json();
  EXPECT_EQ(r["error"]["code"], "harness_error");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("SIGABRT"), std::string::npos);
  EXPECT_EQ(r["process"]["signal"], SIGABRT);
}

TEST(CliRun, WatchdogTimeoutExitsThree) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "hang-after", "--text", "partial", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "--idle-timeout", "0.3", "x"});
  EXPECT_EQ(run.exit_code, 3);
  json r = run.json();
  EXPECT_EQ(r["error"]["code"], "timeout");
  EXPECT_EQ(r["process"]["stoppedBy"], "idle_timeout");
  EXPECT_NE(r["process"]["evidence"].get<std::string>().find("partial"), std::string::npos);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("idle timeout (0.3 s)"),
            std::string::npos);
}

TEST(CliRun, EmptyAnswerIsRetryableNeverSuccess) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "exit", "--exit", "0", "--prompt", "{prompt}"}}, {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.json()["error"]["code"], "temporary_unavailable");
  EXPECT_EQ(run.json()["error"]["retryable"], true);
}

TEST(CliRun, InvalidUtf8BecomesReplacementCharactersWithAWarning) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "invalid-utf8", "--prompt", "{prompt}"}}, {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = run.json();  // parses: the output is valid UTF-8 JSON
  EXPECT_NE(r["text"].get<std::string>().find("valid start \xEF\xBF\xBD"), std::string::npos);
  bool warned = false;
  for (const auto& w : r["warnings"]) warned |= w.get<std::string>().find("UTF-8") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(CliRun, MissingCommandIsNotFound) {
  ScratchDir dir;
  json config = json::parse(fake_agent_config(kJsonCli));
  config["providers"]["t"]["accounts"][0]["transport"]["command"] = "no-such-harness-xyz";
  auto path = dir.write("drover.json", config.dump());
  CliRun run = run_drover({"run", "-c", path, "-o", "json", "x"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.json()["error"]["code"], "not_found");
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("no-such-harness-xyz"),
            std::string::npos);
}

TEST(CliRun, ConfigErrorsExitTwoAndNameThePath) {
  ScratchDir dir;
  json config = json::parse(fake_agent_config(kJsonCli));
  config["providers"]["t"]["accounts"][0]["transport"]["cli"]["parser"]["kind"] = "xml";
  auto path = dir.write("drover.json", config.dump());
  CliRun run = run_drover({"run", "-c", path, "x"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("providers.t.accounts[0].transport.cli.parser.kind"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("\"xml\""), std::string::npos) << run.err;
}

TEST(CliRun, UsageErrorsExitTwo) {
  EXPECT_EQ(run_drover({"run"}).exit_code, 2);
  EXPECT_EQ(run_drover({"run", "--no-such-flag", "x"}).exit_code, 2);
  EXPECT_EQ(run_drover({"run", "--output", "xml", "x"}).exit_code, 2);
  EXPECT_EQ(run_drover({"frobnicate"}).exit_code, 2);
  CliRun missing = run_drover({"run", "-c", "/nonexistent/drover.json", "x"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/drover.json"), std::string::npos);
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliRun unknown_route = run_drover({"run", "-c", config, "-r", "nope", "x"});
  EXPECT_EQ(unknown_route.exit_code, 2);
  EXPECT_NE(unknown_route.err.find("t:cli:a:m"), std::string::npos) << "lists what exists";
}

TEST(CliRun, HelpOnEveryCommand) {
  for (auto args : {std::vector<std::string>{"--help"}, {"run", "--help"}, {"routes", "--help"}}) {
    CliRun run = run_drover(args);
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_NE(run.out.find("Usage"), std::string::npos);
  }
}

class CliSignal : public ::testing::TestWithParam<int> {};

TEST_P(CliSignal, StopsTheGroupCleansUpAndExits128PlusSignal) {
  const int signum = GetParam();
  ScratchDir dir;
  ScratchDir tmp;
  json cli = {{"argsTemplate", {"--mode", "tree-ignore-term", "--output-file", "{output_file}", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "jsonl"}}},
              {"watchdog", {{"killGrace", 0.3}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  // Signal drover once the run has certainly started (its temp dir exists), as a user would.
  bool signalled = false;
  CliRun run;
  {
    Loop loop;
    uv_timer_t poll;
    uv_timer_init(loop.uv(), &poll);
    int64_t drover_pid = 0;
    struct Ctx {
      ScratchDir* tmp;
      int64_t* pid;
      bool* signalled;
      int signum;
    } ctx{&tmp, &drover_pid, &signalled, signum};
    poll.data = &ctx;
    SpawnOptions spawn;
    spawn.file = drover_binary();
    spawn.args = {"drover", "run", "-c", config, "-o", "json", "x"};
    spawn.env = build_child_environment({{"TMPDIR", tmp.path()}}, {"DROVER_CONFIG"});
    spawn.cwd = dir.path();
    ProcessCallbacks callbacks;
    callbacks.on_complete = [&](ProcessOutcome&& o) {
      run.exit_code = o.info.exit_code.value_or(-1);
      run.out = o.stdout_tail;
      run.err = o.stderr_tail;
      uv_close(reinterpret_cast<uv_handle_t*>(&poll), nullptr);
    };
    Error error;
    Process* p = Process::start(loop, std::move(spawn), std::move(callbacks), error);
    ASSERT_NE(p, nullptr);
    drover_pid = p->pid();
    uv_timer_start(
        &poll,
        [](uv_timer_t* t) {
          auto* c = static_cast<Ctx*>(t->data);
          // The run's temp dir exists and the agent has had time to set up its tree.
          if (!*c->signalled && !c->tmp->empty()) {
            *c->signalled = true;
            ::usleep(200000);
            ::kill(static_cast<pid_t>(*c->pid), c->signum);
          }
        },
        20, 20);
    loop.run();
  }
  ASSERT_TRUE(signalled) << run.err << run.out;
  EXPECT_EQ(run.exit_code, 128 + signum) << run.err;
  json r = run.json();
  EXPECT_EQ(r["error"]["code"], "aborted");
  EXPECT_EQ(r["error"]["message"], "interrupted by " + signal_name(signum));
  EXPECT_EQ(r["process"]["stoppedBy"], "cancelled");
  EXPECT_EQ(r["process"]["signal"], SIGKILL) << "the agent ignores SIGTERM: grace, then SIGKILL";
  EXPECT_TRUE(tmp.empty()) << "temp files must be removed on interrupt";
}

INSTANTIATE_TEST_SUITE_P(Signals, CliSignal,
                         ::testing::Values(SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                           SIGALRM, SIGXCPU, SIGRTMIN));

TEST(CliRun, EnvironmentPassesThroughExceptClearEnvAndSetsEnv) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "env", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"env", {{"SET_BY_ROUTE", "yes"}}},
              {"clearEnv", {"CLEARED_BY_ROUTE"}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliOptions options;
  options.env = {{"CLEARED_BY_ROUTE", "1"}, {"PASSED_THROUGH", "2"}};
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json env = json::parse(run.json()["text"].get<std::string>());
  EXPECT_EQ(env["SET_BY_ROUTE"], "yes");
  EXPECT_EQ(env["PASSED_THROUGH"], "2");
  EXPECT_FALSE(env.contains("CLEARED_BY_ROUTE"));
}

TEST(CliRun, CwdFlagSetsTheHarnessDirectory) {
  ScratchDir dir;
  ScratchDir work;
  json cli = {{"argsTemplate", {"--mode", "cwd", "--prompt", "{prompt}"}}, {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "--cwd", work.path(), "x"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, std::filesystem::canonical(work.path()).string() + "\n");
}

TEST(CliRoutes, ListsRoutesWithoutSecrets) {
  ScratchDir dir;
  json config = json::parse(fake_agent_config(
      cli_with(kJsonCli, {{"env", {{"ACME_API_KEY", "sk-canary-0123456789"}}}}), {"m1", "m2"}));
  config["defaultRoute"] = "t:cli:a:m2";
  auto path = dir.write("drover.json", config.dump());
  CliRun text = run_drover({"routes", "-c", path});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  t:cli:a:m1"), std::string::npos);
  EXPECT_NE(text.out.find("* t:cli:a:m2"), std::string::npos);
  CliRun js = run_drover({"routes", "-c", path, "--json"});
  ASSERT_EQ(js.exit_code, 0);
  json routes = js.json();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[1]["default"], true);
  EXPECT_EQ(routes[0]["env"], json({"ACME_API_KEY"}));
  for (const auto& out : {text.out, js.out, text.err, js.err})
    EXPECT_EQ(out.find("sk-canary"), std::string::npos);
}

TEST(CliRun, WorkspaceConfigIsFoundWithoutFlags) {
  ScratchDir dir;
  dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.cwd = dir.path();
  options.env = {{"XDG_CONFIG_HOME", dir.path() + "/no-global"}};
  ASSERT_EQ(run_drover({"trust"}, options).exit_code, 0);  // it names a command to run
  CliRun run = run_drover({"run", "hello"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "echo: hello [model=m]\n");
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliZeroConfig, UsesTheFirstHarnessOnPathAndSaysWhich) {
  ScratchDir dir;
  CliOptions options;
  options.cwd = dir.path();  // no ./drover.json
  options.env = {{"PATH", fake_claude_dir(dir) + ":/usr/bin:/bin"},
                 {"XDG_CONFIG_HOME", dir.path() + "/xdg"}};
  CliRun run = run_drover({"run", "-o", "json", "hello there"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("using claude-cli (claude found on PATH)"), std::string::npos) << run.err;
  auto r = run.json();
  EXPECT_EQ(r["text"], "echo: hello there");
  EXPECT_EQ(r["route"], "claude-cli:cli:default:");
  EXPECT_EQ(r["sessionId"], "fake-session-1");
  EXPECT_DOUBLE_EQ(r["usage"]["costUsd"].get<double>(), 0.0012);
}

TEST(CliZeroConfig, PresetRouteWorksWithoutAConfigFile) {
  ScratchDir dir;
  CliOptions options;
  options.cwd = dir.path();
  options.env = {{"PATH", fake_claude_dir(dir) + ":/usr/bin:/bin"},
                 {"XDG_CONFIG_HOME", dir.path() + "/xdg"}};
  CliRun run = run_drover({"run", "--route", "claude-cli", "hi"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "echo: hi\n");
  EXPECT_EQ(run.err.find("using"), std::string::npos) << "an explicit route needs no notice";
}

TEST(CliZeroConfig, NoHarnessAnywhereIsAUsageError) {
  ScratchDir dir;
  CliOptions options;
  options.cwd = dir.path();
  options.env = {{"PATH", dir.path()}, {"XDG_CONFIG_HOME", dir.path() + "/xdg"}};
  CliRun run = run_drover({"run", "hi"}, options);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("looked for claude, codex, pi, opencode"), std::string::npos) << run.err;
}

TEST(CliPresets, ListsAndShowsPresets) {
  CliRun list = run_drover({"presets", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::set<std::string> names;
  for (const auto& p : list.json()) names.insert(p["name"]);
  for (const char* expected : {"claude-cli", "codex-cli", "pi-cli", "pi-cli-text", "opencode-cli",
                               "openclaude-cli", "gemini-cli", "gemini-acp"})
    EXPECT_TRUE(names.count(expected)) << expected;
  CliRun show = run_drover({"presets", "show", "codex-cli"});
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("\"command\": \"codex\""), std::string::npos);
  EXPECT_EQ(run_drover({"presets", "show", "nope"}).exit_code, 2);
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliNoise, BannerIsRemovedFromTheAnswerAndTheDeltas) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "drip", "--ms", "1", "--text",
                                "pi v0.73.1\n---\n\nThe answer is 42.", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "jsonl", "x"}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto lines = run.jsonl();
  std::string deltas;
  for (const auto& l : lines)
    if (l["type"] == "delta") deltas += l["text"].get<std::string>();
  EXPECT_EQ(lines.back()["text"], "The answer is 42.");
  EXPECT_EQ(deltas, "The answer is 42.") << "the streamed deltas are filtered too";
  bool warned = false;
  for (const auto& w : lines.back()["warnings"]) warned |= w.get<std::string>().find("noise") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(CliNoise, ANoiseOnlyTurnIsRetryableNeverSuccess) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "echo", "--text", "Готов к работе.", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"}, {});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.json()["error"]["code"], "temporary_unavailable");
  EXPECT_EQ(run.json()["error"]["retryable"], true);
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("noise only"), std::string::npos);

  // Both switches off: the greeting is the answer.
  cli["suppressHarnessNoise"] = false;
  auto plain = dir.write("plain.json", fake_agent_config(cli));
  CliRun raw = run_drover({"run", "-c", plain, "x"}, {});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, "Готов к работе.\n");
}

TEST(CliNoise, RouteMarkersExtendTheBuiltinOnes) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "echo", "--text", "[acme] warming up\nreal text", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"noiseMarkers", {{"prefixes", {"[acme] "}}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "x"}, {});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "real text\n");
  json bad = cli;
  bad["noiseMarkers"] = {{"regexes", {"(unclosed"}}};
  CliRun invalid = run_drover({"run", "-c", dir.write("bad.json", fake_agent_config(bad)), "x"}, {});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_NE(invalid.err.find("noiseMarkers"), std::string::npos) << invalid.err;
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliCheck, ReportsWhatResolvesAndItsVersion) {
  ScratchDir dir;
  CliOptions options;
  options.cwd = dir.path();
  options.env = {{"PATH", fake_claude_dir(dir) + ":/usr/bin:/bin"},
                 {"XDG_CONFIG_HOME", dir.path() + "/xdg"}};
  CliRun run = run_drover({"check", "--json"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  bool claude = false, codex = false;
  for (const auto& row : run.json()) {
    if (row["preset"] == "claude-cli") {
      claude = true;
      EXPECT_EQ(row["path"], fake_claude_dir(dir) + "/claude");
      // the stand-in rejects --version (exit 64): reported, not fatal
      EXPECT_EQ(row["ok"], false);
      EXPECT_NE(row["problem"].get<std::string>().find("--version"), std::string::npos);
    }
    if (row["preset"] == "codex-cli") {
      codex = true;
      EXPECT_EQ(row["ok"], false);
      EXPECT_NE(row["problem"].get<std::string>().find("not found"), std::string::npos);
    }
  }
  EXPECT_TRUE(claude && codex);
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliResume, ARouteWithoutSessionIdCannotResume) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "echo", "--prompt", "{prompt}"}}, {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "--resume", "abc", "-o", "json", "x"}, {});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.json()["error"]["code"], "unsupported_capability");
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("{session_id}"), std::string::npos);
}

TEST(CliErrors, FailedHarnessWithGarbageStdoutReportsItsStderr) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "stderr-error", "--text", "No conversation found", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "json"}, {"textPath", "result"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"}, {});
  EXPECT_EQ(run.exit_code, 1);
  std::string message = run.json()["error"]["message"];
  EXPECT_NE(message.find("No conversation found"), std::string::npos) << message;
  EXPECT_EQ(message.find("not JSON"), std::string::npos) << message;
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliStreaming, JsonlOutputUsesTheRoutesStreamingVariant) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "json", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "json"}, {"textPath", "result"}, {"usagePath", ""}}},
              {"streaming",
               {{"argsTemplate", {"--mode", "jsonl", "--prompt", "{prompt}"}},
                {"parser",
                 {{"kind", "jsonl"},
                  {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}},
                  {"sessionId", "session_id"}}}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun streamed = run_drover({"run", "-c", config, "-o", "jsonl", "several words of answer"}, {});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  auto lines = streamed.jsonl();
  size_t deltas = 0;
  for (const auto& l : lines) deltas += l["type"] == "delta";
  EXPECT_EQ(deltas, 3u) << "the jsonl variant streams three pieces";
  EXPECT_EQ(lines.back()["text"], "echo: several words of answer");

  CliRun plain = run_drover({"run", "-c", config, "-o", "json", "several words of answer"}, {});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.json()["usage"]["cacheReadTokens"], 3) << "the json form ran (it reports cache reads)";
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliContext, ContextEphemeralAndKeepSessionFlags) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "json", "--prompt", "{prompt}",
                                {{"when", "clean"}, {"args", json::array({"--model", "in-clean"})}}}},
              {"parser", {{"kind", "json"}, {"textPath", "result"}, {"sessionIdPath", "session_id"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli, {}));
  CliRun workspace = run_drover({"run", "-c", config, "-o", "json", "hi"});
  ASSERT_EQ(workspace.exit_code, 0) << workspace.err;
  EXPECT_EQ(workspace.json()["text"], "echo: hi");
  EXPECT_EQ(workspace.json()["sessionId"], "fake-session-1");

  CliRun clean = run_drover({"run", "-c", config, "-o", "json", "--context", "clean", "hi"});
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(clean.json()["text"], "echo: hi [model=in-clean]");
  EXPECT_TRUE(clean.json()["sessionId"].is_null()) << "clean runs are ephemeral by default";

  CliRun kept = run_drover({"run", "-c", config, "-o", "json", "--context", "clean",
                            "--keep-session", "hi"});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(kept.json()["sessionId"], "fake-session-1");

  CliRun ephemeral = run_drover({"run", "-c", config, "-o", "json", "--ephemeral", "hi"});
  ASSERT_EQ(ephemeral.exit_code, 0) << ephemeral.err;
  EXPECT_TRUE(ephemeral.json()["sessionId"].is_null());
}

TEST(CliContext, BadContextValueAndConflictingFlagsAreUsageErrors) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliRun bad = run_drover({"run", "-c", config, "--context", "sandbox", "hi"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--context"), std::string::npos) << bad.err;
  CliRun both = run_drover({"run", "-c", config, "--ephemeral", "--keep-session", "hi"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

std::string fake_acp_config(const ScratchDir& dir, const std::string& args = "") {
  json acp = {{"args", json::array()}};
  std::istringstream words(args);
  for (std::string w; words >> w;) acp["args"].push_back(w);
  json config = {{"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport", {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", acp}}},
                        {"models", {"fake-large"}}}}}}}}}};
  return dir.write("drover.json", config.dump());
}

TEST(CliAcp, RunPermissionFlagsAndTranscript) {
  ScratchDir dir;
  auto config = fake_acp_config(dir, "--tool execute");
  CliRun denied = run_drover({"run", "-c", config, "-o", "json", "go"});
  EXPECT_EQ(denied.exit_code, 5) << denied.err;
  EXPECT_EQ(denied.json()["error"]["code"], "permission_denied");
  EXPECT_EQ(denied.json()["permissions"][0]["decision"], "denied");
  CliRun allowed = run_drover({"run", "-c", config, "--approve-all", "--transcript",
                               dir.path() + "/t.ndjson", "go"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(allowed.out, "FAKE(fake-large): go [tool:execute=allowed]\n");
  EXPECT_NE(read_file(dir.path() + "/t.ndjson").find("\"session/request_permission\""),
            std::string::npos);
  CliRun both = run_drover({"run", "-c", config, "--approve-all", "--deny-all", "go"});
  EXPECT_EQ(both.exit_code, 2);
}

// `--file` on an ACP route: the attachments reach the agent as the blocks it takes and the result
// says how; a bad one fails the run before the agent starts.
TEST(CliAcpAttachments, FilesAndStdinReachTheAgentAsBlocksAndTheResultSaysHow) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  auto config = fake_acp_config(dir, "--record " + record);
  // A GIF header is enough for libmagic to say image/gif.
  const std::string gif = dir.write("pic.gif", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14));
  CliOptions options;
  options.stdin_data = "notes from stdin\n";
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "--file", gif, "--file", "-",
                           "--name", "notes.txt", "look"},
                          options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json result = run.json();
  // The fake agent echoes each block: the image by its type, the resource by its URI and size.
  const std::string text = result["text"];
  EXPECT_EQ(text.rfind("FAKE(fake-large): look[image:image/gif][resource:file://", 0), 0u) << text;
  EXPECT_EQ(text.substr(text.size() - 7), "len=17]") << text;
  ASSERT_EQ(result["attachments"].size(), 2u) << result.dump();
  EXPECT_EQ(result["attachments"][0]["name"], "pic.gif");
  EXPECT_EQ(result["attachments"][0]["mimeType"], "image/gif");
  EXPECT_EQ(result["attachments"][0]["delivery"], "image");
  EXPECT_EQ(result["attachments"][1]["name"], "notes.txt");
  EXPECT_EQ(result["attachments"][1]["source"], "-");
  EXPECT_EQ(result["attachments"][1]["delivery"], "resource");
}

TEST(CliAcpAttachments, AMissingFileFailsBeforeTheAgentStarts) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  auto config = fake_acp_config(dir, "--record " + record);
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "--file", dir.path() + "/nope.png", "look"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_EQ(run.json()["error"]["code"], "validation_error") << run.out << run.err;
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("nope.png"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(record)) << "the agent never started";
}

TEST(CliAcp, ModelsAsksTheAgent) {
  ScratchDir dir;
  auto config = fake_acp_config(dir);
  CliOptions options;
  options.env["XDG_CACHE_HOME"] = dir.path() + "/cache";  // the list is cached: keep it here
  CliRun run = run_drover({"models", "-c", config, "--json"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = run.json();
  EXPECT_EQ(r["source"], "acp");
  EXPECT_EQ(r["current"], "fake-small");
  ASSERT_EQ(r["models"].size(), 2u);
  EXPECT_EQ(r["models"][1]["id"], "fake-large");
  CliRun text = run_drover({"models", "-c", config}, options);
  EXPECT_EQ(text.out, "fake-small  (current)\nfake-large\n");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/cache/drover/models"));
  CliRun cached = run_drover({"models", "-c", config, "--json"}, options);
  EXPECT_EQ(cached.json()["cached"], true);
  CliRun fresh = run_drover({"models", "-c", config, "--json", "--refresh"}, options);
  EXPECT_FALSE(fresh.json().contains("cached"));
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(CliAcp, CheckAsksAnAcpAgentForItsVersionWithInitialize) {
  ScratchDir dir;
  // It must not wait for EOF to answer, and a banner line before the answer is skipped.
  auto config = fake_acp_config(dir, "--no-exit-on-eof --banner");
  CliRun run = run_drover({"check", "-c", config, "--json"});
  bool found = false;
  for (const auto& row : run.json()) {
    if (row["route"] != "fake:acp:a") continue;
    found = true;
    EXPECT_EQ(row["version"], "fake-acp-agent 1.0") << row.dump();
  }
  EXPECT_TRUE(found) << run.out;
}

// ---- hostile environments: closed descriptors, broken stdout, signals, leftovers -----------------

class CliClosedStdio : public ::testing::TestWithParam<std::string> {};

TEST_P(CliClosedStdio, StartsWithADescriptorClosed) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.shell_script = GetParam() + "; exec \"$@\"";
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "hello"}, options);
  EXPECT_FALSE(run.term_signal.has_value()) << "killed by signal " << run.term_signal.value_or(0)
                                            << ": " << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  if (GetParam() != "exec 1>&-") {
    EXPECT_EQ(run.json()["text"], "echo: hello [model=m]");
  }
}

INSTANTIATE_TEST_SUITE_P(Descriptors, CliClosedStdio,
                         ::testing::Values("exec 0<&-", "exec 1>&-", "exec 2>&-"));

TEST(CliStdout, AFullDiskIsAnErrorNotSuccess) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.shell_script = "exec \"$@\" > /dev/full";
  for (const char* output : {"text", "json"}) {
    CliRun run = run_drover({"run", "-c", config, "-o", output, "hello"}, options);
    EXPECT_EQ(run.exit_code, 1) << output << ": " << run.err;
    EXPECT_EQ(run.err, "drover: cannot write to stdout: " + std::string(std::strerror(ENOSPC)) + "\n")
        << output;
  }
}

TEST(CliStdout, AReaderThatGoesAwayStopsTheRunWithExit141) {
  ScratchDir dir;
  ScratchDir tmp;
  // Five lines a second apart; the reader leaves after the first ten bytes.
  json cli = {{"argsTemplate", {"--mode", "jsonl", "--ms", "1000", "--prompt", "{prompt}"}},
              {"parser",
               {{"kind", "jsonl"},
                {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}};
  options.shell_script = "\"$@\" | head -c 10 > /dev/null; exit \"${PIPESTATUS[0]}\"";
  CliRun run = run_drover({"run", "-c", config, "-o", "jsonl", "a long answer in three parts"},
                          options);
  EXPECT_EQ(run.exit_code, 141) << run.err;
  EXPECT_EQ(run.err, "drover: cannot write to stdout: " + std::string(std::strerror(EPIPE)) + "\n");
  EXPECT_TRUE(tmp.empty());
}

TEST(CliStdout, AReaderThatGoesAwayStopsAHarnessThatSaysNothingMore) {
  ScratchDir dir;
  // No watchdog but the default hour: only the lost reader can end this run within the test's
  // own limit (run_drover stops drover after a minute: exit 143).
  json cli = {{"argsTemplate", {"--mode", "hang", "--prompt", "{prompt}"}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliOptions options;
  options.shell_script = "\"$@\" | true; exit \"${PIPESTATUS[0]}\"";
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "hi"}, options);
  EXPECT_EQ(run.exit_code, 141) << run.err;
  EXPECT_EQ(run.err, "drover: cannot write to stdout: " + std::string(std::strerror(EPIPE)) + "\n");
}

TEST(CliTimeouts, FlagsAreValidatedLikeTheConfig) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  for (const char* flag : {"--timeout", "--idle-timeout", "--start-timeout"}) {
    for (const char* value : {"inf", "1e308", "nan", "0", "-1", "abc", "10s", ""}) {
      CliRun run = run_drover({"run", "-c", config, flag, value, "hi"});
      EXPECT_EQ(run.exit_code, 2) << flag << " " << value << ": " << run.err;
      EXPECT_NE(run.err.find(std::string("run: ") + flag + ": expected a number of seconds > 0"),
                std::string::npos)
          << flag << " " << value << ": " << run.err;
      EXPECT_NE(run.err.find("none for no limit"), std::string::npos) << run.err;
    }
  }
}

TEST(CliTimeouts, NoneLiftsTheRoutesLimitAndTinyValuesAreOneMillisecond) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "slow-start", "--ms", "1500", "--prompt", "{prompt}"}},
              {"watchdog", {{"timeout", 0.3}, {"startTimeout", 0.2}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun limited = run_drover({"run", "-c", config, "hi"});
  EXPECT_EQ(limited.exit_code, 3) << limited.err;
  CliRun lifted =
      run_drover({"run", "-c", config, "--timeout", "none", "--start-timeout", "none", "hi"});
  EXPECT_EQ(lifted.exit_code, 0) << lifted.err;
  EXPECT_EQ(lifted.out, "echo: hi\n");
  CliRun tiny = run_drover({"run", "-c", config, "--start-timeout", "none", "--timeout", "0.0001", "hi"});
  EXPECT_EQ(tiny.exit_code, 3) << tiny.err;
  EXPECT_NE(tiny.err.find("(0.001 s)"), std::string::npos) << tiny.err;
}

TEST(CliNul, APromptWithANulByteIsRefusedForArgvAndPassedWholeOnStdin) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.stdin_data = std::string("keep\0lost", 9);
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "-"}, options);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  json r = run.json();
  EXPECT_EQ(r["error"]["code"], "validation_error");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("input: \"stdin\""), std::string::npos)
      << r["error"];

  json stdin_cli = {{"argsTemplate", {"--mode", "echo", "--stdin"}}, {"input", "stdin"}};
  auto stdin_config = dir.write("stdin.json", fake_agent_config(stdin_cli));
  CliRun whole = run_drover({"run", "-c", stdin_config, "-o", "json", "-"}, options);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.json()["text"], std::string("echo: keep\0lost", 15));
}

TEST(CliNul, ANulByteInTheConfigIsAConfigErrorNamingThePath) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"{prompt}", std::string("--x\0y", 5)}},
              {"env", {{"FOO", std::string("a\0b", 3)}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_drover({"run", "-c", config, "hi"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("providers.t.accounts[0].transport.cli.argsTemplate[1]: contains a NUL"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("providers.t.accounts[0].transport.cli.env.FOO: contains a NUL"),
            std::string::npos)
      << run.err;
}

// /proc/<pid>/stat: the state letter and the parent pid, after the parenthesised command name.
std::optional<std::pair<char, pid_t>> proc_state(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  char state = 0;
  pid_t ppid = 0;
  fields >> state >> ppid;
  return std::pair{state, ppid};
}

// The pid of a child of `parent` running `program` (argv[0]), or 0.
pid_t child_running(pid_t parent, const std::string& program) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    auto state = proc_state(pid);
    if (!state || state->second != parent) continue;
    std::string cmdline = read_file("/proc/" + name + "/cmdline");
    if (cmdline.substr(0, cmdline.find('\0')) == program) return pid;
  }
  return 0;
}

TEST(CliOrphans, SigkillOfDroverTakesTheHarnessWithIt) {
  ScratchDir dir;
  json cli = {{"argsTemplate", {"--mode", "hang", "--prompt", "{prompt}"}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  struct Ctx {
    pid_t drover = 0;
    pid_t harness = 0;
    std::optional<int> drover_signal;
    uv_timer_t poll;
  } ctx;
  {
    Loop loop;
    uv_timer_init(loop.uv(), &ctx.poll);
    ctx.poll.data = &ctx;
    SpawnOptions spawn;
    spawn.file = drover_binary();
    spawn.args = {"drover", "run", "-c", config, "x"};
    spawn.env = build_child_environment({}, {"DROVER_CONFIG"});
    spawn.cwd = dir.path();
    spawn.watchdog.total_timeout_ms = 60000;
    ProcessCallbacks callbacks;
    callbacks.on_complete = [&ctx](ProcessOutcome&& o) {
      ctx.drover_signal = o.info.term_signal;
      uv_close(reinterpret_cast<uv_handle_t*>(&ctx.poll), nullptr);
    };
    Error error;
    Process* p = Process::start(loop, std::move(spawn), std::move(callbacks), error);
    ASSERT_NE(p, nullptr) << error.message;
    ctx.drover = static_cast<pid_t>(p->pid());
    uv_timer_start(
        &ctx.poll,
        [](uv_timer_t* t) {
          auto* c = static_cast<Ctx*>(t->data);
          if (c->harness != 0) return;
          c->harness = child_running(c->drover, fake_agent());
          if (c->harness != 0) ::kill(c->drover, SIGKILL);  // no chance to clean up
        },
        20, 20);
    loop.run();
  }
  ASSERT_NE(ctx.harness, 0) << "the harness never started";
  EXPECT_EQ(ctx.drover_signal, SIGKILL);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {  // a bound against hangs, not a timing assertion
    auto state = proc_state(ctx.harness);
    gone = !state || state->first == 'Z' || state->first == 'X';
    if (!gone) ::usleep(50000);
  }
  if (!gone) ::kill(-ctx.harness, SIGKILL);  // leave nothing behind either way
  EXPECT_TRUE(gone) << "the harness outlived drover";
}

TEST(CliTempDirs, LeftoversOfDeadDroversAreRemovedAtStartAndNothingElse) {
  ScratchDir dir;
  ScratchDir tmp;
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead), live = std::to_string(::getpid());
  tmp.write("drover-" + d + "-abc123/work/file", "x");  // a dead owner's: removed
  tmp.write("drover-" + d + "-Zz9q0A/file", "x");       // likewise
  const std::vector<std::string> kept{
      "drover-" + live + "-abc123",  // owner alive
      "drover-" + d + "-abc12",      // not drover's pattern
      "drover-" + d + "-abc1234",    // not drover's pattern
      "drover-" + d + "-abc-12",     // not drover's pattern
      "drover-test-abc123",          // not drover's pattern
      "drover--abc123",              // no pid
      "other-" + d + "-abc123",      // someone else's prefix
  };
  for (const auto& name : kept) tmp.write(name + "/file", "x");
  tmp.write("drover-" + d + "-abc124", "a file, not a directory");
  std::filesystem::create_directory_symlink(dir.path(), tmp.path() + "/drover-" + d + "-abc125");
  auto config = dir.write("drover.json", fake_agent_config(kJsonCli));
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}};
  CliRun run = run_drover({"run", "-c", config, "hi"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/drover-" + d + "-abc123"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/drover-" + d + "-Zz9q0A"));
  for (const auto& name : kept)
    EXPECT_TRUE(std::filesystem::exists(tmp.path() + "/" + name + "/file")) << name;
  EXPECT_TRUE(std::filesystem::is_regular_file(tmp.path() + "/drover-" + d + "-abc124"));
  EXPECT_TRUE(std::filesystem::is_symlink(tmp.path() + "/drover-" + d + "-abc125"));
  EXPECT_TRUE(std::filesystem::exists(config)) << "a symlink's target is never touched";
}

}  // namespace
}  // namespace drover::test
