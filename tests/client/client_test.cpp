// drover::Client: runs in flight at once, cancel and pause, exactly-once completion, guards.
#include <csignal>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

Config config_from(const std::string& text) {
  auto [config, error] = parse_config(text, "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return std::move(*config);
}

// The fake agent with the prompt as its mode: "echo" answers at once, "hang" never does.
Config mode_config() {
  return config_from(fake_agent_config(
      {{"argsTemplate", {"--mode", "{prompt}", "--text", "answer"}}, {"parser", {{"kind", "text"}}}}));
}

// Streams its answer in three deltas (jsonl), `ms` apart.
Config streaming_config(int ms) {
  return config_from(fake_agent_config(
      {{"argsTemplate", {"--mode", "jsonl", "--ms", std::to_string(ms), "--prompt", "{prompt}"}},
       {"parser",
        {{"kind", "jsonl"},
         {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}},
         {"stopReason", "stop_reason"}}}}));
}

Config missing_command_config() {
  json config = {{"providers",
                  {{"t",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport",
                         {{"kind", "cli"},
                          {"command", "/nonexistent/drover-test-missing-harness"},
                          {"cli", {{"argsTemplate", {"{prompt}"}}, {"parser", {{"kind", "text"}}}}}}},
                        {"models", {"m"}}}}}}}}}};
  return config_from(config.dump());
}

RunRequest prompt(const std::string& text) {
  RunRequest request;
  request.prompt = text;
  return request;
}

TEST(Client, SubmitStartsNothingUntilTheLoopIsDriven) {
  Client client(mode_config());
  int done = 0;
  client.submit(prompt("echo"), {}, [&](Result) { ++done; });
  EXPECT_EQ(client.pending(), 1u);
  EXPECT_EQ(done, 0);
  client.wait();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(client.pending(), 0u);
}

TEST(Client, CompletionOfAFailureUpFrontComesFromTheLoopNotFromSubmit) {
  Client client(mode_config());
  RunRequest request = prompt("echo");
  request.route = "no-such-route";
  bool inside_submit = true;
  bool called_inside_submit = false;
  std::optional<Result> result;
  client.submit(request, {}, [&](Result r) {
    called_inside_submit = inside_submit;
    result = std::move(r);
  });
  inside_submit = false;
  client.wait();
  ASSERT_TRUE(result);
  EXPECT_FALSE(called_inside_submit);
  ASSERT_TRUE(result->error);
}

TEST(Client, HundredThousandChainedSubmissionsKeepTheStackFlat) {
  // Each completion submits the next run; a route whose command does not exist fails at once,
  // so a completion delivered from inside submit (or start) would recurse 100,000 deep.
  Client client(missing_command_config());
  // Each try copies the environment for its child first: a small one keeps the test quick.
  std::vector<std::pair<std::string, std::string>> saved;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string::npos) saved.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  const char* path = std::getenv("PATH");
  const std::string kept_path = path ? path : "/usr/bin:/bin";
  ::clearenv();
  ::setenv("PATH", kept_path.c_str(), 1);
  constexpr int kRuns = 100000;
  int done = 0;
  int failures = 0;
  std::function<void()> next = [&] {
    client.submit(prompt("hi"), {}, [&](Result r) {
      ++done;
      if (r.error && r.error->code == ErrorCode::not_found) ++failures;
      if (done < kRuns) next();
    });
  };
  next();
  client.wait();
  ::clearenv();
  for (const auto& [name, value] : saved) ::setenv(name.c_str(), value.c_str(), 1);
  EXPECT_EQ(done, kRuns);
  EXPECT_EQ(failures, kRuns);
  EXPECT_EQ(client.pending(), 0u);
}

