// End to end through the fake agent: a system prompt reaches the harness as a private file
// ({system_file} in argv or in env) that is gone after the run, or the result says it was not
// sent; route env values expand ${VAR} from drover's environment and stay secret.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

const char* kNotSent = "the system prompt was not sent: route t:cli:a:m";

json echo_cli(json extra_args, json more = json::object()) {
  json args = {"--mode", "echo", "--prompt", "{prompt}"};
  for (auto& a : extra_args) args.push_back(a);
  json cli = {{"argsTemplate", args}, {"parser", {{"kind", "text"}}}};
  cli.merge_patch(more);
  return cli;
}

CliRun run_with(const std::string& config, const ScratchDir& tmp,
                std::vector<std::string> flags, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> args = {"run", "-c", config, "-o", "json"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back("hi");
  CliOptions options;
  options.env = std::move(env);
  options.env["TMPDIR"] = tmp.path();
  return run_drover(args, options);
}

bool has_warning(const json& result, const std::string& text) {
  for (const auto& w : result["warnings"])
    if (w.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

TEST(CliSystemFile, InArgvTheHarnessReadsAPrivateFileThatIsGoneAfterwards) {
  ScratchDir dir;
  ScratchDir tmp;
  auto config = dir.write("drover.json",
                          fake_agent_config(echo_cli(
                              json::array({json::array({"--system-file", "{system_file}"})}))));
  CliRun run = run_with(config, tmp, {"--system", "Be brief.\nUse lists."});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  json r = run.json();
  EXPECT_EQ(r["text"], "echo: hi [system_file=Be brief.\nUse lists. mode=600]");
  EXPECT_EQ(r["warnings"], json::array());
  EXPECT_TRUE(tmp.empty()) << "the system prompt file must be gone";
  // Without a system prompt the group is dropped and no file is made.
  CliRun plain = run_with(config, tmp, {});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.json()["text"], "echo: hi");
  EXPECT_EQ(plain.json()["warnings"], json::array());
}

TEST(CliSystemFile, InEnvLikeGeminiSystemMd) {
  ScratchDir dir;
  ScratchDir tmp;
  auto config = dir.write(
      "drover.json",
      fake_agent_config(echo_cli(json::array(), {{"env", {{"FAKE_AGENT_SYSTEM_MD", "{system_file}"}}}})));
  CliRun run = run_with(config, tmp, {"--system", "You are terse."});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_EQ(run.json()["text"], "echo: hi [system_md=You are terse. mode=600]");
  EXPECT_EQ(run.json()["warnings"], json::array());
  EXPECT_TRUE(tmp.empty());
  // No system prompt: the variable is not set at all (the agent would read an empty path).
  CliRun plain = run_with(config, tmp, {});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.json()["text"], "echo: hi");
}

TEST(CliSystemFile, IsInTheRunsPrivateDirectoryOutsideTheCleanWorkingDirectory) {
  ScratchDir dir;
  ScratchDir tmp;
  json cli = {{"argsTemplate", {"--mode", "argv", json::array({"--system-file", "{system_file}"})}},
              {"input", "stdin"},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_with(config, tmp, {"--system", "s", "--context", "clean"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  json argv = json::parse(run.json()["text"].get<std::string>());
  ASSERT_EQ(argv.size(), 5u) << argv;
  const std::string path = argv[4];
  const std::filesystem::path p(path);
  EXPECT_EQ(p.filename(), "system-prompt.md");
  EXPECT_EQ(p.parent_path().parent_path(), std::filesystem::path(tmp.path()));
  EXPECT_EQ(p.parent_path().filename().string().rfind("drover-", 0), 0u) << path;
  EXPECT_TRUE(tmp.empty());
}

TEST(CliSystemFile, IsRemovedWhenTheRunTimesOut) {
  ScratchDir dir;
  ScratchDir tmp;
  // The answer (with the file's content) comes first, then the agent hangs until the deadline.
  json cli = {{"argsTemplate", {"--mode", "hang-after", "--prompt", "{prompt}",
                                json::array({"--system-file", "{system_file}"})}},
              {"parser", {{"kind", "text"}}},
              {"watchdog", {{"timeout", 0.5}, {"killGrace", 0.2}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliRun run = run_with(config, tmp, {"--system", "sys"});
  json r = run.json();
  ASSERT_TRUE(r["error"].is_object()) << run.out;
  EXPECT_EQ(r["error"]["code"], "timeout");
  EXPECT_NE(r["text"].get<std::string>().find("[system_file=sys mode=600]"), std::string::npos)
      << r["text"];
  EXPECT_TRUE(tmp.empty()) << "the system prompt file must be gone after a timeout";
}

TEST(CliSystemFile, IsRemovedWhenTheRunIsInterrupted) {
  ScratchDir dir;
  ScratchDir tmp;
  json cli = {{"argsTemplate", {"--mode", "hang-after", "--prompt", "{prompt}",
                                json::array({"--system-file", "{system_file}"})}},
              {"parser", {{"kind", "text"}}}};
  auto config = dir.write("drover.json", fake_agent_config(cli));
  CliOptions options;
  options.env["TMPDIR"] = tmp.path();
  bool interrupted = false;
  std::string seen;
  // Ctrl-C once the harness has shown it read the file (its answer is streamed as it comes).
  options.on_stdout = [&](int64_t pid, std::string_view chunk) {
    seen += chunk;
    if (!interrupted && seen.find("mode=600]") != std::string::npos) {
      interrupted = true;
      ::kill(static_cast<pid_t>(pid), SIGINT);
    }
  };
  CliRun run = run_drover({"run", "-c", config, "-o", "jsonl", "--system", "sys", "hi"}, options);
  ASSERT_TRUE(interrupted) << run.out << run.err;
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_TRUE(tmp.empty()) << "the system prompt file must be gone after Ctrl-C";
}

TEST(CliSystemFile, ARouteWithNoWayToPassItWarns) {
  ScratchDir dir;
  ScratchDir tmp;
  auto none = dir.write("none.json", fake_agent_config(echo_cli(json::array())));
  CliRun run = run_with(none, tmp, {"--system", "Be brief."});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.json()["text"], "echo: hi");
  EXPECT_TRUE(has_warning(run.json(), kNotSent)) << run.json()["warnings"];
  EXPECT_TRUE(has_warning(run.json(), "{system} or {system_file} in the argsTemplate"));
  // No system prompt, no warning.
  EXPECT_EQ(run_with(none, tmp, {}).json()["warnings"], json::array());
  // {system} delivers it.
  auto with_system = dir.write("system.json",
                               fake_agent_config(
                                   echo_cli(json::array({json::array({"--system", "{system}"})}))));
  CliRun sent = run_with(with_system, tmp, {"--system", "Be brief."});
  EXPECT_EQ(sent.json()["text"], "echo: hi [system=Be brief.]");
  EXPECT_EQ(sent.json()["warnings"], json::array());
  // A {system} group whose condition does not hold for this run does not.
  auto conditional = dir.write(
      "conditional.json",
      fake_agent_config(echo_cli(
          json::array({json{{"when", "clean"}, {"args", {"--system", "{system}"}}}}))));
  CliRun workspace = run_with(conditional, tmp, {"--system", "Be brief."});
  EXPECT_EQ(workspace.json()["text"], "echo: hi");
  EXPECT_TRUE(has_warning(workspace.json(), kNotSent)) << workspace.json()["warnings"];
  CliRun clean = run_with(conditional, tmp, {"--system", "Be brief.", "--context", "clean"});
  EXPECT_EQ(clean.json()["text"], "echo: hi [system=Be brief.]");
  EXPECT_EQ(clean.json()["warnings"], json::array());
}

// ---- env expansion --------------------------------------------------------------------------

json env_cli(json env) {
  return {{"argsTemplate", {"--mode", "env"}},
          {"input", "stdin"},
          {"parser", {{"kind", "text"}}},
          {"env", std::move(env)}};
}

TEST(CliEnvExpansion, ValuesTakeDroversEnvironment) {
  ScratchDir dir;
  ScratchDir tmp;
  auto config = dir.write(
      "drover.json",
      fake_agent_config(env_cli({{"TOOL_PATH", "/opt/tool/bin:${TEST_BASE_PATH}"},
                                 {"WITH_DEFAULT", "${TEST_UNSET_VARIABLE:-fallback}"},
                                 {"LITERAL", "$TEST_BASE_PATH and $${TEST_BASE_PATH}"},
                                 {"JSON", R"({"*":"deny"})"}})));
  CliRun run = run_with(config, tmp, {}, {{"TEST_BASE_PATH", "/usr/bin:/bin"}});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  json env = json::parse(run.json()["text"].get<std::string>());
  EXPECT_EQ(env["TOOL_PATH"], "/opt/tool/bin:/usr/bin:/bin");
  EXPECT_EQ(env["WITH_DEFAULT"], "fallback");
  EXPECT_EQ(env["LITERAL"], "$TEST_BASE_PATH and ${TEST_BASE_PATH}");
  EXPECT_EQ(env["JSON"], R"({"*":"deny"})");
}

TEST(CliEnvExpansion, APrefixedPathFindsTheCommand) {
  ScratchDir dir;
  ScratchDir tmp;
  const std::string bin = dir.path() + "/bin";
  std::filesystem::create_directories(bin);
  std::filesystem::create_symlink(fake_agent(), bin + "/my-harness");
  json config = json::parse(fake_agent_config(env_cli({{"PATH", bin + ":${PATH}"}})));
  config["providers"]["t"]["accounts"][0]["transport"]["command"] = "my-harness";
  auto file = dir.write("drover.json", config.dump());
  CliRun run = run_with(file, tmp, {}, {{"PATH", "/usr/bin:/bin"}});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  json env = json::parse(run.json()["text"].get<std::string>());
  EXPECT_EQ(env["PATH"], bin + ":/usr/bin:/bin");
}

TEST(CliEnvExpansion, AnUnterminatedReferenceIsAConfigErrorNamingThePath) {
  ScratchDir dir;
  ScratchDir tmp;
  auto config = dir.write("drover.json", fake_agent_config(env_cli({{"PATH", "/opt:${PATH"}})));
  CliRun run = run_with(config, tmp, {});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE((run.out + run.err).find("providers.t.accounts[0].transport.cli.env.PATH: "
                                     "unterminated ${ at offset 5"),
            std::string::npos)
      << run.out << run.err;
}

TEST(CliEnvExpansion, ExpandedSecretsNeverReachTheOutput) {
  ScratchDir dir;
  ScratchDir tmp;
  auto config = dir.write(
      "drover.json", fake_agent_config(env_cli({{"ACME_API_KEY", "${TEST_KEY_SOURCE}"},
                                                {"AUTH_HEADER", "Bearer ${TEST_UPSTREAM_TOKEN}"}})));
  CliRun run = run_with(config, tmp, {},
                        {{"TEST_KEY_SOURCE", "sk-expanded-1234567"},
                         {"TEST_UPSTREAM_TOKEN", "tok-upstream-7654321"}});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  // The harness got the values; drover's output shows neither.
  EXPECT_EQ(run.out.find("sk-expanded-1234567"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("tok-upstream-7654321"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("sk-expanded-1234567"), std::string::npos);
  json env = json::parse(run.json()["text"].get<std::string>());
  EXPECT_EQ(env["ACME_API_KEY"], "[redacted]");
  EXPECT_EQ(env["AUTH_HEADER"], "[redacted]");
}

}  // namespace
}  // namespace drover::test
