// Permission policies on print-mode routes end to end: the route's declaration
// (transport.permissions), the refusal before spawn, the policy conditions of argv templates and
// envWhen, and the `policy` field of the result. The fake agent's `tool` mode runs a "shell tool"
// (it creates fake-tool-wrote.txt in its cwd) without asking anyone, unless `--tools none|read`.
#include <filesystem>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

const json kToolCli = {{"argsTemplate", {"--mode", "tool", "--prompt", "{prompt}"}}};

// A config whose one route runs the fake agent's tool mode, `cli` merged into its cli block and
// `permissions` (unless null) as the transport's declaration.
std::string tool_config(const ScratchDir& dir, const json& permissions, const json& cli = json::object()) {
  json block = kToolCli;
  block.merge_patch(cli);
  json config = json::parse(fake_agent_config(block));
  if (!permissions.is_null())
    config["providers"]["t"]["accounts"][0]["transport"]["permissions"] = permissions;
  return dir.write("drover.json", config.dump());
}

bool wrote(const ScratchDir& dir) {
  return std::filesystem::exists(dir.path() + "/work/fake-tool-wrote.txt");
}

CliRun run_tool(const ScratchDir& dir, const std::string& config, std::vector<std::string> flags) {
  std::filesystem::create_directories(dir.path() + "/work");
  std::vector<std::string> args = {"run", "-c", config, "-o", "json", "--cwd", dir.path() + "/work"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back("go");
  return run_drover(args);
}

TEST(CliPermissions, RouteThatCannotEnforceIsRefusedBeforeSpawn) {
  ScratchDir dir;
  auto config = tool_config(dir, "none");
  for (const char* flag : {"--deny-all", "--approve-reads"}) {
    CliRun run = run_tool(dir, config, {flag});
    EXPECT_EQ(run.exit_code, 1) << run.err;
    json r = run.json();
    EXPECT_EQ(r["error"]["code"], "unsupported_capability");
    const std::string message = r["error"]["message"];
    EXPECT_NE(message.find("route t:cli:a:m"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string(flag).substr(2)), std::string::npos) << message;
    EXPECT_TRUE(r["process"].is_null()) << "nothing may be spawned";
    EXPECT_EQ(r["policy"]["enforcement"], "none");
    EXPECT_EQ(r["policy"]["requested"], std::string(flag).substr(2));
    EXPECT_FALSE(wrote(dir)) << flag;
  }
  // The default policy is approve-reads: refused as well.
  CliRun plain = run_tool(dir, config, {});
  EXPECT_EQ(plain.json()["error"]["code"], "unsupported_capability");
  EXPECT_FALSE(wrote(dir));
  // Asking for no restriction runs it, and the result says nothing was enforced.
  CliRun all = run_tool(dir, config, {"--approve-all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.json()["policy"]["requested"], "approve-all");
  EXPECT_EQ(all.json()["policy"]["enforcement"], "none");
  EXPECT_TRUE(wrote(dir));
}

TEST(CliPermissions, CannotEnforceRefusesOnlyThosePolicies) {
  ScratchDir dir;
  auto config = tool_config(
      dir, {{"enforcement", "mapped"}, {"mechanism", "fake --tools"}, {"cannotEnforce", {"deny-all"}}},
      {{"argsTemplate", {"--mode", "tool", "--prompt", "{prompt}",
                         {{"when", "approve-reads"}, {"args", {"--tools", "read"}}}}}});
  CliRun deny = run_tool(dir, config, {"--deny-all"});
  EXPECT_EQ(deny.json()["error"]["code"], "unsupported_capability");
  EXPECT_NE(deny.json()["error"]["message"].get<std::string>().find("cannotEnforce"), std::string::npos);
  CliRun reads = run_tool(dir, config, {"--approve-reads"});
  ASSERT_EQ(reads.exit_code, 0) << reads.err;
  EXPECT_EQ(reads.json()["text"], "echo: go [tool=refused]");
  EXPECT_EQ(reads.json()["policy"],
            json({{"requested", "approve-reads"}, {"enforcement", "mapped"}, {"mechanism", "fake --tools"}}));
  EXPECT_FALSE(wrote(dir));
}

TEST(CliPermissions, MappedRoutePutsTheHarnessInThePolicysMode) {
  ScratchDir dir;
  auto config = tool_config(
      dir, "mapped",
      {{"argsTemplate", {"--mode", "tool", "--prompt", "{prompt}",
                         {{"when", "deny-all"}, {"args", {"--tools", "none"}}},
                         {{"when", "approve-reads"}, {"args", {"--tools", "read"}}},
                         {{"when", "approve-all"}, {"args", {"--tools", "all"}}}}}});
  for (const char* flag : {"--deny-all", "--approve-reads"}) {
    CliRun run = run_tool(dir, config, {flag});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.json()["text"], "echo: go [tool=refused]") << flag;
    EXPECT_EQ(run.json()["policy"]["enforcement"], "mapped");
    EXPECT_EQ(run.json()["warnings"], json::array());
    EXPECT_FALSE(wrote(dir)) << flag;
  }
  CliRun all = run_tool(dir, config, {"--approve-all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.json()["text"], "echo: go [tool=wrote]");
  EXPECT_TRUE(wrote(dir));
}

TEST(CliPermissions, EnvWhenSetsVariablesPerPolicy) {
  ScratchDir dir;
  auto config = tool_config(
      dir, "mapped",
      {{"argsTemplate", {"--mode", "tool", "--prompt", "{prompt}",
                         {{"when", "env:FAKE_TOOLS"}, {"args", {"--tools", "none"}}}}},
       {"envWhen", {{{"when", {"!approve-all"}}, {"env", {{"FAKE_TOOLS", "none"}}}}}}});
  CliRun deny = run_tool(dir, config, {"--deny-all"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  EXPECT_EQ(deny.json()["text"], "echo: go [tool=refused]");
  EXPECT_FALSE(wrote(dir));
  CliRun all = run_tool(dir, config, {"--approve-all"});
  EXPECT_EQ(all.json()["text"], "echo: go [tool=wrote]");
  EXPECT_TRUE(wrote(dir));
}

TEST(CliPermissions, MappedRouteWithoutAConditionForThePolicyWarns) {
  ScratchDir dir;
  auto config = tool_config(
      dir, "mapped",
      {{"argsTemplate", {"--mode", "tool", "--prompt", "{prompt}",
                         {{"when", "deny-all"}, {"args", {"--tools", "none"}}}}}});
  CliRun deny = run_tool(dir, config, {"--deny-all"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  EXPECT_EQ(deny.json()["warnings"], json::array());
  EXPECT_EQ(deny.json()["policy"]["enforcement"], "mapped");
  EXPECT_FALSE(wrote(dir));
  // Nothing maps approve-reads (asked for or the default): the harness ran with its defaults,
  // and the result says so, naming the route and the policy.
  for (std::vector<std::string> flags : {std::vector<std::string>{"--approve-reads"}, {}}) {
    CliRun reads = run_tool(dir, config, flags);
    ASSERT_EQ(reads.exit_code, 0) << reads.err;
    ASSERT_EQ(reads.json()["warnings"].size(), 1u) << reads.out;
    const std::string warning = reads.json()["warnings"][0];
    EXPECT_NE(warning.find("route t:cli:a:m has no approve-reads condition"), std::string::npos)
        << warning;
    EXPECT_NE(warning.find("the approve-reads policy was not enforced"), std::string::npos);
    EXPECT_EQ(reads.json()["policy"]["enforcement"], "none");
    EXPECT_EQ(reads.json()["policy"]["requested"], "approve-reads");
  }
  // approve-all needs nothing restricted: no warning.
  CliRun all = run_tool(dir, config, {"--approve-all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.json()["warnings"], json::array());
  // envWhen counts as a mapping, a negated condition too.
  auto env_config = tool_config(
      dir, "mapped",
      {{"envWhen", {{{"when", {"!approve-all"}}, {"env", {{"FAKE_TOOLS", "none"}}}}}}});
  EXPECT_EQ(run_tool(dir, env_config, {"--approve-reads"}).json()["warnings"], json::array());
}

TEST(CliPermissions, UndeclaredRouteRunsAsBeforeAndSaysThePolicyWasNotEnforced) {
  ScratchDir dir;
  auto config = tool_config(dir, nullptr);
  CliRun plain = run_tool(dir, config, {});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.json()["warnings"], json::array()) << "the default policy: as before";
  EXPECT_EQ(plain.json()["policy"]["requested"], "approve-reads");
  EXPECT_EQ(plain.json()["policy"]["enforcement"], "none");
  EXPECT_NE(plain.json()["policy"]["mechanism"].get<std::string>().find("does not declare"),
            std::string::npos);
  CliRun deny = run_tool(dir, config, {"--deny-all"});
  ASSERT_EQ(deny.exit_code, 0) << deny.err;
  ASSERT_EQ(deny.json()["warnings"].size(), 1u);
  EXPECT_NE(deny.json()["warnings"][0].get<std::string>().find("deny-all policy was not enforced"),
            std::string::npos);
  EXPECT_EQ(deny.json()["policy"]["enforcement"], "none");
}

TEST(CliPermissions, PresetsThatCannotEnforceAPolicyAreRefusedBeforeLookingForTheirCommand) {
  ScratchDir dir;
  CliOptions options;
  options.env = {{"XDG_CONFIG_HOME", dir.path() + "/xdg"}, {"HOME", dir.path()},
                 {"PATH", dir.path() + "/no-bin"}};
  options.cwd = dir.path();
  // pi-acp enforces nothing: the default approve-reads is refused (not "command not found").
  CliRun pi = run_drover({"run", "--route", "pi-acp", "-o", "json", "hi"}, options);
  EXPECT_EQ(pi.exit_code, 1) << pi.err;
  EXPECT_EQ(pi.json()["error"]["code"], "unsupported_capability");
  EXPECT_NE(pi.json()["error"]["message"].get<std::string>().find("approve-reads"), std::string::npos);
  // claude-code-acp asks before commands and edits, but its reads never ask: deny-all is refused.
  CliRun claude = run_drover({"run", "--route", "claude-code-acp", "--deny-all", "-o", "json", "hi"}, options);
  EXPECT_EQ(claude.json()["error"]["code"], "unsupported_capability");
  EXPECT_EQ(claude.json()["policy"]["requested"], "deny-all");
  // Policies they can enforce get as far as looking for the command.
  CliRun reads = run_drover({"run", "--route", "claude-code-acp", "-o", "json", "hi"}, options);
  EXPECT_EQ(reads.json()["error"]["code"], "not_found");
  EXPECT_EQ(reads.json()["policy"]["enforcement"], "agent-asks");
}

}  // namespace
}  // namespace drover::test
