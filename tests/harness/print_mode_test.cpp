// Print mode under the transport contract: cancel and pause of one run (waiting for its session,
// spawned, streaming, done), completions always from the loop, exactly one completion however a
// stop races the run.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/print_mode.h"
#include "src/loop/loop.h"
#include "src/transport/transport.h"
#include "staging/session_lock.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

// The fake agent's jsonl mode: a session line, three deltas `ms` apart, usage, done.
json streaming_cli(int ms) {
  return {{"argsTemplate",
           {"--mode", "jsonl", "--ms", std::to_string(ms), "--prompt", "{prompt}",
            json::array({"--session", "{session_id}"})}},
          {"parser",
           {{"kind", "jsonl"},
            {"text", {{"path", "text"}, {"wherePath", "type"}, {"whereEquals", "delta"}}},
            {"usage", {{"path", "usage"}, {"wherePath", "type"}, {"whereEquals", "usage"}}},
            {"sessionId", "session_id"},
            {"stopReason", "stop_reason"}}}};
}

Config parse(const std::string& text) {
  auto [config, error] = parse_config(text, "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

// One run's completions, as the sink saw them.
struct PrintSeen {
  int done = 0;
  std::optional<Result> result;
  std::string deltas;
};

std::shared_ptr<RunControl> start(Loop& loop, const Route& route, const RunRequest& request,
                                  PrintSeen& seen, std::function<void(const Event&)> on_event = nullptr) {
  return start_print_mode(
      loop, TransportAttempt{route, request, ""},
      TransportSink{[&seen, on_event](const Event& e) {
                      if (e.kind == Event::Kind::delta) seen.deltas += e.text;
                      if (on_event) on_event(e);
                    },
                    [&seen](TransportOutcome&& o) {
                      ++seen.done;
                      seen.result = std::move(o.result);
                    }});
}

struct Fixture {
  explicit Fixture(int ms = 300) : config(parse(fake_agent_config(streaming_cli(ms)))) {
    route = *config.resolve("").first;
    request.prompt = "one two three four five six";
  }
  Config config;
  Route route;
  RunRequest request;
};

TEST(PrintModeControl, CancelDuringOutputAbortsAndStopsTheProcessGroup) {
  Fixture f;
  Loop loop;
  PrintSeen seen;
  std::shared_ptr<RunControl> control;
  control = start(loop, f.route, f.request, seen, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) control->cancel();
  });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.result->error);
  EXPECT_EQ(seen.result->error->code, ErrorCode::aborted) << seen.result->error->message;
  ASSERT_TRUE(seen.result->process);
  EXPECT_EQ(seen.result->process->stopped_by, StopCause::cancelled);
  EXPECT_EQ(loop.live_processes(), 0u);
  control->cancel();  // after the end: nothing happens
  control->pause();
  EXPECT_EQ(seen.done, 1);
}

TEST(PrintModeControl, PauseDuringOutputKeepsTheTextSoFar) {
  Fixture f;
  Loop loop;
  PrintSeen seen;
  std::shared_ptr<RunControl> control;
  control = start(loop, f.route, f.request, seen, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) control->pause();
  });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  const Result& r = *seen.result;
  EXPECT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.stop_reason, "paused");
  EXPECT_FALSE(r.text.empty());
  EXPECT_EQ(r.text, seen.deltas);
  EXPECT_LT(r.text.size(), std::string("echo: one two three four five six").size())
      << "the whole answer came: the pause did not stop the run";
  EXPECT_EQ(loop.live_processes(), 0u);
}

TEST(PrintModeControl, CancelRightAfterStartAborts) {
  Fixture f;
  Loop loop;
  PrintSeen seen;
  auto control = start(loop, f.route, f.request, seen);
  control->cancel();
  control->cancel();  // idempotent
  EXPECT_EQ(seen.done, 0);
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.result->error);
  EXPECT_EQ(seen.result->error->code, ErrorCode::aborted);
  EXPECT_EQ(loop.live_processes(), 0u);
}

TEST(PrintModeControl, StopsAfterTheRunEndedChangeNothing) {
  Fixture f(0);
  Loop loop;
  PrintSeen seen;
  auto control = start(loop, f.route, f.request, seen);
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_FALSE(seen.result->error) << seen.result->error->message;
  control->pause();
  control->cancel();
  loop.run();
  EXPECT_EQ(seen.done, 1);
  EXPECT_EQ(seen.result->text, "echo: one two three four five six");
}

// A scratch XDG_RUNTIME_DIR for session locks, restored afterwards.
class RuntimeDir {
 public:
  RuntimeDir() {
    if (const char* old = std::getenv("XDG_RUNTIME_DIR")) old_ = old;
    ::setenv("XDG_RUNTIME_DIR", dir_.path().c_str(), 1);
  }
  ~RuntimeDir() {
    if (old_)
      ::setenv("XDG_RUNTIME_DIR", old_->c_str(), 1);
    else
      ::unsetenv("XDG_RUNTIME_DIR");
  }
  const ScratchDir& dir() const { return dir_; }

 private:
  ScratchDir dir_;
  std::optional<std::string> old_;
};

