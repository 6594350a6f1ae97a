// The fan-out limiter (src/route/fanout.h) and the router's use of it: concurrency (FIFO),
// requests per second, maxCalls, scopes (client, provider, account, request), cancel and pause
// while queued, and the slowdown after a rate_limit. Driven by a fake transport whose tries
// last a set time and which records when each started: no process, no socket.
#include "src/route/fanout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "src/loop/loop.h"
#include "src/route/router.h"
#include "src/route/run.h"
#include "src/transport/transport.h"

namespace drover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// How one try behaves: it ends after `ms` with `error` (none: an answer), or never by itself.
struct Plan {
  int64_t ms = 20;
  std::optional<Error> error;
  bool hold = false;
};

Plan fails(ErrorCode code, int64_t ms = 5, std::optional<int64_t> retry_after_ms = std::nullopt) {
  Plan p;
  p.ms = ms;
  p.error = Error::make(code, "scripted " + std::string(to_string(code)));
  p.error->retry_after_ms = retry_after_ms;
  return p;
}

struct Start {
  std::string prompt;
  std::string route;
  uint64_t at_ns = 0;
  int in_flight_before = 0;  // tries of any route in flight when this one started
};

class TimedTransport;

class TimedTry final : public RunControl, public std::enable_shared_from_this<TimedTry> {
 public:
  TimedTry(Loop& loop, TimedTransport& owner, std::string route, TransportSink sink, Plan plan)
      : loop_(loop), owner_(owner), route_(std::move(route)), sink_(std::move(sink)),
        plan_(std::move(plan)) {}

  void begin() {
    if (plan_.hold) return;
    timer_ = std::make_unique<LoopTimer>(loop_);
    timer_->start(plan_.ms, [self = shared_from_this()] {
      Result r;
      if (self->plan_.error)
        r.error = self->plan_.error;
      else
        r.text = "answer";
      self->finish(std::move(r));
    });
  }
  void cancel() override { stop(ErrorCode::aborted); }
  void pause() override { stop(std::nullopt); }

 private:
  void stop(std::optional<ErrorCode> code) {
    if (finished_) return;
    loop_.post([self = shared_from_this(), code] {
      Result r;
      if (code)
        r.error = Error::make(*code, "cancelled");
      else
        r.stop_reason = "paused";
      self->finish(std::move(r));
    });
  }
  void finish(Result result);

  Loop& loop_;
  TimedTransport& owner_;
  std::string route_;
  TransportSink sink_;
  Plan plan_;
  std::unique_ptr<LoopTimer> timer_;
  bool finished_ = false;
};

// Plays the plans queued for a prompt (then the default plan), and records every start, the
// end of every try, and how many were in flight, overall and per route.
class TimedTransport final : public Transport {
 public:
  TransportKind kind() const noexcept override { return TransportKind::cli; }

  std::shared_ptr<RunControl> start(Loop& loop, const TransportAttempt& attempt,
                                    TransportSink sink) override {
    const std::string& prompt = attempt.request.prompt;
    starts.push_back(Start{prompt, attempt.route.id, uv_hrtime(), in_flight});
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    int& route_count = in_flight_by_route[attempt.route.id];
    ++route_count;
    max_by_route[attempt.route.id] = std::max(max_by_route[attempt.route.id], route_count);
    Plan plan = default_plan;
    if (auto it = plans.find(prompt); it != plans.end() && !it->second.empty()) {
      plan = it->second.front();
      it->second.pop_front();
    }
    auto t = std::make_shared<TimedTry>(loop, *this, attempt.route.id, std::move(sink), plan);
    t->begin();
    return t;
  }

  void ended(const std::string& route) {
    --in_flight;
    --in_flight_by_route[route];
    ends_ns.push_back(uv_hrtime());
  }

  std::vector<std::string> started_prompts() const {
    std::vector<std::string> out;
    for (const Start& s : starts) out.push_back(s.prompt);
    return out;
  }

  Plan default_plan;
  std::map<std::string, std::deque<Plan>> plans;
  std::vector<Start> starts;
  std::vector<uint64_t> ends_ns;
  int in_flight = 0;
  int max_in_flight = 0;
  std::map<std::string, int> in_flight_by_route;
  std::map<std::string, int> max_by_route;
};

