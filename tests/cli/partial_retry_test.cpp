// A turn that fails temporarily after part of its answer came as deltas: retried when nobody saw
// those deltas (text and json output print only at the end), not retried when they were
// delivered (jsonl output), so no consumer ever gets an answer's start twice.
#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

// drover run with OUTPUT (text, json, jsonl) through a route whose every try fails that way.
CliRun run_partial_fail(const ScratchDir& dir, const std::string& output) {
  json cli = {{"argsTemplate", {"--mode", "partial-fail", "--prompt", "{prompt}"}},
              {"parser",
               {{"kind", "jsonl"},
                {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}},
                {"sessionId", "session_id"}}}};
  json config = json::parse(fake_agent_config(cli));
  config["routing"] = {{"maxAttempts", 2}};  // one retry is enough to see it
  const std::string path = dir.write("drover.json", config.dump(2));
  return run_drover({"run", "-c", path, "-o", output, "a prompt of several words"});
}

const std::string kStreamedWarning = "not retried: part of the answer had already been streamed";

bool has_warning(const json& result, const std::string& text) {
  for (const auto& w : result["warnings"])
    if (w.get<std::string>().find(text) != std::string::npos) return true;
  return false;
}

TEST(CliPartialRetry, TextOutputRetriesBecauseNothingWasShown) {
  ScratchDir dir;
  CliRun run = run_partial_fail(dir, "text");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.out, "") << "a failed run prints no partial answer";
  EXPECT_EQ(run.err.find(kStreamedWarning), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("gave up after 2 attempts"), std::string::npos) << run.err;
}

TEST(CliPartialRetry, JsonOutputRetriesBecauseNothingWasShown) {
  ScratchDir dir;
  CliRun run = run_partial_fail(dir, "json");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  json r = run.json();
  EXPECT_EQ(r["attempts"].size(), 2u) << r.dump();
  EXPECT_EQ(r["error"]["code"], "temporary_unavailable") << r.dump();
  EXPECT_FALSE(has_warning(r, kStreamedWarning)) << r.dump();
}

TEST(CliPartialRetry, JsonlOutputIsNotRetriedOnceDeltasWereDelivered) {
  ScratchDir dir;
  CliRun run = run_partial_fail(dir, "jsonl");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  auto lines = run.jsonl();
  ASSERT_FALSE(lines.empty());
  size_t deltas = 0;
  for (const auto& l : lines) deltas += l["type"] == "delta";
  EXPECT_EQ(deltas, 1u) << run.out;
  const json& r = lines.back();
  EXPECT_EQ(r["attempts"].size(), 1u) << r.dump();
  EXPECT_TRUE(has_warning(r, kStreamedWarning)) << r.dump();
}

}  // namespace
}  // namespace drover::test