// Before spawn: the run waits for a session another run holds; a stop ends the wait at once.
TEST(PrintModeControl, CancelWhileWaitingForTheSessionNeverSpawns) {
  RuntimeDir runtime;
  Fixture f;
  f.request.session_id = "s1";
  for (bool pause : {false, true}) {
    Loop loop;
    auto held = hold_session_lock(loop, f.route, "s1");
    ASSERT_TRUE(held);
    PrintSeen seen;
    auto control = start(loop, f.route, f.request, seen);
    LoopTimer stop(loop);
    stop.start(100, [&] { pause ? control->pause() : control->cancel(); });
    LoopTimer release(loop);  // bounds the test on the old code, where the stop did nothing
    release.start(20000, [&] { held.reset(); });
    loop.run_until([&] { return seen.done > 0; });
    ASSERT_EQ(seen.done, 1);
    EXPECT_FALSE(seen.result->process) << "the harness ran although the run was stopped first";
    if (pause) {
      EXPECT_FALSE(seen.result->error) << seen.result->error->message;
      EXPECT_EQ(seen.result->stop_reason, "paused");
    } else {
      ASSERT_TRUE(seen.result->error);
      EXPECT_EQ(seen.result->error->code, ErrorCode::aborted) << seen.result->error->message;
    }
    release.stop();
    held.reset();
    loop.run();
    EXPECT_EQ(seen.done, 1);
  }
}

// Every failure before anything started reaches on_done from the loop, after start returned.
TEST(PrintModeControl, FailuresBeforeStartArriveFromTheLoop) {
  RuntimeDir runtime;
  struct Case {
    const char* name;
    std::function<void(Fixture&)> set_up;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"bad cwd", [](Fixture& f) { f.request.cwd = "/nonexistent/drover-test"; }, ErrorCode::config_error},
      {"missing command",
       [](Fixture& f) {
         json cli = streaming_cli(0);
         json config = json::parse(fake_agent_config(cli));
         config["providers"]["t"]["accounts"][0]["transport"]["command"] = "/nonexistent/agent";
         f.config = parse(config.dump());
         f.route = *f.config.resolve("").first;
       },
       ErrorCode::not_found},
      {"session id like an option", [](Fixture& f) { f.request.session_id = "-x"; },
       ErrorCode::validation_error},
      {"NUL in the prompt", [](Fixture& f) { f.request.prompt = std::string("a\0b", 3); },
       ErrorCode::validation_error},
      {"policy refusal",
       [](Fixture& f) {
         json config = json::parse(fake_agent_config(streaming_cli(0)));
         config["providers"]["t"]["accounts"][0]["transport"]["permissions"] = {
             {"enforcement", "none"}};
         f.config = parse(config.dump());
         f.route = *f.config.resolve("").first;
         f.request.permissions = PermissionPolicy::deny_all;
       },
       ErrorCode::unsupported_capability},
      {"session lock directory refused",
       [&runtime](Fixture& f) {
         runtime.dir().write("drover-" + std::to_string(::getuid()), "not a directory");
         f.request.session_id = "s1";
       },
       ErrorCode::harness_error},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    c.set_up(f);
    Loop loop;
    PrintSeen seen;
    start(loop, f.route, f.request, seen);
    EXPECT_EQ(seen.done, 0) << "on_done ran inside start_print_mode";
    loop.run();
    ASSERT_EQ(seen.done, 1);
    ASSERT_TRUE(seen.result->error);
    EXPECT_EQ(seen.result->error->code, c.code) << seen.result->error->message;
  }
}

// Stops at random points of many short runs in flight at once: each run completes exactly once,
// a cancelled one as aborted, and no process is left.
TEST(PrintModeControl, RandomStopsCompleteEveryRunExactlyOnce) {
  json cli = {{"argsTemplate", {"--mode", "echo", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}}};
  Config config = parse(fake_agent_config(cli));
  const Route route = *config.resolve("").first;
  RunRequest request;
  request.prompt = "quick";
  std::mt19937 random(20261203);
  constexpr int kRuns = 1000;
  constexpr int kInFlight = 40;
  std::vector<int> done(kRuns, 0);
  std::vector<std::optional<Result>> results(kRuns);
  std::vector<bool> paused(kRuns, false);
  Loop loop;
  for (int first = 0; first < kRuns; first += kInFlight) {
    std::vector<std::unique_ptr<LoopTimer>> timers;
    for (int i = first; i < std::min(kRuns, first + kInFlight); ++i) {
      auto control = start_print_mode(
          loop, TransportAttempt{route, request, ""},
          TransportSink{nullptr, [&, i](TransportOutcome&& o) {
                          ++done[i];
                          results[i] = std::move(o.result);
                        }});
      paused[i] = random() % 4 == 0;
      const int64_t delay = static_cast<int64_t>(random() % 30);
      timers.push_back(std::make_unique<LoopTimer>(loop));
      timers.back()->start(delay, [control, pause = paused[i]] {
        pause ? control->pause() : control->cancel();
      });
    }
    loop.run();
  }
  int aborted = 0, succeeded = 0;
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_EQ(done[i], 1) << "run " << i;
    const Result& r = *results[i];
    if (r.error) {
      EXPECT_FALSE(paused[i]) << "run " << i << ": a pause left an error: " << r.error->message;
      EXPECT_EQ(r.error->code, ErrorCode::aborted) << "run " << i << ": " << r.error->message;
      ++aborted;
    } else {
      ++succeeded;
    }
  }
  EXPECT_GT(aborted, 0) << "no cancel ever stopped a run";
  EXPECT_EQ(aborted + succeeded, kRuns);
  EXPECT_EQ(loop.live_processes(), 0u);
}

}  // namespace
}  // namespace drover::test