TEST(Client, ThreeRunsAtOnceOneCancelledWhileRunning) {
  // Depends on the run's control reaching the Client: from the router when it hands one out
  // (and then on print mode's cancel), else the Client's own stop (DetachedStop).
  Client client(mode_config());
  std::map<std::string, Result> results;
  RunRequest hang = prompt("hang");
  hang.timeout_ms = 60000;  // a cancel that does nothing ends as a timeout, not as a hang
  RunHandle first = client.submit(prompt("echo"), {}, [&](Result r) { results["first"] = std::move(r); });
  RunHandle hanging = client.submit(hang, {}, [&](Result r) { results["hanging"] = std::move(r); });
  // When the third run is over the hanging one has certainly started: it is cancelled then.
  RunHandle third = client.submit(prompt("echo"), {}, [&, hanging](Result r) {
    results["third"] = std::move(r);
    hanging.cancel();
  });
  client.wait();
  ASSERT_EQ(results.size(), 3u);
  ASSERT_FALSE(results["first"].error) << results["first"].error->message;
  ASSERT_FALSE(results["third"].error) << results["third"].error->message;
  EXPECT_EQ(results["first"].text, "answer");
  EXPECT_EQ(results["third"].text, "answer");
  ASSERT_TRUE(results["hanging"].error);
  EXPECT_EQ(results["hanging"].error->code, ErrorCode::aborted) << results["hanging"].error->message;
  EXPECT_TRUE(hanging.done() && first.done() && third.done());
}

TEST(Client, CancelAndPauseBeforeTheRunStarts) {
  Client client(mode_config());
  std::optional<Result> cancelled, paused, ran;
  RunHandle a = client.submit(prompt("hang"), {}, [&](Result r) { cancelled = std::move(r); });
  RunHandle b = client.submit(prompt("hang"), {}, [&](Result r) { paused = std::move(r); });
  client.submit(prompt("echo"), {}, [&](Result r) { ran = std::move(r); });
  a.cancel();
  b.pause();
  b.cancel();  // the first stop asked for is the one that counts
  client.wait();
  ASSERT_TRUE(cancelled && paused && ran);
  ASSERT_TRUE(cancelled->error);
  EXPECT_EQ(cancelled->error->code, ErrorCode::aborted);
  EXPECT_FALSE(paused->error);
  EXPECT_EQ(paused->stop_reason, "paused");
  EXPECT_FALSE(ran->error);
  EXPECT_TRUE(a.done() && b.done());
}

TEST(Client, AThrowingEventHandlerFailsItsRunWithHarnessError) {
  Client client(streaming_config(200));
  int events = 0;
  int done = 0;
  std::optional<Result> result;
  client.submit(
      prompt("one two three four five six"),
      [&](const Event& event) {
        if (event.kind != Event::Kind::delta) return;
        ++events;
        throw std::runtime_error("handler boom");
      },
      [&](Result r) {
        ++done;
        result = std::move(r);
      });
  client.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(events, 1) << "no event reaches a handler after it threw";
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, ErrorCode::harness_error);
  EXPECT_NE(result->error->message.find("handler boom"), std::string::npos) << result->error->message;
  EXPECT_NE(result->error->message.find("event handler"), std::string::npos) << result->error->message;
}

TEST(Client, AThrowingCompletionHandlerBreaksNothingElse) {
  Client client(mode_config());
  int later = 0;
  client.submit(prompt("echo"), {}, [](Result) { throw std::runtime_error("done boom"); });
  client.submit(prompt("echo"), {}, [&](Result r) {
    EXPECT_FALSE(r.error);
    ++later;
    client.submit(prompt("echo"), {}, [&](Result) { ++later; });
  });
  client.wait();
  EXPECT_EQ(later, 2);
  EXPECT_EQ(client.pending(), 0u);
  Result again = client.run(prompt("echo"));
  EXPECT_FALSE(again.error);
}

TEST(Client, RunWorksWhileOtherRunsArePending) {
  Client client(mode_config());
  std::optional<Result> background;
  RunHandle hanging = client.submit(prompt("hang"), {}, [&](Result r) { background = std::move(r); });
  Result result = client.run(prompt("echo"));
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(result.text, "answer");
  EXPECT_EQ(client.pending(), 1u);
  EXPECT_FALSE(background);
  hanging.cancel();
  client.wait();
  ASSERT_TRUE(background);
  ASSERT_TRUE(background->error);
  EXPECT_EQ(background->error->code, ErrorCode::aborted);
}