void TimedTry::finish(Result result) {
  if (finished_) return;
  finished_ = true;
  owner_.ended(route_);
  auto done = std::move(sink_.on_done);
  sink_ = TransportSink{};
  timer_.reset();  // safe from its own callback; breaks the cycle through the callback
  done(TransportOutcome{std::move(result), 1});
}

Config config_of(const std::string& text) {
  auto [config, error] = parse_config(text, "drover.json");
  EXPECT_FALSE(error.has_value()) << (error ? error->message : "");
  return config ? *config : Config{};
}

std::string account(const std::string& id, const std::string& fanout = "") {
  return R"({"id": ")" + id + R"(", )" + (fanout.empty() ? "" : R"("fanout": )" + fanout + ", ") +
         R"("transport": {"command": "agent", "cli": {"argsTemplate": ["{prompt}"]}}, )" +
         R"("models": ["m1"]})";
}

// One provider `acme` with `accounts`; `top` are more top-level keys ("fanout", "routing").
std::string config_text(const std::string& accounts, const std::string& top = "",
                        const std::string& provider_fanout = "") {
  return "{" + top + (top.empty() ? "" : ", ") + R"("providers": {"acme": {)" +
         (provider_fanout.empty() ? "" : R"("fanout": )" + provider_fanout + ", ") +
         R"("accounts": [)" + accounts + "]}}}";
}

FanoutLimits concurrency(int64_t n) {
  FanoutLimits l;
  l.max_concurrency = n;
  return l;
}

double ms_between(uint64_t from_ns, uint64_t to_ns) {
  return (static_cast<double>(to_ns) - static_cast<double>(from_ns)) / 1e6;
}

const std::string kOne = config_text(account("main"));

class FanoutTest : public ::testing::Test {
 protected:
  FanoutTest() { transports.set(cli); }

  // Starts a run of `prompt` (its Result lands in results[prompt], its events in
  // events[prompt]).
  std::shared_ptr<RunControl> start(const std::string& prompt, const std::string& route = "",
                                    FanoutLimits request_limits = {}) {
    RunRequest request;
    request.prompt = prompt;
    request.route = route;
    request.fanout = request_limits;
    return start_run(
        loop, config, transports, request,
        [this, prompt](const Event& e) { events[prompt].push_back(e); },
        [this, prompt](Result&& r) { results[prompt] = std::move(r); }, &state);
  }

  void expect_all_ok() {
    for (const auto& [prompt, r] : results)
      EXPECT_FALSE(r.error) << prompt << ": " << r.error->message;
  }

  // One slot for the client, and run "first" in it until cancelled.
  std::shared_ptr<RunControl> start_holding_the_only_slot() {
    config = config_of(kOne);
    state.fanout.set_client_limits(concurrency(1));
    Plan hold;
    hold.hold = true;
    cli.plans["first"].push_back(hold);
    return start("first");
  }

  // Calls `work` from the loop after `ms`.
  void after(int64_t ms, std::function<void()> work) {
    timers.push_back(std::make_unique<LoopTimer>(loop));
    timers.back()->start(ms, std::move(work));
  }

  // Declared before the loop: what the runs refer to outlives them.
  Config config;
  RouterState state;
  TimedTransport cli;
  TransportSet transports;
  std::map<std::string, Result> results;
  std::map<std::string, std::vector<Event>> events;
  Loop loop;
  std::vector<std::unique_ptr<LoopTimer>> timers;
};

// ---- maxConcurrency ------------------------------------------------------------------------------

TEST_F(FanoutTest, ConcurrencyNeverExceedsTheLimitAndQueuedTriesStartInOrder) {
  config = config_of(kOne);
  state.fanout.set_client_limits(concurrency(2));
  for (int i = 0; i < 8; ++i) start("r" + std::to_string(i));
  EXPECT_EQ(cli.starts.size(), 2u) << "the first two start at once, the rest wait";
  loop.run();
  ASSERT_EQ(results.size(), 8u);
  expect_all_ok();
  EXPECT_EQ(cli.max_in_flight, 2);
  EXPECT_THAT(cli.started_prompts(),
              ElementsAre("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"));
  EXPECT_EQ(state.fanout.waiting(), 0u);
  EXPECT_EQ(state.fanout.in_flight(), 0);
  EXPECT_EQ(state.fanout.started(), 8);
}

