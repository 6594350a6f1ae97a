// Permission policies on ACP routes: the route's declaration (transport.permissions), the
// refusal before spawn, conditional args and envWhen, and the result's `policy`. The fake agent's
// --unasked-tool runs a tool that writes a file without asking, as codex, opencode and pi do.
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "harness/acp.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One ACP route on the fake agent with `args` and extra acp keys, and `permissions` (unless
// null) as the transport's declaration.
Config policy_config(const json& permissions, const json& args, const json& acp = json::object()) {
  json block = {{"args", args}};
  block.merge_patch(acp);
  json transport = {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}};
  if (!permissions.is_null()) transport["permissions"] = permissions;
  json config = {{"routing", {{"fallback", {{"on", json::object()}}}}},
                 {"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"}, {"transport", transport}, {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

Result run_policy(const Config& config, const ScratchDir& dir, std::optional<PermissionPolicy> policy) {
  RunRequest request;
  request.prompt = "hello";
  request.cwd = dir.path();
  request.permissions = policy;
  Result result;
  Loop loop;
  start_run(loop, config, builtin_transports(), request, nullptr, [&](Result&& r) { result = std::move(r); });
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  return result;
}

bool wrote(const ScratchDir& dir) { return fs::exists(dir.path() + "/unasked.txt"); }

TEST(AcpPermissionPolicy, RouteThatCannotEnforceIsRefusedBeforeSpawn) {
  ScratchDir dir;
  Config config = policy_config("none", {"--unasked-tool", "unasked.txt"});
  for (auto policy : {PermissionPolicy::deny_all, PermissionPolicy::approve_reads}) {
    Result r = run_policy(config, dir, policy);
    ASSERT_TRUE(r.error) << to_string(policy);
    EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability);
    EXPECT_NE(r.error->message.find("route fake:acp:a:fake-large"), std::string::npos) << r.error->message;
    EXPECT_NE(r.error->message.find(std::string(to_string(policy))), std::string::npos) << r.error->message;
    EXPECT_FALSE(r.process) << "nothing may be spawned";
    ASSERT_TRUE(r.policy);
    EXPECT_EQ(r.policy->enforcement, "none");
    EXPECT_FALSE(wrote(dir));
  }
  // The route's own default policy (approve-reads) is refused too.
  EXPECT_TRUE(run_policy(config, dir, std::nullopt).error);
  EXPECT_FALSE(wrote(dir));
  Result all = run_policy(config, dir, PermissionPolicy::approve_all);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_NE(all.text.find("unasked:wrote"), std::string::npos) << all.text;
  EXPECT_TRUE(wrote(dir));
  ASSERT_TRUE(all.policy);
  EXPECT_EQ(all.policy->requested, "approve-all");
  EXPECT_EQ(all.policy->enforcement, "none");
}

TEST(AcpPermissionPolicy, ModelDiscoveryIsNotRefused) {
  Config config = policy_config("none", json::array());
  Loop loop;
  AcpModelReport report;
  discover_acp_models(loop, *config.resolve("").first, [&](AcpModelReport r) { report = std::move(r); });
  loop.run();
  EXPECT_FALSE(report.error) << report.error->message;
  EXPECT_FALSE(report.models.empty());
}

TEST(AcpPermissionPolicy, MappedArgsAndEnvPutTheAgentInThePolicysMode) {
  ScratchDir dir;
  // --sandbox read-only through a conditional arg group, or through FAKE_ACP_ARGS from envWhen.
  Config by_args = policy_config(
      {{"enforcement", "mapped"}, {"mechanism", "fake --sandbox"}},
      {"--unasked-tool", "unasked.txt",
       {{"when", {"!approve-all"}}, {"args", {"--sandbox", "read-only"}}}});
  Config by_env = policy_config("mapped", {"--unasked-tool", "unasked.txt"},
                                {{"envWhen", {{{"when", "deny-all"},
                                               {"env", {{"FAKE_ACP_ARGS", "--sandbox read-only"}}}}}}});
  for (const Config* config : {&by_args, &by_env}) {
    Result deny = run_policy(*config, dir, PermissionPolicy::deny_all);
    ASSERT_FALSE(deny.error) << deny.error->message;
    EXPECT_NE(deny.text.find("unasked:refused"), std::string::npos) << deny.text;
    EXPECT_FALSE(wrote(dir));
    ASSERT_TRUE(deny.policy);
    EXPECT_EQ(deny.policy->requested, "deny-all");
    EXPECT_EQ(deny.policy->enforcement, "mapped");
    Result all = run_policy(*config, dir, PermissionPolicy::approve_all);
    ASSERT_FALSE(all.error) << all.error->message;
    EXPECT_NE(all.text.find("unasked:wrote"), std::string::npos) << all.text;
    EXPECT_TRUE(wrote(dir));
    fs::remove(dir.path() + "/unasked.txt");
  }
  EXPECT_EQ(run_policy(by_args, dir, std::nullopt).policy->mechanism, "fake --sandbox");
}

TEST(AcpPermissionPolicy, PolicyModesSwitchTheSessionMode) {
  ScratchDir dir;
  Config config = policy_config("mapped", {"--unasked-tool", "unasked.txt"},
                                {{"policyModes", {{"deny-all", "plan"}}}});
  Result deny = run_policy(config, dir, PermissionPolicy::deny_all);
  ASSERT_FALSE(deny.error) << deny.error->message;
  EXPECT_NE(deny.text.find("unasked:refused"), std::string::npos) << deny.text;
  EXPECT_FALSE(wrote(dir));
  Result all = run_policy(config, dir, PermissionPolicy::approve_all);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_TRUE(wrote(dir)) << "no mode for approve-all: the agent's own";
  // A mode the agent does not have fails the run instead of leaving it unrestricted.
  fs::remove(dir.path() + "/unasked.txt");
  Config unknown = policy_config("mapped", {"--unasked-tool", "unasked.txt"},
                                 {{"policyModes", {{"deny-all", "locked"}}}});
  Result refused = run_policy(unknown, dir, PermissionPolicy::deny_all);
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, ErrorCode::unsupported_capability);
  EXPECT_NE(refused.error->message.find("session mode locked"), std::string::npos) << refused.error->message;
  EXPECT_FALSE(wrote(dir));
}