TEST(Client, DestroyingTheClientStopsPendingRunsWithoutCallingTheirHandlers) {
  int done = 0;
  {
    Client client(mode_config());
    client.submit(prompt("hang"), {}, [&](Result) { ++done; });
    client.submit(prompt("hang"), {}, [&](Result) { ++done; });
    Result started = client.run(prompt("echo"));  // the hanging runs are running by now
    EXPECT_FALSE(started.error);
    EXPECT_EQ(client.pending(), 2u);
  }  // returns: their children are killed
  EXPECT_EQ(done, 0);
}

TEST(Client, CancelAllAbortsEveryPendingRunStartedOrNot) {
  Client client(mode_config());
  RunRequest hang = prompt("hang");
  hang.timeout_ms = 60000;  // a cancel that does nothing ends as a timeout, not as a hang
  std::vector<Result> results;
  client.submit(hang, {}, [&](Result r) { results.push_back(std::move(r)); });
  client.submit(hang, {}, [&](Result r) { results.push_back(std::move(r)); });
  EXPECT_FALSE(client.run(prompt("echo")).error);  // the hanging runs are running by now
  client.submit(hang, {}, [&](Result r) { results.push_back(std::move(r)); });  // not started
  client.cancel_all();
  client.wait();
  ASSERT_EQ(results.size(), 3u);
  for (const auto& result : results) {
    ASSERT_TRUE(result.error);
    EXPECT_EQ(result.error->code, ErrorCode::aborted) << result.error->message;
  }
}

TEST(Client, KillAllEndsTheRunsOfKilledChildrenAsFailures) {
  Client client(mode_config());
  RunRequest hang = prompt("hang");
  hang.timeout_ms = 60000;
  std::optional<Result> killed;
  client.submit(hang, {}, [&](Result r) { killed = std::move(r); });
  EXPECT_FALSE(client.run(prompt("echo")).error);
  client.kill_all();
  client.wait();
  ASSERT_TRUE(killed);
  ASSERT_TRUE(killed->error);
  EXPECT_NE(killed->error->code, ErrorCode::timeout) << killed->error->message;
}

TEST(Client, TerminationSignalsReachTheHandlerOnTheLoop) {
  Client client(mode_config());
  RunRequest hang = prompt("hang");
  hang.timeout_ms = 60000;
  int signalled = 0;
  client.watch_termination_signals([&](int signum) {
    signalled = signum;
    client.cancel_all();
  });
  std::optional<Result> result;
  client.submit(hang, {}, [&](Result r) { result = std::move(r); });
  ::raise(SIGUSR2);  // caught now, handled when the loop runs
  EXPECT_EQ(signalled, 0);
  client.wait();
  EXPECT_EQ(signalled, SIGUSR2);
  ASSERT_TRUE(result && result->error);
  EXPECT_EQ(result->error->code, ErrorCode::aborted) << result->error->message;
}

TEST(Client, ExactlyOnceCompletionForThousandRunsCancelledAtRandomMoments) {
  Client client(mode_config());
  std::mt19937 random(20261203);
  constexpr int kRuns = 1000;
  constexpr int kInFlight = 12;
  std::vector<int> completions(kRuns, 0);
  std::vector<RunHandle> handles(kRuns);
  std::vector<int> plan(kRuns);
  int submitted = 0;
  std::function<void()> submit_next = [&] {
    if (submitted == kRuns) return;
    const int index = submitted++;
    // 0: not stopped; 1: cancel at once; 2: cancel on the next completion of any run;
    // 3: pause on the next completion; 4: cancel from its own completion (after it is done).
    plan[index] = static_cast<int>(random() % 5);
    handles[index] = client.submit(prompt("echo"), {}, [&, index](Result r) {
      ++completions[index];
      if (plan[index] == 4) handles[index].cancel();
      // Another run, picked at random, is stopped at this moment (a no-op when it is done).
      const int other = static_cast<int>(random() % static_cast<unsigned>(submitted));
      if (plan[other] == 2) handles[other].cancel();
      if (plan[other] == 3) handles[other].pause();
      if (plan[index] == 0) {
        EXPECT_FALSE(r.error) << index << ": " << r.error->message;
      }
      if (plan[index] == 1) {
        EXPECT_TRUE(r.error && r.error->code == ErrorCode::aborted) << index;
      }
      submit_next();
    });
    if (plan[index] == 1) handles[index].cancel();
  };
  for (int i = 0; i < kInFlight; ++i) submit_next();
  client.wait();
  EXPECT_EQ(submitted, kRuns);
  for (int i = 0; i < kRuns; ++i) {
    EXPECT_EQ(completions[i], 1) << "run " << i << " (plan " << plan[i] << ")";
    EXPECT_TRUE(handles[i].done()) << i;
  }
  EXPECT_EQ(client.pending(), 0u);
}

