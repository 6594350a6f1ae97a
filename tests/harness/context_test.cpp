// Context mode, ephemeral runs, conditional argv groups and resume watchdogs in print mode.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Config config_for(const json& cli) {
  auto [config, error] = parse_config(fake_agent_config(cli), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return std::move(*config);
}

Result run(const json& cli, RunRequest request) {
  Client client(config_for(cli));
  if (request.prompt.empty()) request.prompt = "hi";
  return client.run(request);
}

const json kCwdCli = {{"argsTemplate", {"--mode", "cwd", "--prompt", "{prompt}"}},
                      {"parser", {{"kind", "text"}}}};

// argv as the answer; each conditional group adds an option the fake agent accepts.
const json kArgvCli = {
    {"argsTemplate",
     {"--mode", "argv", "--prompt", "{prompt}",
      json::array({"--session", "{session_id}"}),
      {{"when", "clean"}, {"args", "--text=clean"}},
      {{"when", "workspace"}, {"args", "--text=workspace"}},
      {{"when", "ephemeral"}, {"args", "--ms=1"}},
      {{"when", "!ephemeral"}, {"args", "--ms=2"}},
      {{"when", json::array({"resume", "env:DROVER_TEST_FLAG"})}, {"args", json::array({"--mb", "3"})}},
      {{"when", "fresh"}, {"args", "--bytes=4"}}}},
    {"parser", {{"kind", "text"}}}};

std::vector<std::string> argv_of(const Result& result) {
  EXPECT_FALSE(result.error) << result.error->message;
  auto argv = json::parse(result.text, nullptr, false);
  EXPECT_TRUE(argv.is_array()) << result.text;
  if (!argv.is_array()) return {};
  return std::vector<std::string>(argv.begin() + 1, argv.end());
}

bool has(const std::vector<std::string>& argv, const std::string& token) {
  return std::find(argv.begin(), argv.end(), token) != argv.end();
}

TEST(ContextMode, WorkspaceRunsInTheRequestedDirectory) {
  ScratchDir dir;
  RunRequest request;
  request.cwd = dir.path();
  Result result = run(kCwdCli, request);
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(fs::canonical(result.text), fs::canonical(dir.path()));
}

TEST(ContextMode, CleanRunsInAFreshEmptyDirectoryRemovedAfterwards) {
  ScratchDir dir;
  std::ofstream(dir.path() + "/CLAUDE.md") << "project context\n";
  RunRequest request;
  request.cwd = dir.path();
  request.context_mode = ContextMode::clean;
  Result first = run(kCwdCli, request);
  Result second = run(kCwdCli, request);
  ASSERT_FALSE(first.error) << first.error->message;
  ASSERT_FALSE(second.error) << second.error->message;
  EXPECT_NE(first.text, dir.path());
  EXPECT_NE(first.text, second.text) << "each clean run gets its own directory";
  EXPECT_EQ(fs::path(first.text).filename(), "work");
  EXPECT_EQ(fs::path(first.text).parent_path().filename().string().rfind("drover-", 0), 0u)
      << first.text;
  EXPECT_FALSE(fs::exists(first.text)) << "the clean directory outlived the run";
  EXPECT_FALSE(fs::exists(fs::path(first.text).parent_path()));
}

TEST(ContextMode, RouteContextModeCleanIsTheDefaultForItsRuns) {
  ScratchDir dir;
  json cli = kCwdCli;
  cli["contextMode"] = "clean";
  RunRequest request;
  request.cwd = dir.path();
  Result clean = run(cli, request);
  ASSERT_FALSE(clean.error) << clean.error->message;
  EXPECT_NE(fs::path(clean.text), fs::path(dir.path()));
  request.context_mode = ContextMode::workspace;  // the request wins
  Result workspace = run(cli, request);
  ASSERT_FALSE(workspace.error) << workspace.error->message;
  EXPECT_EQ(fs::canonical(workspace.text), fs::canonical(dir.path()));
}