TEST(AcpPermissionPolicy, MappedRouteWithNothingForThePolicyWarns) {
  ScratchDir dir;
  Config config = policy_config("mapped", {"--unasked-tool", "unasked.txt"},
                                {{"policyModes", {{"deny-all", "plan"}}}});
  Result reads = run_policy(config, dir, PermissionPolicy::approve_reads);
  ASSERT_FALSE(reads.error) << reads.error->message;
  ASSERT_EQ(reads.warnings.size(), 1u);
  EXPECT_EQ(reads.warnings[0],
            "route fake:acp:a:fake-large has no approve-reads condition (args, envWhen or "
            "policyModes) to map it to the harness's own switches; the approve-reads policy was "
            "not enforced");
  ASSERT_TRUE(reads.policy);
  EXPECT_EQ(reads.policy->enforcement, "none");
  fs::remove(dir.path() + "/unasked.txt");
  // The policy it maps: no warning.
  Result deny = run_policy(config, dir, PermissionPolicy::deny_all);
  EXPECT_TRUE(deny.warnings.empty());
  EXPECT_EQ(deny.policy->enforcement, "mapped");
}

TEST(AcpRouteEnv, ValuesExpandFromDroversEnvironment) {
  ScratchDir dir;
  // The fake agent takes extra arguments from FAKE_ACP_ARGS: here "--sandbox read-only", which
  // reaches it only through ${…} (the config holds no such literal).
  ::setenv("DROVER_TEST_ACP_SANDBOX", "read-only", 1);
  Config config = policy_config(
      "mapped", {"--unasked-tool", "unasked.txt"},
      {{"envWhen", {{{"when", "deny-all"},
                     {"env", {{"FAKE_ACP_ARGS", "--sandbox ${DROVER_TEST_ACP_SANDBOX:-none}"}}}}}}});
  Result deny = run_policy(config, dir, PermissionPolicy::deny_all);
  ::unsetenv("DROVER_TEST_ACP_SANDBOX");
  ASSERT_FALSE(deny.error) << deny.error->message;
  EXPECT_NE(deny.text.find("unasked:refused"), std::string::npos) << deny.text;
  EXPECT_FALSE(wrote(dir));
}

TEST(AcpPermissionPolicy, UndeclaredAcpRouteCountsAsAgentAsks) {
  ScratchDir dir;
  Config config = policy_config(nullptr, {"--tool", "execute"});
  Result r = run_policy(config, dir, PermissionPolicy::deny_all);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::permission_denied);
  ASSERT_TRUE(r.policy);
  EXPECT_EQ(r.policy->requested, "deny-all");
  EXPECT_EQ(r.policy->enforcement, "agent-asks");
  EXPECT_TRUE(r.warnings.empty());
}

}  // namespace
}  // namespace drover::test