TEST(ClientDeathTest, BlockingCallsFromAHandlerAreRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Client client(mode_config());
        client.submit(prompt("echo"), {}, [&](Result) { client.run(prompt("echo")); });
        client.wait();
      },
      "drover: Loop::run called from inside a loop callback");
  EXPECT_DEATH(
      {
        Client client(mode_config());
        client.submit(prompt("echo"), [&](const Event&) {}, [&](Result) { client.wait(); });
        client.wait();
      },
      "drover: Loop::run called from inside a loop callback");
}

TEST(CompletingOnDrop, ADroppedHandlerCompletesWithAFailure) {
  std::vector<Result> results;
  {
    ResultHandler handler = completing_on_drop([&](Result&& r) { results.push_back(std::move(r)); }, "t:cli:a:m");
    ResultHandler copy = handler;  // the last copy going counts
  }
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].error);
  EXPECT_EQ(results[0].error->code, ErrorCode::harness_error);
  EXPECT_EQ(results[0].route, "t:cli:a:m");
  EXPECT_FALSE(results[0].ok());
}

TEST(CompletingOnDrop, CalledOnceAndNeverAgain) {
  std::vector<Result> results;
  {
    ResultHandler handler = completing_on_drop([&](Result&& r) { results.push_back(std::move(r)); }, "r");
    Result first;
    first.text = "answer";
    handler(std::move(first));
    handler(Result{});
  }
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].text, "answer");
  EXPECT_FALSE(results[0].error);
}

TEST(Client, WaitDrivesPostAfterTimersAndSkipsDroppedOnes) {
  Client client(mode_config());
  std::vector<std::string> order;
  client.post_after(30, [&] {
    order.push_back("timer");
    // From a timer: a run and another timer, both waited for.
    client.submit(prompt("echo"), {}, [&](Result r) {
      order.push_back("run " + r.text);
      client.post_after(1, [&] { order.push_back("second timer"); });
    });
  });
  const uint64_t dropped = client.post_after(10, [&] { order.push_back("dropped"); });
  EXPECT_TRUE(client.cancel_timer(dropped));
  EXPECT_FALSE(client.cancel_timer(dropped));
  EXPECT_TRUE(order.empty());  // nothing fires before the loop is driven
  client.wait();
  EXPECT_EQ(order, (std::vector<std::string>{"timer", "run answer", "second timer"}));
  EXPECT_EQ(client.pending(), 0u);
}

TEST(ZeroConfigRoute, PicksNothingWhenNoHarnessIsOnPath) {
  ScratchDir dir;
  const char* saved = std::getenv("PATH");
  std::string old_path = saved ? saved : "";
  ::setenv("PATH", dir.path().c_str(), 1);
  ConfigLookup lookup;
  lookup.workspace_dir = dir.path();  // no drover.json there
  lookup.xdg_config_home = dir.path() + "/xdg";
  lookup.home = dir.path();
  auto [config, error] = load_config(lookup);
  ASSERT_TRUE(config) << (error ? error->message : "");
  auto chosen = zero_config_route(*config);
  ::setenv("PATH", (dir.path() + ":" + old_path).c_str(), 1);
  std::string bin = fake_claude_dir(dir);
  ::setenv("PATH", (bin + ":" + old_path).c_str(), 1);
  auto found = zero_config_route(*config);
  ::setenv("PATH", old_path.c_str(), 1);
  EXPECT_FALSE(chosen);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->route, "claude-cli");
  EXPECT_EQ(found->command, "claude");
}

}  // namespace
}  // namespace drover::test