TEST_F(FanoutTest, TheConfigsTopLevelFanoutIsTheClientsAndSetFanoutGoesOverItFieldByField) {
  config = config_of(config_text(account("main"), R"("fanout": {"maxConcurrency": 1})"));
  for (int i = 0; i < 4; ++i) start("c" + std::to_string(i));
  loop.run();
  expect_all_ok();
  EXPECT_EQ(cli.max_in_flight, 1);

  cli.max_in_flight = 0;
  state.fanout.set_client_limits(concurrency(3));
  for (int i = 0; i < 6; ++i) start("s" + std::to_string(i));
  loop.run();
  expect_all_ok();
  EXPECT_EQ(cli.max_in_flight, 3);
}

TEST_F(FanoutTest, UnlimitedTriesNeverWaitButAreCounted) {
  config = config_of(kOne);
  for (int i = 0; i < 5; ++i) start("u" + std::to_string(i));
  EXPECT_EQ(cli.starts.size(), 5u);
  loop.run();
  expect_all_ok();
  EXPECT_EQ(state.fanout.started(), 5);
  FanoutLimits five;
  five.max_calls = 5;
  start("sixth", "", five);
  loop.run();
  ASSERT_TRUE(results["sixth"].error);
  EXPECT_EQ(results["sixth"].error->code, ErrorCode::fanout_limit)
      << "the request's maxCalls counts every try of the client";
}

// ---- requestsPerSecond ---------------------------------------------------------------------------

TEST_F(FanoutTest, RequestsPerSecondSpacesTheStarts) {
  config = config_of(kOne);
  FanoutLimits rps;
  rps.requests_per_second = 20;  // one start per 50 ms
  state.fanout.set_client_limits(rps);
  cli.default_plan.ms = 0;
  for (int i = 0; i < 6; ++i) start("q" + std::to_string(i));
  loop.run();
  expect_all_ok();
  ASSERT_EQ(cli.starts.size(), 6u);
  EXPECT_THAT(cli.started_prompts(), ElementsAre("q0", "q1", "q2", "q3", "q4", "q5"));
  for (size_t i = 1; i < cli.starts.size(); ++i)
    EXPECT_GE(ms_between(cli.starts[i - 1].at_ns, cli.starts[i].at_ns), 40.0)
        << "start " << i << " came too soon after the one before";
}

// ---- maxCalls ------------------------------------------------------------------------------------

TEST_F(FanoutTest, MaxCallsRefusesPastTheCeilingBeforeRouting) {
  config = config_of(config_text(account("main"), R"("fanout": {"maxCalls": 2})"));
  start("one");
  start("two");
  loop.run();
  expect_all_ok();
  start("three");
  start("unroutable", "nosuch");
  loop.run();
  for (const char* refused : {"three", "unroutable"}) {
    const Result& r = results[refused];
    ASSERT_TRUE(r.error) << refused;
    EXPECT_EQ(r.error->code, ErrorCode::fanout_limit) << refused << ": " << r.error->message;
    EXPECT_FALSE(r.error->retryable);
    EXPECT_THAT(r.error->message,
                HasSubstr("the fan-out limit maxCalls 2 of the client is used up"));
    EXPECT_THAT(r.attempts, IsEmpty());
  }
  EXPECT_EQ(cli.starts.size(), 2u) << "nothing started past the ceiling";
}

TEST_F(FanoutTest, MaxCallsZeroRefusesEveryRun) {
  config = config_of(config_text(account("main"), R"("fanout": {"maxCalls": 0})"));
  start("any");
  loop.run();
  ASSERT_TRUE(results["any"].error);
  EXPECT_EQ(results["any"].error->code, ErrorCode::fanout_limit);
  EXPECT_THAT(cli.starts, IsEmpty());
}