TEST(ContextMode, CleanEnvIsSetOnlyInCleanMode) {
  json cli = {{"argsTemplate", {"--mode", "env", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"env", {{"ALWAYS", "1"}}},
              {"cleanEnv", {{"ONLY_CLEAN", "yes"}, {"ALWAYS", "2"}}}};
  RunRequest request;
  Result workspace = run(cli, request);
  request.context_mode = ContextMode::clean;
  Result clean = run(cli, request);
  ASSERT_FALSE(workspace.error) << workspace.error->message;
  ASSERT_FALSE(clean.error) << clean.error->message;
  json w = json::parse(workspace.text), c = json::parse(clean.text);
  EXPECT_EQ(w["ALWAYS"], "1");
  EXPECT_FALSE(w.contains("ONLY_CLEAN"));
  EXPECT_EQ(c["ALWAYS"], "2");
  EXPECT_EQ(c["ONLY_CLEAN"], "yes");
}

TEST(ContextMode, RelativeAttachmentsResolveAgainstTheWorkspace) {
  ScratchDir dir;
  std::ofstream(dir.path() + "/doc.txt") << "x";
  std::ofstream(dir.path() + "/other.txt") << "y";
  json cli = {{"argsTemplate", {"--mode", "argv", "--prompt", "{prompt}", "--text={files}"}},
              {"parser", {{"kind", "text"}}}};
  RunRequest request;
  request.cwd = dir.path();
  request.context_mode = ContextMode::clean;
  request.attachments = {"doc.txt", dir.path() + "/other.txt"};
  auto argv = argv_of(run(cli, request));
  // Staged copies inside the clean directory, joined with commas inside a larger token.
  auto text = std::find_if(argv.begin(), argv.end(),
                           [](const std::string& a) { return a.rfind("--text=", 0) == 0; });
  ASSERT_NE(text, argv.end()) << json(argv).dump();
  const std::string joined = text->substr(7);
  const size_t comma = joined.find(',');
  ASSERT_NE(comma, std::string::npos) << joined;
  EXPECT_EQ(fs::path(joined.substr(0, comma)).filename(), "doc.txt");
  EXPECT_EQ(fs::path(joined.substr(comma + 1)).filename(), "other.txt");
  EXPECT_EQ(joined.find(dir.path()), std::string::npos) << "a workspace path reached the harness";
}

TEST(ConditionalArgs, GroupsFollowContextEphemeralResumeAndEnvironment) {
  RunRequest request;
  auto workspace = argv_of(run(kArgvCli, request));
  EXPECT_TRUE(has(workspace, "--text=workspace"));
  EXPECT_FALSE(has(workspace, "--text=clean"));
  EXPECT_TRUE(has(workspace, "--ms=2")) << "workspace runs keep their session by default";
  EXPECT_TRUE(has(workspace, "--bytes=4"));

  request.context_mode = ContextMode::clean;
  auto clean = argv_of(run(kArgvCli, request));
  EXPECT_TRUE(has(clean, "--text=clean"));
  EXPECT_TRUE(has(clean, "--ms=1")) << "clean runs are ephemeral by default";

  request.ephemeral = false;  // --keep-session
  auto kept = argv_of(run(kArgvCli, request));
  EXPECT_TRUE(has(kept, "--ms=2"));

  RunRequest resume;
  resume.session_id = "s1";
  resume.ephemeral = true;  // a resumed session exists already: never ephemeral
  auto resumed = argv_of(run(kArgvCli, resume));
  EXPECT_TRUE(has(resumed, "--ms=2"));
  EXPECT_FALSE(has(resumed, "--bytes=4"));
  EXPECT_FALSE(has(resumed, "--mb")) << "env:DROVER_TEST_FLAG is not set";
}

TEST(ConditionalArgs, EnvConditionSeesTheChildsEnvironment) {
  json cli = kArgvCli;
  cli["env"] = {{"DROVER_TEST_FLAG", "1"}};
  RunRequest resume;
  resume.session_id = "s1";
  auto argv = argv_of(run(cli, resume));
  auto mb = std::find(argv.begin(), argv.end(), "--mb");
  ASSERT_NE(mb, argv.end()) << json(argv).dump();
  EXPECT_EQ(*(mb + 1), "3");
  cli["env"] = {{"DROVER_TEST_FLAG", ""}};  // empty counts as unset
  EXPECT_FALSE(has(argv_of(run(cli, resume)), "--mb"));
}

TEST(Ephemeral, AnEphemeralRunCarriesNoSessionId) {
  json cli = {{"argsTemplate", {"--mode", "json", "--prompt", "{prompt}"}},
              {"parser",
               {{"kind", "json"}, {"textPath", "result"}, {"sessionIdPath", "session_id"}}}};
  RunRequest request;
  Result kept = run(cli, request);
  ASSERT_FALSE(kept.error) << kept.error->message;
  EXPECT_EQ(kept.session_id, "fake-session-1");
  request.ephemeral = true;
  Result ephemeral = run(cli, request);
  ASSERT_FALSE(ephemeral.error) << ephemeral.error->message;
  EXPECT_FALSE(ephemeral.session_id) << *ephemeral.session_id;
  cli["ephemeral"] = true;  // the route's default
  Result route_default = run(cli, RunRequest{});
  EXPECT_FALSE(route_default.session_id);
}

TEST(ResumeWatchdog, AResumedRunUsesTheResumeTimeouts) {
  json cli = {{"argsTemplate", {"--mode", "hang", "--prompt", "{prompt}", "--session", "{session_id}"}},
              {"parser", {{"kind", "text"}}},
              {"watchdog",
               {{"idleTimeout", 600}, {"killGrace", 0.1}, {"resume", {{"idleTimeout", 0.2}}}}}};
  RunRequest request;
  request.session_id = "s1";
  Result result = run(cli, request);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, ErrorCode::timeout);
  EXPECT_NE(result.error->message.find("idle timeout (0.2 s)"), std::string::npos)
      << result.error->message;
  ASSERT_TRUE(result.process);
  EXPECT_EQ(result.process->stopped_by, StopCause::idle_timeout);
}

}  // namespace
}  // namespace drover::test
