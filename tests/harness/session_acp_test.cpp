// drover::Session: one ACP agent kept alive across prompts, prompts queued in order, a restart
// that resumes the session, per-prompt deadlines.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/session.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

Config session_config(const std::string& fake_args) {
  json args = json::array();
  std::istringstream words(fake_args);
  for (std::string w; words >> w;) args.push_back(w);
  json config = {{"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport",
                         {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", {{"args", args}}}}},
                        {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "t.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

TEST(AcpSession, OneAgentAnswersEveryPrompt) {
  ScratchDir dir;
  Config config = session_config("");
  SessionOptions options;
  options.transcript_path = dir.path() + "/t.ndjson";
  std::string deltas;
  double running_cost = 0;  // the last usage_update's cumulative amount
  auto on_event = [&](const Event& e) {
    if (e.kind == Event::Kind::delta) deltas += e.text;
    if (e.kind == Event::Kind::usage && e.raw.contains("cost"))
      running_cost = e.raw["cost"]["amount"].get<double>();
  };
  {
    Session session(config, options);
    Result first = session.prompt("one", on_event);
    ASSERT_FALSE(first.error) << first.error->message;
    EXPECT_EQ(first.text, "FAKE(fake-large): one");
    EXPECT_EQ(deltas, first.text);
    const double after_first = running_cost;
    Result second = session.prompt("two three", on_event);
    ASSERT_FALSE(second.error) << second.error->message;
    EXPECT_EQ(second.text, "FAKE(fake-large): two three");
    EXPECT_EQ(second.session_id, first.session_id);
    EXPECT_EQ(session.session_id(), *first.session_id);
    // usage_update reports the session's running cost; each result carries its own turn's.
    ASSERT_TRUE(first.usage && first.usage->cost_usd && second.usage && second.usage->cost_usd);
    EXPECT_NEAR(*first.usage->cost_usd, after_first, 1e-9);
    EXPECT_GT(running_cost, after_first);
    EXPECT_NEAR(*second.usage->cost_usd, running_cost - after_first, 1e-9);
  }
  EXPECT_EQ(sent_in_transcript(options.transcript_path.value(), "initialize"), 1);
  EXPECT_EQ(sent_in_transcript(options.transcript_path.value(), "session/prompt"), 2);
}

TEST(AcpSession, QueuedPromptsRunInOrderOneAtATime) {
  Config config = session_config("--chunks 5 --chunk-delay-ms 20");
  Session session(config, {});
  std::vector<std::string> answers;
  for (const char* text : {"a", "b", "c"})
    session.send(text, nullptr, [&](Result r) {
      EXPECT_FALSE(r.error) << r.error->message;
      answers.push_back(r.text);
    });
  session.wait();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0], "FAKE(fake-large): a");
  EXPECT_EQ(answers[1], "FAKE(fake-large): b");
  EXPECT_EQ(answers[2], "FAKE(fake-large): c");
}

TEST(AcpSession, AfterCloseTheNextPromptResumesTheSession) {
  ScratchDir state;
  Config config = session_config("--resume-cap --state-dir " + state.path());
  Session session(config, {});
  Result first = session.prompt("one");
  ASSERT_FALSE(first.error) << first.error->message;
  session.close();
  Result second = session.prompt("two");
  ASSERT_FALSE(second.error) << second.error->message;
  EXPECT_EQ(second.session_id, first.session_id) << "the same session, resumed";
  EXPECT_EQ(second.text, "FAKE(fake-large): two");
}

TEST(AcpSession, APromptDeadlineCancelsThatTurnOnly) {
  // 60 chunks 30 ms apart (1.8 s) against a 1 s deadline; "x" takes 19 chunks (0.54 s).
  Config config = session_config("--chunks 60 --chunk-delay-ms 30");
  SessionOptions options;
  options.timeout_ms = 1000;
  Session session(config, options);
  Result slow = session.prompt("one two three four five six seven eight nine ten");
  ASSERT_TRUE(slow.error);
  EXPECT_EQ(slow.error->code, ErrorCode::timeout);
  EXPECT_EQ(slow.stop_reason, "cancelled");
  Result next = session.prompt("x");
  ASSERT_FALSE(next.error) << "the agent is still there: " << next.error->message;
  EXPECT_EQ(next.text, "FAKE(fake-large): x");
}

TEST(AcpSession, AnAgentThatCrashesFailsThatPromptAndTheNextStartsAgain) {
  Config config = session_config("--crash-on-prompt");
  Session session(config, {});
  Result crashed = session.prompt("x");
  ASSERT_TRUE(crashed.error);
  EXPECT_NE(crashed.error->message.find("before answering"), std::string::npos)
      << crashed.error->message;
  Result again = session.prompt("y");  // a fresh agent (which crashes again, the same way)
  ASSERT_TRUE(again.error);
  EXPECT_NE(again.error->message.find("before answering"), std::string::npos);
}

TEST(AcpSession, OnlyAcpRoutes) {
  auto [config, error] = parse_config(
      R"({"providers":{"p":{"accounts":[{"id":"a","transport":{"kind":"cli","command":"x","cli":{"argsTemplate":["{prompt}"]}}}]}}})",
      "t.json");
  ASSERT_TRUE(config);
  Session session(*config, {});
  Result r = session.prompt("x");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability);
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(AcpSession, ClosingWithAPromptInFlightAbortsItAndReturns) {
  // An agent that does not leave on stdin EOF must still be stopped.
  Config config = session_config("--no-exit-on-eof --chunks 40 --chunk-delay-ms 50");
  Session session(config, {});
  ASSERT_FALSE(session.prompt("warm").error);
  std::vector<Result> results;
  session.send("one two three four five six seven", nullptr, [&](Result r) { results.push_back(std::move(r)); });
  session.send("queued", nullptr, [&](Result r) { results.push_back(std::move(r)); });
  session.close();
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, ErrorCode::aborted);
  }
}

TEST(AcpSession, WatchdogsCountFromThePromptNotFromTheLastTurn) {
  Config config = session_config("");
  SessionOptions options;
  options.timeout_ms = 300;
  Session session(config, options);
  ASSERT_FALSE(session.prompt("one").error);
  ::usleep(600 * 1000);  // idle between prompts, longer than the deadline
  Result second = session.prompt("two");
  ASSERT_FALSE(second.error) << second.error->message;
}

TEST(AcpSession, ATranscriptKeepsEveryAgentOfTheSession) {
  ScratchDir dir;
  Config config = session_config("");
  SessionOptions options;
  options.transcript_path = dir.path() + "/t.ndjson";
  {
    Session session(config, options);
    ASSERT_FALSE(session.prompt("one").error);
    session.close();
    ASSERT_FALSE(session.prompt("two").error);
  }
  EXPECT_EQ(sent_in_transcript(*options.transcript_path, "initialize"), 2);
  EXPECT_EQ(sent_in_transcript(*options.transcript_path, "session/prompt"), 2);
}

// ---- submit: a RunHandle per prompt -----------------------------------------------------------

TEST(AcpSession, CancellingAQueuedPromptWithdrawsIt) {
  Config config = session_config("--chunks 4 --chunk-delay-ms 100");
  Session session(config, {});
  std::optional<Result> first, second;
  session.submit("one", {}, [&](Result r) { first = std::move(r); });
  RunHandle queued = session.submit("two", {}, [&](Result r) { second = std::move(r); });
  queued.cancel();
  EXPECT_FALSE(second) << "the Result was delivered inside cancel()";
  session.wait();
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->error);
  EXPECT_EQ(second->error->code, ErrorCode::aborted);
  EXPECT_TRUE(queued.done());
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->error) << first->error->message;
  EXPECT_EQ(first->text, "FAKE(fake-large): one");
  queued.cancel();  // done: nothing happens
}