TEST_F(FanoutTest, ARetryPastMaxCallsEndsTheRunWithFanoutLimit) {
  config = config_of(config_text(
      account("main"),
      R"("fanout": {"maxCalls": 1}, "routing": {"fallback": {"on": {"temporary_unavailable": ["retry"]}}})"));
  cli.plans["busy"].push_back(fails(ErrorCode::temporary_unavailable, 5, 1));
  start("busy");
  loop.run();
  const Result& r = results["busy"];
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::fanout_limit) << r.error->message;
  ASSERT_EQ(r.attempts.size(), 1u) << "the refused retry is no try";
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(cli.starts.size(), 1u);
}

// ---- scopes --------------------------------------------------------------------------------------

TEST_F(FanoutTest, AnAccountsValueCountsOnlyThatAccountsTries) {
  config = config_of(config_text(account("a", R"({"maxConcurrency": 1, "maxCalls": 2})") + "," +
                                 account("b")));
  for (const char* p : {"a0", "a1", "a2"}) start(p, "acme:cli:a");
  for (const char* p : {"b0", "b1", "b2"}) start(p, "acme:cli:b");
  loop.run();
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(cli.max_by_route["acme:cli:a:m1"], 1);
  EXPECT_EQ(cli.max_by_route["acme:cli:b:m1"], 3) << "account b has no limit of its own";
  for (const char* p : {"a0", "a1", "b0", "b1", "b2"}) EXPECT_FALSE(results[p].error) << p;
  ASSERT_TRUE(results["a2"].error);
  EXPECT_EQ(results["a2"].error->code, ErrorCode::fanout_limit);
  EXPECT_THAT(results["a2"].error->message,
              HasSubstr("maxCalls 2 of account acme:cli:a is used up"));
}

TEST_F(FanoutTest, AProvidersValueCountsEveryAccountOfTheProvider) {
  config = config_of(config_text(account("a") + "," + account("b", R"({"maxCalls": 100})"), "",
                                 R"({"maxConcurrency": 2})"));
  for (int i = 0; i < 3; ++i) {
    start("a" + std::to_string(i), "acme:cli:a");
    start("b" + std::to_string(i), "acme:cli:b");
  }
  loop.run();
  ASSERT_EQ(results.size(), 6u);
  expect_all_ok();
  EXPECT_EQ(cli.max_in_flight, 2) << "both accounts share the provider's two slots";
  EXPECT_THAT(cli.started_prompts(), ElementsAre("a0", "b0", "a1", "b1", "a2", "b2"));
}

TEST_F(FanoutTest, TheRequestsValueWinsAndCountsEveryTryOfTheClient) {
  config = config_of(config_text(account("main", R"({"maxConcurrency": 1})")));
  state.fanout.set_client_limits(concurrency(5));
  for (int i = 0; i < 4; ++i) start("wide" + std::to_string(i), "", concurrency(3));
  loop.run();
  expect_all_ok();
  EXPECT_EQ(cli.max_in_flight, 3) << "the request's 3 over the route's 1 and the client's 5";
}

// ---- cancel and pause while queued ---------------------------------------------------------------

TEST_F(FanoutTest, CancelAndPauseWhileQueuedWithdrawTheRunAndLeakNothing) {
  auto first = start_holding_the_only_slot();
  auto cancelled = start("cancelled");
  auto paused = start("paused");
  start("last");
  EXPECT_EQ(state.fanout.waiting(), 3u);
  after(10, [&] {
    cancelled->cancel();
    paused->pause();
  });
  after(30, [&] { first->cancel(); });
  loop.run();
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results["cancelled"].error);
  EXPECT_EQ(results["cancelled"].error->code, ErrorCode::aborted);
  EXPECT_EQ(results["cancelled"].error->message, "cancelled while waiting for a fan-out slot");
  EXPECT_FALSE(results["paused"].error);
  EXPECT_EQ(results["paused"].stop_reason, "paused");
  EXPECT_THAT(results["paused"].attempts, IsEmpty());
  EXPECT_EQ(results["first"].error->code, ErrorCode::aborted);
  EXPECT_FALSE(results["last"].error) << "the next in line starts once the slot is free";
  EXPECT_THAT(cli.started_prompts(), ElementsAre("first", "last"));
  EXPECT_EQ(state.fanout.waiting(), 0u);
  EXPECT_EQ(state.fanout.in_flight(), 0);
}

