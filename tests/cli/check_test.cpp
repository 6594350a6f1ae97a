// `drover check` on ACP routes: the agent is started as a run starts it (the route's environment
// and arguments) and asked initialize through the ACP client.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

// An agent that answers only with DROVER_CHECK_TOKEN=yes in its environment (as an agent needing
// its API key would), else exits 9 with a message on stderr.
std::string picky_agent(const ScratchDir& dir) {
  const std::string script = dir.path() + "/picky-agent";
  std::ofstream(script) << "#!/bin/sh\n[ \"$DROVER_CHECK_TOKEN\" = yes ] || { echo 'picky: no "
                           "token' >&2; exit 9; }\nexec "
                        << fake_acp_agent() << " \"$@\"\n";
  ::chmod(script.c_str(), 0755);
  return script;
}

std::string acp_config(const ScratchDir& dir, const json& acp) {
  json config = {{"providers",
                  {{"picky",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport", {{"kind", "acp"}, {"command", picky_agent(dir)}, {"acp", acp}}},
                        {"models", {"fake-large"}}}}}}}}}};
  return dir.write("drover.json", config.dump());
}

json row_of(const CliRun& run, const std::string& route) {
  for (const auto& row : run.json())
    if (row["route"] == route) return row;
  return nullptr;
}

TEST(CliCheckAcp, StartsTheAgentWithItsRoutesEnvironmentAndArguments) {
  ScratchDir dir;
  auto config = acp_config(dir, {{"env", {{"DROVER_CHECK_TOKEN", "yes"}}},
                                 {"args", {"--no-exit-on-eof", "--banner"}}});
  CliRun run = run_drover({"check", "-c", config, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json row = row_of(run, "picky:acp:a");
  ASSERT_TRUE(row.is_object()) << run.out;
  EXPECT_EQ(row["ok"], true) << row.dump();
  EXPECT_EQ(row["version"], "fake-acp-agent 1.0") << row.dump();
  EXPECT_EQ(row["path"], dir.path() + "/picky-agent");
  CliRun text = run_drover({"check", "-c", config});
  EXPECT_NE(text.out.find("ok       picky:acp:a  " + dir.path() + "/picky-agent  fake-acp-agent 1.0\n"),
            std::string::npos)
      << text.out;
}

TEST(CliCheckAcp, AnAgentThatDoesNotAnswerSaysWhy) {
  ScratchDir dir;
  auto config = acp_config(dir, json::object());  // no token: the agent exits 9
  CliRun run = run_drover({"check", "-c", config, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json row = row_of(run, "picky:acp:a");
  ASSERT_TRUE(row.is_object()) << run.out;
  EXPECT_EQ(row["ok"], false);
  EXPECT_TRUE(row["version"].is_null());
  const std::string problem = row["problem"].get<std::string>();
  EXPECT_NE(problem.find("did not answer ACP initialize"), std::string::npos) << problem;
  EXPECT_NE(problem.find("picky: no token"), std::string::npos) << problem;
}

}  // namespace
}  // namespace drover::test
