// Attachments in print mode: staged before anything is spawned, handed to the harness as
// arguments, as mentions in the prompt or as a directory, refused before spawn when the route
// does not take them, and gone on every path (success, harness error, watchdog, cancel) unless
// kept.
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/transport/transport.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// A workspace with files to attach, a staging directory of the test's own (so nothing the run
// leaves can hide among other runs' files) and a marker the agent writes when it starts.
struct Scene {
  ScratchDir workspace;
  ScratchDir staging;
  ScratchDir scratch;
  std::string marker = scratch.path() + "/started";
  Scene() {
    workspace.write("notes.txt", "hello notes\n");
    workspace.write("sub/data.csv", "a,b\n1,2\n");
  }
  bool agent_ran() const { return fs::exists(marker); }
  bool staging_empty() const { return fs::is_empty(staging.path()); }
};

struct PrintOutcome {
  int done = 0;
  Result result;
  json seen;  // what the fake agent's files mode printed
};

// Runs `cli` (a fake-agent route) once with `request`; `staging` is the config's top-level block
// (its dir defaults to the scene's); `started` is called with the run's control right after start.
PrintOutcome run(Scene& scene, const json& cli, RunRequest request, json staging = json::object(),
            const std::function<void(RunControl&)>& started = nullptr,
            const std::function<void(RunControl&, const Event&)>& on_event = nullptr) {
  json doc = json::parse(fake_agent_config(cli));
  if (!staging.contains("dir")) staging["dir"] = scene.staging.path();
  doc["staging"] = staging;
  auto [config, error] = parse_config(doc.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  PrintOutcome out;
  if (!config) return out;
  const Route route = *config->resolve("").first;
  if (!request.cwd) request.cwd = scene.workspace.path();
  if (request.prompt.empty()) request.prompt = "look";
  Loop loop;
  std::shared_ptr<RunControl> control;
  control = start_print_mode(
      loop, TransportAttempt{route, request, ""},
      TransportSink{[&](const Event& e) {
                      if (on_event) on_event(*control, e);
                    },
                    [&](TransportOutcome&& o) {
                      ++out.done;
                      out.result = std::move(o.result);
                    }});
  if (started) started(*control);
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  out.seen = json::parse(out.result.text, nullptr, false);
  return out;
}

// The fake agent in `mode`, writing the scene's marker when it starts, with `args` after.
json agent_cli(const Scene& scene, const std::string& mode, json args, json file_input = nullptr) {
  json all = {"--mode", mode, "--marker", scene.marker};
  for (auto& a : args) all.push_back(a);
  json cli = {{"argsTemplate", all}, {"parser", {{"kind", "text"}}}};
  if (!file_input.is_null()) cli["fileInput"] = file_input;
  return cli;
}

json files_cli(const Scene& scene, json args, json file_input = nullptr) {
  return agent_cli(scene, "files", std::move(args), std::move(file_input));
}

const json kFileFlags = {{"perFileArgs", {"--file", "{path}"}}};

std::vector<std::string> argv_of(const json& seen) {
  std::vector<std::string> argv;
  if (seen.contains("argv"))
    for (const auto& a : seen["argv"]) argv.push_back(a.get<std::string>());
  return argv;
}

bool under(const std::string& path, const std::string& dir) {
  const std::string d = fs::weakly_canonical(dir).string() + "/";
  return fs::weakly_canonical(path).string().rfind(d, 0) == 0;
}

TEST(PrintModeAttachments, ArgsPlacementPassesThePerFileArgumentsOfEachStagedCopy) {
  Scene scene;
  RunRequest request;
  request.attachments = {"notes.txt", scene.workspace.path() + "/sub/data.csv"};
  PrintOutcome out = run(scene,
                    files_cli(scene, {"--prompt", "{prompt}", "{files}"}, kFileFlags),
                    request);
  ASSERT_EQ(out.done, 1);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_TRUE(out.seen.is_object()) << out.result.text;
  const auto& files = out.seen["files"];
  ASSERT_EQ(files.size(), 2u) << out.seen.dump();
  EXPECT_EQ(files[0]["content"], "hello notes\n");
  EXPECT_EQ(files[1]["content"], "a,b\n1,2\n");
  const std::string first = files[0]["path"];
  EXPECT_TRUE(under(first, scene.staging.path())) << first;
  EXPECT_EQ(fs::path(first).filename(), "notes.txt");
  EXPECT_EQ(fs::path(first).parent_path().filename(), "attachments");
  EXPECT_THAT(argv_of(out.seen), ::testing::Contains("--file"));
  EXPECT_FALSE(fs::exists(first)) << "the staged copy outlived the run";
  EXPECT_TRUE(scene.staging_empty());

  ASSERT_EQ(out.result.attachments.size(), 2u);
  EXPECT_EQ(out.result.attachments[0].name, "notes.txt");
  EXPECT_EQ(out.result.attachments[0].source, "notes.txt");
  EXPECT_EQ(out.result.attachments[0].delivery, "args");
  EXPECT_EQ(out.result.attachments[0].bytes, 12);
  EXPECT_EQ(out.result.attachments[1].name, "data.csv");
  EXPECT_FALSE(out.result.attachments[0].kept_at);
  EXPECT_TRUE(out.result.warnings.empty()) << out.result.warnings[0];
}

TEST(PrintModeAttachments, WithoutFileInputFilesIsOnePathArgumentPerFile) {
  Scene scene;
  RunRequest request;
  request.attachments = {"notes.txt"};
  PrintOutcome out = run(scene, files_cli(scene, {"--prompt", "{prompt}", "{files}"}), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  const auto argv = argv_of(out.seen);
  ASSERT_FALSE(argv.empty()) << out.result.text;
  EXPECT_TRUE(under(argv.back(), scene.staging.path())) << argv.back();
  ASSERT_EQ(out.seen["files"].size(), 1u);
  EXPECT_EQ(out.seen["files"][0]["content"], "hello notes\n");
  ASSERT_EQ(out.result.attachments.size(), 1u);
  EXPECT_EQ(out.result.attachments[0].delivery, "args");
}

TEST(PrintModeAttachments, PromptPlacementAppendsAMentionOfEachStagedPath) {
  Scene scene;
  RunRequest request;
  request.prompt = "summarize";
  request.attachments = {"notes.txt", "sub/data.csv"};
  PrintOutcome out = run(scene,
                    files_cli(scene, {"--prompt", "{prompt}"},
                              {{"placement", "prompt"}, {"mentionTemplate", "{path}"},
                               {"separator", "\n"}}),
                    request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  const auto& files = out.seen["files"];
  ASSERT_EQ(files.size(), 2u) << out.seen.dump();
  EXPECT_EQ(out.seen["prompt"], "summarize\n" + files[0]["path"].get<std::string>() + "\n" +
                                    files[1]["path"].get<std::string>());
  EXPECT_EQ(files[0]["content"], "hello notes\n");
  EXPECT_EQ(files[1]["content"], "a,b\n1,2\n");
  for (const auto& a : out.result.attachments) EXPECT_EQ(a.delivery, "prompt");
  EXPECT_EQ(out.result.attachments.size(), 2u);
  EXPECT_TRUE(scene.staging_empty());
}

TEST(PrintModeAttachments, PromptPlacementReachesAStdinPromptToo) {
  Scene scene;
  RunRequest request;
  request.prompt = "read";
  request.attachments = {"notes.txt"};
  json cli = files_cli(scene, {"--stdin"},
                       {{"placement", "prompt"}, {"mentionTemplate", "see {path} ({name})"},
                        {"separator", " -- "}});
  cli["input"] = "stdin";
  PrintOutcome out = run(scene, cli, request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_EQ(out.seen["files"].size(), 1u) << out.seen.dump();
  const std::string path = out.seen["files"][0]["path"];
  EXPECT_EQ(out.seen["prompt"], "read -- see " + path + " (notes.txt)");
  EXPECT_EQ(out.seen["files"][0]["content"], "hello notes\n");
}

TEST(PrintModeAttachments, AttachmentsDirNamesTheDirectoryAndIsDroppedWithoutAttachments) {
  Scene scene;
  const json cli = files_cli(scene, {"--prompt", "{prompt}", json::array({"--dir", "{attachments_dir}"})},
                             {{"placement", "prompt"}});
  RunRequest request;
  request.attachments = {"notes.txt"};
  PrintOutcome out = run(scene, cli, request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  const auto argv = argv_of(out.seen);
  auto dir = std::find(argv.begin(), argv.end(), "--dir");
  ASSERT_NE(dir, argv.end()) << out.result.text;
  ASSERT_NE(dir + 1, argv.end());
  EXPECT_TRUE(under(*(dir + 1), scene.staging.path())) << *(dir + 1);
  EXPECT_EQ(fs::path(*(dir + 1)).filename(), "attachments");
  // The mention and the directory entry: the same copy, with its content.
  ASSERT_EQ(out.seen["files"].size(), 2u) << out.seen.dump();
  EXPECT_EQ(out.seen["files"][1]["path"], *(dir + 1) + "/notes.txt");
  EXPECT_EQ(out.seen["files"][1]["content"], "hello notes\n");

  PrintOutcome none = run(scene, cli, RunRequest{});
  ASSERT_FALSE(none.result.error) << none.result.error->message;
  const auto bare = argv_of(none.seen);
  EXPECT_EQ(std::find(bare.begin(), bare.end(), "--dir"), bare.end()) << none.result.text;
  EXPECT_EQ(none.seen["prompt"], "look") << "no attachment, no mention";
  EXPECT_TRUE(none.result.attachments.empty());
}

TEST(PrintModeAttachments, CleanModeStagesInsideTheFreshDirectory) {
  Scene scene;
  RunRequest request;
  request.context_mode = ContextMode::clean;
  request.attachments = {"notes.txt"};  // relative: still the workspace's
  PrintOutcome out = run(scene,
                    files_cli(scene, {"--prompt", "{prompt}", "{files}"}, kFileFlags),
                    request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_EQ(out.seen["files"].size(), 1u) << out.seen.dump();
  const std::string path = out.seen["files"][0]["path"];
  const std::string cwd = out.seen["cwd"];
  EXPECT_TRUE(under(path, cwd)) << path << " is not under the run's directory " << cwd;
  EXPECT_FALSE(under(path, scene.workspace.path())) << path;
  EXPECT_EQ(out.result.text.find(scene.workspace.path()), std::string::npos)
      << "the harness was shown the workspace: " << out.result.text;
  EXPECT_EQ(out.seen["files"][0]["content"], "hello notes\n");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(cwd)) << "the clean directory outlived the run";
  EXPECT_TRUE(scene.staging_empty()) << "clean mode stages into its own directory";
}

// A route that cannot take the attachments, or an attachment that cannot be staged: the run
// ends before anything is spawned, with nothing left in the staging directory.
TEST(PrintModeAttachments, RefusalsComeBeforeSpawnAndLeaveNothing) {
  struct Case {
    const char* name;
    std::function<json(const Scene&)> cli;
    std::vector<Attachment> attachments;
    ErrorCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a route that takes none",
       [](const Scene& s) { return files_cli(s, {"--prompt", "{prompt}"}); },
       {"notes.txt"},
       ErrorCode::unsupported_capability,
       "route t:cli:a:m takes no attachments (its transport.cli has no fileInput and its "
       "argsTemplate no {files})"},
      {"a category the route refuses",
       [](const Scene& s) {
         return files_cli(s, {"--prompt", "{prompt}", "{files}"}, {{"categories", {"image"}}});
       },
       {"notes.txt"},
       ErrorCode::unsupported_capability,
       "t:cli:a:m"},
      {"{files} only in a group this run does not use",
       [](const Scene& s) {
         return files_cli(s, {"--prompt", "{prompt}", {{"when", "clean"}, {"args", "{files}"}}});
       },
       {"notes.txt"},
       ErrorCode::unsupported_capability,
       "no {files} in the argsTemplate groups"},
      {"a missing attachment",
       [](const Scene& s) { return files_cli(s, {"--prompt", "{prompt}", "{files}"}); },
       {"notes.txt", "missing.txt"},
       ErrorCode::validation_error,
       "missing.txt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Scene scene;
    RunRequest request;
    request.attachments = c.attachments;
    PrintOutcome out = run(scene, c.cli(scene), request);
    ASSERT_EQ(out.done, 1);
    ASSERT_TRUE(out.result.error);
    EXPECT_EQ(out.result.error->code, c.code) << out.result.error->message;
    EXPECT_THAT(out.result.error->message, HasSubstr(c.message));
    EXPECT_FALSE(out.result.process);
    EXPECT_FALSE(scene.agent_ran()) << "the harness was started";
    EXPECT_TRUE(scene.staging_empty());
    EXPECT_TRUE(out.result.attachments.empty());
  }
}

// However the harness ends after it got the files, their copies are gone with the run.
TEST(PrintModeAttachments, EveryWayTheHarnessEndsLeavesNothingStaged) {
  struct Case {
    const char* name;
    std::function<json(const Scene&)> cli;
    ErrorCode code;
    std::function<void(RunControl&, const Event&)> on_event;
  };
  const std::vector<Case> cases = {
      {"harness error",
       [](const Scene& s) {
         return files_cli(s, {"--prompt", "{prompt}", "--exit", "3", "{files}"}, kFileFlags);
       },
       ErrorCode::harness_error, nullptr},
      {"watchdog kill",
       [](const Scene& s) {
         json cli = agent_cli(s, "hang", {"--prompt", "{prompt}", "{files}"}, kFileFlags);
         cli["watchdog"] = {{"idleTimeout", 0.3}, {"killGrace", 0.1}};
         return cli;
       },
       ErrorCode::timeout, nullptr},
      {"cancel while it answers",
       [](const Scene& s) {
         json cli = agent_cli(s, "jsonl", {"--ms", "300", "--prompt", "{prompt}", "{files}"},
                              kFileFlags);
         cli["parser"] = {
             {"kind", "jsonl"},
             {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}}};
         return cli;
       },
       ErrorCode::aborted,
       [](RunControl& control, const Event& e) {
         if (e.kind == Event::Kind::delta) control.cancel();
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Scene scene;
    RunRequest request;
    request.attachments = {"notes.txt"};
    PrintOutcome out = run(scene, c.cli(scene), request, json::object(), nullptr, c.on_event);
    ASSERT_EQ(out.done, 1);
    ASSERT_TRUE(out.result.error);
    EXPECT_EQ(out.result.error->code, c.code) << out.result.error->message;
    EXPECT_TRUE(scene.agent_ran());
    EXPECT_TRUE(scene.staging_empty()) << "a staged copy outlived the run";
  }
}

TEST(PrintModeAttachments, AStopDuringStagingEndsTheRunWithNothingLeft) {
  for (bool pause : {false, true}) {
    SCOPED_TRACE(pause ? "pause" : "cancel");
    Scene scene;
    RunRequest request;
    request.attachments = {"notes.txt", "sub/data.csv"};
    PrintOutcome out = run(scene, files_cli(scene, {"--prompt", "{prompt}", "{files}"}), request,
                      json::object(),
                      [pause](RunControl& control) { pause ? control.pause() : control.cancel(); });
    ASSERT_EQ(out.done, 1);
    if (pause) {
      EXPECT_FALSE(out.result.error) << out.result.error->message;
      EXPECT_EQ(out.result.stop_reason, "paused");
    } else {
      ASSERT_TRUE(out.result.error);
      EXPECT_EQ(out.result.error->code, ErrorCode::aborted) << out.result.error->message;
    }
    EXPECT_FALSE(out.result.process);
    EXPECT_FALSE(scene.agent_ran());
    EXPECT_TRUE(scene.staging_empty());
    EXPECT_TRUE(out.result.attachments.empty());
  }
}

TEST(PrintModeAttachments, KeepLeavesTheCopiesAndSaysWhere) {
  Scene scene;
  RunRequest request;
  request.attachments = {"notes.txt"};
  PrintOutcome out = run(scene, files_cli(scene, {"--prompt", "{prompt}", "{files}"}), request,
                    {{"keep", true}});
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_EQ(out.result.attachments.size(), 1u);
  ASSERT_TRUE(out.result.attachments[0].kept_at);
  const std::string kept = *out.result.attachments[0].kept_at;
  EXPECT_TRUE(under(kept, scene.staging.path())) << kept;
  EXPECT_EQ(read_file(out.seen["files"][0]["path"]), "hello notes\n")
      << "the copy the harness got is still there";
  ASSERT_EQ(out.result.warnings.size(), 1u);
  EXPECT_THAT(out.result.warnings[0], HasSubstr("attachments kept in "));
  EXPECT_FALSE(scene.staging_empty());
}

TEST(PrintModeAttachments, KeepInCleanModeStagesOutsideTheDirectoryThatGoes) {
  Scene scene;
  RunRequest request;
  request.context_mode = ContextMode::clean;
  request.attachments = {"notes.txt"};
  PrintOutcome out = run(scene, files_cli(scene, {"--prompt", "{prompt}", "{files}"}), request,
                    {{"keep", true}});
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_EQ(out.seen["files"].size(), 1u) << out.seen.dump();
  const std::string path = out.seen["files"][0]["path"];
  EXPECT_TRUE(under(path, scene.staging.path())) << path;
  EXPECT_EQ(read_file(path), "hello notes\n");
  ASSERT_EQ(out.result.attachments.size(), 1u);
  EXPECT_TRUE(out.result.attachments[0].kept_at);
}

}  // namespace
}  // namespace drover::test