TEST_F(FanoutTest, StopAllWhileQueuedEndsTheRunAborted) {
  auto first = start_holding_the_only_slot();
  start("queued");
  after(10, [&] {
    loop.stop_all(StopCause::cancelled);  // Ctrl-C: nothing of "queued" runs that it could stop
    first->cancel();                      // the fake try has no process for stop_all to stop
  });
  loop.run();
  ASSERT_TRUE(results["queued"].error);
  EXPECT_EQ(results["queued"].error->code, ErrorCode::aborted);
  EXPECT_THAT(cli.started_prompts(), ElementsAre("first"));
  EXPECT_EQ(state.fanout.waiting(), 0u);
}

// ---- rate_limit ----------------------------------------------------------------------------------

TEST_F(FanoutTest, ARateLimitSlowsEveryRunDownThenItRecovers) {
  config = config_of(config_text(
      account("main"), R"("routing": {"fallback": {"on": {"rate_limit": ["retry"]}}})"));
  state.fanout.set_client_limits(concurrency(2));
  cli.plans["limited"].push_back(fails(ErrorCode::rate_limit, 5, 60));
  cli.plans["slow"].push_back(Plan{200, std::nullopt, false});
  start("limited");
  start("slow");
  for (int i = 0; i < 4; ++i) start("n" + std::to_string(i));
  loop.run();
  ASSERT_EQ(results.size(), 6u);
  expect_all_ok();
  EXPECT_EQ(results["limited"].attempts.size(), 2u);

  std::vector<std::string> warnings;
  for (const Event& e : events["limited"])
    if (e.kind == Event::Kind::warning) warnings.push_back(e.text);
  EXPECT_THAT(warnings, ::testing::Contains(
                            "rate limited by acme:cli:main:m1: no new call for 0.06 s, then every "
                            "run slowed to 1 in flight (one more per successful call)"));
  EXPECT_THAT(results["limited"].warnings,
              ::testing::Contains(HasSubstr("rate limited by acme:cli:main:m1")));
  for (const auto& [prompt, list] : events) {
    if (prompt == "limited") continue;
    for (const Event& e : list) EXPECT_NE(e.kind, Event::Kind::warning) << prompt;
  }

  // cli.ends_ns[0] is the rate-limited try, [1] the slow one: its two slots shrank to one,
  // which the slow try held, so nothing started in between although the pause was shorter.
  ASSERT_GE(cli.ends_ns.size(), 2u);
  ASSERT_EQ(cli.starts.size(), 7u);
  EXPECT_THAT(cli.started_prompts(),
              ElementsAre("limited", "slow", "n0", "n1", "n2", "n3", "limited"));
  for (size_t i = 2; i < cli.starts.size(); ++i)
    EXPECT_GE(cli.starts[i].at_ns, cli.ends_ns[1]) << cli.starts[i].prompt;
  // One success later the ceiling is back at two: two tries in flight again.
  int most = 0;
  for (size_t i = 2; i < cli.starts.size(); ++i) most = std::max(most, cli.starts[i].in_flight_before + 1);
  EXPECT_EQ(most, 2);
  EXPECT_FALSE(state.fanout.ceiling()) << "recovered";
}

Route api_route() {
  Route route;
  route.id = "acme:api:main:m1";
  route.provider = "acme";
  route.transport = "api";
  route.account = "main";
  return route;
}