TEST(AcpSession, CancellingTheRunningPromptEndsThatTurnOnly) {
  ScratchDir dir;
  Config config = session_config("--chunks 6 --chunk-delay-ms 200");
  SessionOptions options;
  options.transcript_path = dir.path() + "/t.ndjson";
  std::optional<Result> first, second;
  {
    Session session(config, options);
    RunHandle running;
    running = session.submit(
        "one two three four five six",
        [&](const Event& e) {
          if (e.kind == Event::Kind::delta) running.cancel();
        },
        [&](Result r) { first = std::move(r); });
    session.submit("next", {}, [&](Result r) { second = std::move(r); });
    session.wait();
    EXPECT_TRUE(running.done());
  }
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->error);
  EXPECT_EQ(first->error->code, ErrorCode::aborted) << first->error->message;
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->error) << second->error->message;
  EXPECT_EQ(second->text, "FAKE(fake-large): next");
  EXPECT_EQ(sent_in_transcript(*options.transcript_path, "session/cancel"), 1);
  EXPECT_EQ(sent_in_transcript(*options.transcript_path, "initialize"), 1) << "the agent was restarted";
}

TEST(AcpSession, PausingTheRunningPromptKeepsItsAnswerSoFar) {
  Config config = session_config("--chunks 6 --chunk-delay-ms 200");
  Session session(config, {});
  std::string deltas;
  std::optional<Result> first;
  RunHandle running;
  running = session.submit(
      "one two three four five six",
      [&](const Event& e) {
        if (e.kind != Event::Kind::delta) return;
        deltas += e.text;
        running.pause();
      },
      [&](Result r) { first = std::move(r); });
  session.wait();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->error) << first->error->message;
  EXPECT_EQ(first->stop_reason, "paused");
  EXPECT_FALSE(first->text.empty());
  EXPECT_EQ(first->text.find("six"), std::string::npos) << first->text;
  Result next = session.prompt("again");
  EXPECT_FALSE(next.error) << next.error->message;
  EXPECT_EQ(next.text, "FAKE(fake-large): again");
}

TEST(AcpSession, ARouteErrorArrivesFromTheLoop) {
  json j = {{"providers",
             {{"t",
               {{"accounts",
                 {{{"id", "a"},
                   {"transport", {{"kind", "cli"}, {"command", fake_agent()},
                                  {"cli", {{"argsTemplate", {"{prompt}"}}, {"parser", {{"kind", "text"}}}}}}},
                   {"models", {"m"}}}}}}}}}};
  auto [config, error] = parse_config(j.dump(), "t.json");
  ASSERT_TRUE(config) << (error ? error->message : "");
  Session session(*config, {});
  std::optional<Result> result;
  session.submit("x", {}, [&](Result r) { result = std::move(r); });
  EXPECT_FALSE(result) << "the Result was delivered inside submit()";
  session.wait();
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, ErrorCode::unsupported_capability);
}

}  // namespace
}  // namespace drover::test
