// `--output jsonl` event lines for tool, permission and usage: the normalized shapes, and the
// pinned delta/result lines around them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/drover_cli.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

using nlohmann::json;

TEST(CliEvents, AcpToolPermissionAndUsageLinesAreNormalized) {
  ScratchDir dir;
  json config = {
      {"providers",
       {{"fake",
         {{"accounts",
           {{{"id", "a"},
             {"transport",
              {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", {{"args", {"--tool", "read"}}}}}},
             {"models", {"fake-large"}}}}}}}}}};
  auto path = dir.write("drover.json", config.dump());
  CliRun run = run_drover({"run", "-c", path, "-o", "jsonl", "hi"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto lines = run.jsonl();
  std::vector<json> tools, permissions, usage;
  std::string deltas;
  for (const auto& l : lines) {
    if (l["type"] == "tool") tools.push_back(l);
    if (l["type"] == "permission") permissions.push_back(l);
    if (l["type"] == "usage") usage.push_back(l);
    if (l["type"] == "delta") {
      EXPECT_EQ(l.size(), 2u) << l.dump();
      deltas += l["text"].get<std::string>();
    }
  }
  EXPECT_EQ(deltas, lines.back()["text"]);
  ASSERT_EQ(tools.size(), 2u) << "tool_call, then its update";
  EXPECT_EQ(tools[1]["tool"], (json{{"id", "fake-call-1"}, {"name", "Fake read tool"}, {"kind", "read"},
                                    {"status", "completed"}, {"arguments", json::object()},
                                    {"result", "fake tool output"}}));
  EXPECT_EQ(tools[1]["raw"]["sessionUpdate"], "tool_call_update");
  ASSERT_EQ(permissions.size(), 1u) << "a permission is not a tool line";
  const json& p = permissions[0]["permission"];
  EXPECT_EQ(p["decision"], "allowed");
  EXPECT_EQ(p["optionId"], "allow-once-y");
  EXPECT_EQ(p["rule"], "approve-reads");
  EXPECT_EQ(p["options"].size(), 3u);
  EXPECT_EQ(lines.back()["permissions"][0]["decision"], "allowed") << "the result's list as before";
  ASSERT_FALSE(usage.empty());
  EXPECT_EQ(usage.back()["usage"]["outputTokens"], lines.back()["usage"]["outputTokens"]);
  EXPECT_TRUE(usage.front()["usage"].contains("costUsd")) << "usage_update's cost, normalized";
  EXPECT_EQ(usage.front()["raw"]["sessionUpdate"], "usage_update");
}

}  // namespace
}  // namespace drover::test