// The arithmetic of the slowdown, on the limiter alone.
TEST(FanoutLimiter, HalvesOncePerWindowAndRecoversByOnePerSuccess) {
  Loop loop;
  FanoutLimiter limiter;
  const Route route = api_route();
  TryLimits limits;
  limits.max_concurrency = ScopedLimit<int64_t>{8, kClientScope};
  auto slot = [&] {
    auto ticket = limiter.acquire(loop, route, limits, [](auto, auto) {});
    EXPECT_TRUE(ticket.slot);
    return std::move(ticket.slot);
  };
  auto limited = [](int64_t retry_after_ms) {
    Error e = Error::make(ErrorCode::rate_limit, "429");
    e.retry_after_ms = retry_after_ms;
    return std::optional<Error>(e);
  };
  std::vector<std::unique_ptr<FanoutSlot>> slots;
  for (int i = 0; i < 4; ++i) slots.push_back(slot());
  EXPECT_EQ(limiter.in_flight(), 4);
  auto warning = slots[0]->finish(limited(0));
  ASSERT_TRUE(warning);
  EXPECT_EQ(*warning,
            "rate limited by acme:api:main:m1: no new call for 0 s, then every run slowed to 2 in "
            "flight (one more per successful call)");
  EXPECT_EQ(limiter.ceiling(), 2);
  slots[1]->finish(limited(0));
  EXPECT_EQ(limiter.ceiling(), 2) << "a try started before the cut does not cut again";
  slots.clear();
  EXPECT_EQ(limiter.in_flight(), 0);

  auto later = slot();
  EXPECT_THAT(*later->finish(limited(600000)), HasSubstr("no new call for 60 s"))
      << "a Retry-After beyond a minute is capped";
  EXPECT_EQ(limiter.ceiling(), 1) << "one in flight, halved, is still one";
  later.reset();
  // Still within the pause: a limited try waits (and is withdrawn here).
  auto queued = limiter.acquire(loop, route, limits, [](auto, auto) {});
  EXPECT_NE(queued.waiter, 0u);
  limiter.withdraw(queued.waiter);
  EXPECT_EQ(limiter.waiting(), 0u);
}

TEST(FanoutLimiter, RecoversOneStepPerSuccessUpToWhereItWas) {
  Loop loop;
  FanoutLimiter limiter;
  const Route route = api_route();
  TryLimits limits;
  limits.max_calls = ScopedLimit<int64_t>{1000, kClientScope};
  std::vector<std::unique_ptr<FanoutSlot>> slots;
  for (int i = 0; i < 6; ++i)
    slots.push_back(limiter.acquire(loop, route, limits, [](auto, auto) {}).slot);
  Error e = Error::make(ErrorCode::rate_limit, "429");
  e.retry_after_ms = 0;
  slots[0]->finish(e);
  EXPECT_EQ(limiter.ceiling(), 3);
  for (int64_t expected : {4, 5}) {
    slots[static_cast<size_t>(expected - 3)]->finish(std::nullopt);
    EXPECT_EQ(limiter.ceiling(), expected);
  }
  slots[3]->finish(std::nullopt);
  EXPECT_FALSE(limiter.ceiling()) << "back at six: the slowdown is over";
  // A try without limits neither slows the limiter down nor waits.
  auto free = limiter.acquire(loop, route, TryLimits{}, [](auto, auto) {});
  ASSERT_TRUE(free.slot);
  EXPECT_FALSE(free.slot->finish(e));
  EXPECT_FALSE(limiter.ceiling());
}

TEST(FanoutLimits, EachFieldFromTheRequestElseTheRouteElseTheClient) {
  auto [config, error] = parse_config(
      R"({"providers": {"acme": {"fanout": {"maxConcurrency": 4, "requestsPerSecond": 2},
          "accounts": [{"id": "a", "fanout": {"maxConcurrency": 1},
                        "transport": {"command": "x", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})",
      "drover.json");
  ASSERT_TRUE(config) << error->message;
  const Route route = config->routes().at(0);
  FanoutLimits client;
  client.max_concurrency = 9;
  client.requests_per_second = 9;
  client.max_calls = 9;
  TryLimits l = limits_for_try({}, route, client);
  ASSERT_TRUE(l.max_concurrency && l.requests_per_second && l.max_calls);
  EXPECT_EQ(l.max_concurrency->value, 1);
  EXPECT_EQ(l.max_concurrency->scope, "account acme:cli:a");
  EXPECT_EQ(l.requests_per_second->value, 2);
  EXPECT_EQ(l.requests_per_second->scope, "provider acme");
  EXPECT_EQ(l.max_calls->value, 9);
  EXPECT_EQ(l.max_calls->scope, kClientScope);
  FanoutLimits request;
  request.requests_per_second = 0.5;
  TryLimits r = limits_for_try(request, route, client);
  EXPECT_EQ(r.requests_per_second->value, 0.5);
  EXPECT_EQ(r.requests_per_second->scope, kClientScope);
  EXPECT_EQ(r.max_concurrency->value, 1);
  EXPECT_TRUE(limits_for_try({}, Route{}, {}).empty());
}

}  // namespace
}  // namespace drover
