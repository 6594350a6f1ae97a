// The loop's own rules: one guard for every callback, no re-entry, a bounded destructor.
#include "src/loop/loop.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/loop/process.h"
#include "support/fixtures.h"

namespace drover {
namespace {

TEST(Guarded, AThrowingCallbackIsReportedToItsOwnerWithTheMessage) {
  std::vector<std::string> failures;
  guarded("the test callback", [] { throw std::runtime_error("kaput"); },
          [&](const std::string& message) { failures.push_back(message); });
  guarded("the test callback", [] {}, [&](const std::string& message) { failures.push_back(message); });
  guarded("an unusual callback", [] { throw 42; },
          [&](const std::string& message) { failures.push_back(message); });
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0], "the test callback threw: kaput");
  EXPECT_NE(failures[1].find("an unusual callback threw"), std::string::npos) << failures[1];
  // A failure handler that throws too is contained as well.
  guarded("the test callback", [] { throw std::runtime_error("a"); },
          [](const std::string&) { throw std::runtime_error("b"); });
}

TEST(Loop, AThrowingPostedCallbackOrTimerDoesNotStopTheRest) {
  Loop loop;
  int ran = 0;
  loop.post([] { throw std::runtime_error("posted boom"); });
  loop.post([&] { ++ran; });
  LoopTimer timer(loop);
  timer.start(1, [&] {
    ++ran;
    throw std::runtime_error("timer boom");
  });
  LoopTimer later(loop);
  later.start(5, [&] { ++ran; });
  loop.run();
  EXPECT_EQ(ran, 3);
}

TEST(Process, AThrowingOutputCallbackStopsTheChildAndFailsTheOutcome) {
  Loop loop;
  SpawnOptions options;
  options.file = test::fake_agent();
  options.args = {"fake_agent", "--mode", "hang-after", "--text", "hello"};
  options.env = {"PATH=/usr/bin:/bin"};
  options.watchdog.total_timeout_ms = 60000;  // the bound if the child were not stopped
  int chunks = 0;
  std::optional<ProcessOutcome> outcome;
  ProcessCallbacks callbacks;
  callbacks.on_stdout = [&](std::string_view) {
    ++chunks;
    throw std::runtime_error("parser exploded");
  };
  callbacks.on_complete = [&](ProcessOutcome&& o) { outcome = std::move(o); };
  Error error;
  ASSERT_NE(Process::start(loop, std::move(options), std::move(callbacks), error), nullptr)
      << error.message;
  loop.run();
  ASSERT_TRUE(outcome);
  EXPECT_EQ(chunks, 1);
  ASSERT_TRUE(outcome->error);
  EXPECT_EQ(outcome->error->code, ErrorCode::harness_error);
  EXPECT_EQ(outcome->error->message, "the stdout callback threw: parser exploded");
  EXPECT_EQ(outcome->info.stopped_by, StopCause::none) << "not a watchdog";
  EXPECT_TRUE(outcome->info.term_signal) << "the child was stopped";
}

TEST(LoopDeathTest, RunningTheLoopFromItsOwnCallbackAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Loop loop;
        loop.post([&] { loop.run(); });
        loop.run();
      },
      "drover: Loop::run called from inside a loop callback");
  EXPECT_DEATH(
      {
        Loop loop;
        LoopTimer timer(loop);
        timer.start(1, [&] { loop.run_until([] { return false; }); });
        loop.run();
      },
      "drover: Loop::run called from inside a loop callback");
}

TEST(Loop, RunningAgainAfterwardsIsFine) {
  Loop loop;
  int ran = 0;
  loop.post([&] { ++ran; });
  loop.run();
  loop.post([&] { ++ran; });
  loop.run_until([&] { return ran == 2; });
  EXPECT_EQ(ran, 2);
  EXPECT_FALSE(loop.running());
}

TEST(LoopDeathTest, AHandleLeftOpenFailsDebugBuilds) {
#ifdef NDEBUG
  GTEST_SKIP() << "Release builds only log a handle left open";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto loop = std::make_unique<Loop>();
        auto* leaked = new uv_timer_t;
        uv_timer_init(loop->uv(), leaked);
        loop.reset();
      },
      "a libuv handle was left open when its loop was destroyed");
#endif
}

TEST(Loop, DestroyingTheLoopEndsItsChildren) {
  int64_t pid = 0;
  {
    Loop loop;
    SpawnOptions options;
    options.file = test::fake_agent();
    options.args = {"fake_agent", "--mode", "ignore-term"};
    options.env = {"PATH=/usr/bin:/bin"};
    ProcessCallbacks callbacks;
    Error error;
    Process* process = Process::start(loop, std::move(options), std::move(callbacks), error);
    ASSERT_NE(process, nullptr) << error.message;
    pid = process->pid();
  }
  EXPECT_NE(::kill(static_cast<pid_t>(pid), 0), 0) << "the child outlived its loop";
}

}  // namespace
}  // namespace drover
