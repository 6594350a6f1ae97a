// Runs on the same harness session are serialized; different sessions run side by side.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

// A harness that notices when another run of it is in progress at the same time.
std::string interleave_detector(const ScratchDir& dir) {
  std::string script = dir.path() + "/harness.sh";
  // mkdir is atomic: of two overlapping runs exactly one creates the directory.
  std::ofstream(script) << "#!/bin/sh\n"
                           "busy=\"" << dir.path() << "/busy-$1\"\n"
                           "if mkdir \"$busy\" 2>/dev/null; then echo alone; sleep 0.3; rmdir \"$busy\";\n"
                           "else echo INTERLEAVED; fi\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return script;
}

Config detector_config(const std::string& script) {
  nlohmann::json j = {{"routing", {{"fallback", {{"on", nlohmann::json::object()}}}}},
                      {"providers",
                       {{"h",
                         {{"accounts",
                           {{{"id", "a"},
                             {"transport",
                              {{"kind", "cli"},
                               {"command", script},
                               {"cli",
                                {{"argsTemplate", {"{session_id}", "{prompt}"}},
                                 {"suppressHarnessNoise", false}}}}}}}}}}}}};
  auto [config, error] = parse_config(j.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return std::move(*config);
}

std::vector<Result> run_concurrently(const Config& config, const std::vector<std::string>& sessions) {
  Loop loop;
  std::vector<Result> results;
  for (const auto& session : sessions) {
    RunRequest request;
    request.prompt = "go";
    request.session_id = session;
    start_run(loop, config, builtin_transports(), request, nullptr, [&](Result&& r) { results.push_back(std::move(r)); });
  }
  loop.run();
  return results;
}

TEST(Sessions, RunsOnTheSameSessionAreSerialized) {
  ScratchDir dir;
  Config config = detector_config(interleave_detector(dir));
  auto results = run_concurrently(config, {"s1", "s1", "s1"});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error->message;
    EXPECT_EQ(r.text, "alone");
    EXPECT_EQ(r.session_id, "s1") << "the result carries the session id to resume with";
  }
}

TEST(Sessions, DifferentSessionsRunSideBySide) {
  // The detector's busy file is per session, so this only checks nothing waits forever and
  // every run completes; the lock is per (route, session).
  ScratchDir dir;
  Config config = detector_config(interleave_detector(dir));
  auto results = run_concurrently(config, {"a", "b", "c"});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_TRUE(r.ok());
}

TEST(Sessions, TheDetectorDoesSeeInterleavingWithoutALock) {
  // Guard for the test above: without a session id nothing is serialized, and two runs of the
  // detector at once do notice each other.
  ScratchDir dir;
  std::string script = interleave_detector(dir);
  nlohmann::json j = nlohmann::json::parse(R"({"providers": {"h": {"accounts": [{"id": "a",
      "transport": {"kind": "cli", "command": "SCRIPT",
                    "cli": {"argsTemplate": ["same", "{prompt}"], "suppressHarnessNoise": false}}}]}}})");
  j["providers"]["h"]["accounts"][0]["transport"]["command"] = script;
  auto [config, error] = parse_config(j.dump(), "test.json");
  ASSERT_TRUE(config);
  Loop loop;
  std::vector<Result> results;
  for (int i = 0; i < 2; ++i) {
    RunRequest request;
    request.prompt = "go";
    start_run(loop, *config, builtin_transports(), request, nullptr, [&](Result&& r) { results.push_back(std::move(r)); });
  }
  loop.run();
  ASSERT_EQ(results.size(), 2u);
  int interleaved = 0;
  for (const auto& r : results) interleaved += r.text == "INTERLEAVED";
  EXPECT_EQ(interleaved, 1);
}

}  // namespace
}  // namespace drover::test
