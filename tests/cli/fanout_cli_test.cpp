// Fan-out limits from the command line: `drover routes --json` shows a route's `fanout`, a used-up
// maxCalls is fanout_limit (exit 1) with no harness started, and a bad `fanout` block is a
// config error naming the file and key (exit 2).
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

json config_with(const json& top_fanout, const json& provider_fanout, const json& account_fanout,
                 const std::string& marker) {
  json cli = {{"argsTemplate", {"--mode", "echo", "--marker", marker, "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  json account = {{"id", "a"},
                  {"transport", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", cli}}},
                  {"models", {"m"}}};
  if (!account_fanout.is_null()) account["fanout"] = account_fanout;
  json provider = {{"accounts", {account}}};
  if (!provider_fanout.is_null()) provider["fanout"] = provider_fanout;
  json doc = {{"providers", {{"t", provider}}}};
  if (!top_fanout.is_null()) doc["fanout"] = top_fanout;
  return doc;
}

TEST(CliFanout, RoutesJsonShowsTheRoutesFanout) {
  ScratchDir dir;
  const std::string path = dir.write(
      "drover.json", config_with(nullptr, {{"maxConcurrency", 3}, {"requestsPerSecond", 1.5}},
                                 {{"maxCalls", 10}}, dir.path() + "/marker")
                         .dump());
  CliRun run = run_drover({"routes", "-c", path, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json routes = run.json();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]["fanout"],
            (json{{"maxConcurrency", 3}, {"requestsPerSecond", 1.5}, {"maxCalls", 10}}));

  const std::string plain =
      dir.write("plain.json", config_with(nullptr, nullptr, nullptr, dir.path() + "/m").dump());
  CliRun none = run_drover({"routes", "-c", plain, "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.json()[0]["fanout"], json::object());
}

TEST(CliFanout, AUsedUpMaxCallsIsFanoutLimitAndStartsNothing) {
  ScratchDir dir;
  const std::string marker = dir.path() + "/marker";
  const std::string path =
      dir.write("drover.json", config_with({{"maxCalls", 0}}, nullptr, nullptr, marker).dump());
  CliRun run = run_drover({"run", "-c", path, "-o", "json", "hello"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  const json r = run.json();
  EXPECT_EQ(r["error"]["code"], "fanout_limit") << r.dump();
  EXPECT_FALSE(std::filesystem::exists(marker)) << "no harness may start";
}

TEST(CliFanout, ABadFanoutBlockIsAConfigErrorNamingTheFileAndKey) {
  ScratchDir dir;
  const std::string path = dir.write(
      "drover.json",
      config_with(nullptr, nullptr, {{"maxConcurrency", 0}}, dir.path() + "/marker").dump());
  CliRun run = run_drover({"run", "-c", path, "hello"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(path + ": providers.t.accounts[0].fanout.maxConcurrency: expected a "
                                "positive integer, got 0"),
            std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace drover::test
