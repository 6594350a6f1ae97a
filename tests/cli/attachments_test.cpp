// `drover run --file`: usage errors, and the staging directories of dead drover processes
// removed at start.
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "staging/attachments.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(CliAttachments, StdinAttachmentUsageErrorsExitTwo) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config(json::object()));
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"--file", "-", "hi"}, "--name"},
           {{"--file", "-", "--name", "a.txt", "-"}, "both come from stdin"},
           {{"--file", "-", "--file", "-", "--name", "a", "hi"}, "once"},
           {{"--name", "a.txt", "hi"}, "--file -"},
       }) {
    std::vector<std::string> args{"run", "--config", config};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CliOptions options;
    options.stdin_data = "data";
    CliRun run = run_drover(args, options);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
  }
}

TEST(CliAttachments, AFileFlagTakesOneValueAndLeavesThePromptAlone) {
  ScratchDir dir;
  auto config = dir.write("drover.json", fake_agent_config({{"argsTemplate", {"--prompt", "{prompt}"}}}));
  // `--file a.txt hello`: hello is the prompt, not a second file (else: "the prompt is empty").
  dir.write("a.txt", "x");
  CliRun run = run_drover({"run", "--config", config, "-o", "json", "--file",
                           dir.path() + "/a.txt", "hello"});
  EXPECT_NE(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.err.find("prompt is empty"), std::string::npos) << run.err;
}

TEST(CliAttachments, StagingDirectoriesOfDeadProcessesAreRemovedAtStart) {
  ScratchDir tmp;
  const std::string prefix = std::string(kAttachmentDirPrefix);
  const std::string dead = tmp.path() + "/" + prefix + "999999999-aBc123";
  const std::string unrelated = tmp.path() + "/" + prefix + "keep-me";
  fs::create_directories(dead + "/attachments");
  fs::create_directories(unrelated);
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}};
  CliRun run = run_drover({"presets"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(unrelated));
}

}  // namespace
}  // namespace drover::test
