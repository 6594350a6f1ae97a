// `drover run --file`: usage errors, and the staging directories of dead drover processes
// removed at start.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

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

// A config whose route hangs until stopped, after writing `marker`, with its attachments passed
// as --file arguments.
std::string hanging_config(const ScratchDir& dir, const std::string& marker) {
  return dir.write("drover.json",
                   fake_agent_config({{"argsTemplate", {"--mode", "hang", "--marker", marker,
                                                        "--prompt", "{prompt}", "{files}"}},
                                      {"fileInput", {{"perFileArgs", {"--file", "{path}"}}}}}));
}

// Nothing of drover's is left in `tmp`: no staging directory, no run directory.
void expect_no_drover_dirs(const ScratchDir& tmp) {
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    EXPECT_NE(entry.path().filename().string().rfind("drover-", 0), 0u) << entry.path();
}

TEST(CliAttachments, SigtermMidRunRemovesTheStagedCopies) {
  ScratchDir dir, tmp;
  const std::string marker = dir.path() + "/started";
  const std::string config = hanging_config(dir, marker);
  const std::string doc = dir.write("doc.txt", "contents");
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}, {"MARKER", marker}};
  // Starts drover, waits for the harness to have started (it holds the staged copy), then
  // sends drover SIGTERM and reports how it ended.
  options.shell_script =
      "\"$@\" & pid=$!; i=0; while [ ! -s \"$MARKER\" ] && [ $i -lt 3000 ]; do sleep 0.01; "
      "i=$((i+1)); done; ls \"$TMPDIR\" > \"$MARKER.ls\"; kill -TERM $pid; wait $pid; echo \"rc=$?\"";
  CliRun run = run_drover({"run", "-c", config, "--file", doc, "hello"}, options);
  EXPECT_NE(run.out.find("rc=143"), std::string::npos) << run.out << run.err;
  // While the harness ran, its copy existed.
  std::ifstream listing(marker + ".ls");
  std::string during((std::istreambuf_iterator<char>(listing)), {});
  EXPECT_NE(during.find(std::string(kAttachmentDirPrefix)), std::string::npos) << during;
  expect_no_drover_dirs(tmp);
}

TEST(CliAttachments, AFailedWriteOfTheOutputStillRemovesTheStagedCopies) {
  ScratchDir dir, tmp;
  const std::string config = dir.write(
      "drover.json", fake_agent_config({{"argsTemplate", {"--mode", "files", "--prompt", "{prompt}", "{files}"}},
                                        {"parser", {{"kind", "text"}}}}));
  const std::string doc = dir.write("doc.txt", "contents");
  CliOptions options;
  options.env = {{"TMPDIR", tmp.path()}};
  options.shell_script = "exec >/dev/full; exec \"$@\"";
  CliRun run = run_drover({"run", "-c", config, "--file", doc, "hello"}, options);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("stdout"), std::string::npos) << run.err;
  expect_no_drover_dirs(tmp);
}

}  // namespace
}  // namespace drover::test
