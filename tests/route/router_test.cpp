// The router (src/route/router.cpp) over the transport contract: fallback chains, credentials,
// cooldowns, round-robin, stopping, and when completions arrive. Driven by a scripted fake
// transport: no process, no socket.
#include "src/route/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "src/transport/transport.h"

namespace drover {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// What one scripted try does: emit `events`, then end with `result` (unless `hold`: then it
// ends only when cancelled or paused).
struct Script {
  std::vector<Event> events;
  Result result;
  int calls = 1;
  bool hold = false;
  /// cancel() and pause() are noted but change nothing (a transport that cannot stop early).
  bool ignore_stop = false;
};

Script failure(ErrorCode code, const std::string& message, int64_t retry_after_ms = 1) {
  Script s;
  s.result.error = Error::make(code, message);
  s.result.error->retry_after_ms = retry_after_ms;
  return s;
}

Event delta(const std::string& text) {
  Event e;
  e.kind = Event::Kind::delta;
  e.text = text;
  return e;
}

// One try in flight: the RunControl the fake transport hands back.
class FakeTry final : public RunControl, public std::enable_shared_from_this<FakeTry> {
 public:
  FakeTry(Loop& loop, TransportSink sink, Script script)
      : loop_(loop), sink_(std::move(sink)), script_(std::move(script)) {}

  void begin() {
    loop_.post([self = shared_from_this()] {
      for (const Event& e : self->script_.events) {
        if (e.kind == Event::Kind::delta) self->text_ += e.text;
        if (self->sink_.on_event) self->sink_.on_event(e);
      }
      if (!self->script_.hold)
        self->loop_.post([self] { self->finish(self->script_.result); });
    });
  }

  void cancel() override {
    ++cancels;
    if (finished_ || script_.ignore_stop) return;
    loop_.post([self = shared_from_this()] {
      Result r;
      r.text = self->text_;
      r.error = Error::make(ErrorCode::aborted, "cancelled");
      self->finish(std::move(r));
    });
  }

  void pause() override {
    ++pauses;
    if (finished_ || script_.ignore_stop) return;
    loop_.post([self = shared_from_this()] {
      Result r;
      r.text = self->text_;
      r.stop_reason = "paused";
      self->finish(std::move(r));
    });
  }

  int cancels = 0;
  int pauses = 0;

 private:
  void finish(Result result) {
    if (finished_) return;
    finished_ = true;
    TransportOutcome outcome{std::move(result), script_.calls};
    auto done = std::move(sink_.on_done);
    sink_ = TransportSink{};
    done(std::move(outcome));
  }

  Loop& loop_;
  TransportSink sink_;
  Script script_;
  std::string text_;
  bool finished_ = false;
};

// A transport of one kind that plays `script` (one entry per try; once it is used up, every try
// answers "answer from <route id>") and records what each try was given.
class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(TransportKind kind) : kind_(kind) {}
  TransportKind kind() const noexcept override { return kind_; }

  std::shared_ptr<RunControl> start(Loop& loop, const TransportAttempt& attempt,
                                    TransportSink sink) override {
    routes.push_back(attempt.route.id);
    keys.push_back(attempt.api_key);
    Script s;
    if (!script.empty()) {
      s = std::move(script.front());
      script.pop_front();
    } else {
      s.result.text = "answer from " + attempt.route.id;
      s.result.usage = Usage{};
      s.result.usage->input_tokens = 10;
      s.result.usage->output_tokens = 5;
    }
    auto t = std::make_shared<FakeTry>(loop, std::move(sink), std::move(s));
    tries.push_back(t);
    t->begin();
    return t;
  }

  std::deque<Script> script;
  std::vector<std::string> routes;  // each try's route id
  std::vector<std::string> keys;    // each try's api_key
  std::vector<std::shared_ptr<FakeTry>> tries;

 private:
  TransportKind kind_;
};

Config router_config_of(const std::string& text) {
  auto [config, error] = parse_config(text, "drover.json");
  EXPECT_FALSE(error.has_value()) << (error ? error->message : "");
  return config ? *config : Config{};
}

// An account of provider "acme" in print mode (kind cli) or of the API, with one model.
std::string cli_account(const std::string& id, const std::string& model = "m1") {
  return R"({"id": ")" + id + R"(", "transport": {"command": "agent", )" +
         R"("cli": {"argsTemplate": ["{prompt}"]}}, "models": [{"id": ")" + model + R"("}]})";
}

std::string api_account(const std::string& id, const std::string& credentials,
                        const std::string& model = "m1") {
  return R"({"id": ")" + id + R"(", "transport": {"kind": "api", "api": {"format": "openai-chat", )" +
         R"("baseUrl": "http://127.0.0.1:9/v1", )" + credentials + R"(}}, "models": [{"id": ")" +
         model + R"("}]})";
}

// A scoped environment variable.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~EnvVar() { ::unsetenv(name_); }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
};

constexpr const char* kKeysVar = "DROVER_ROUTER_TEST_KEYS";
const std::string kPool =
    std::string(R"("apiKeyEnv": ")") + kKeysVar + R"(", "apiKeyDelimiter": ",")";

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    transports.set(cli);
    transports.set(api);
  }

  // Starts one request on `set` (default: `transports`); its Result lands in `out`. Checks that
  // on_done did not run before start_run returned.
  void start(const Config& config, EventHandler on_event, const std::string& prompt = "hello",
             RouterState* state = nullptr, const std::string& route = "",
             const TransportSet* set = nullptr) {
    RunRequest request;
    request.prompt = prompt;
    request.route = route;
    out.reset();
    done_calls = 0;
    control = start_run(loop, config, set != nullptr ? *set : transports, request,
                        std::move(on_event), [this](Result&& r) {
                          ++done_calls;
                          out = std::move(r);
                        }, state);
    EXPECT_NE(control, nullptr);
    EXPECT_EQ(done_calls, 0) << "on_done ran before start_run returned";
  }

  // Runs the loop until the request started last has completed (exactly once).
  Result finish() {
    loop.run();
    EXPECT_EQ(done_calls, 1);
    return out.value_or(Result{});
  }

  // start() and finish(). With `consume`, events are received (and kept in `events`).
  Result run(const Config& config, const std::string& prompt = "hello", bool consume = false,
             RouterState* state = nullptr, const std::string& route = "") {
    start(config, consume ? record_events() : nullptr, prompt, state, route);
    return finish();
  }

  EventHandler record_events() {
    return [this](const Event& e) { events.push_back(e); };
  }

  // Calls `stop` soon after the router announced a retry (so while it waits to retry).
  EventHandler on_retry_warning(std::function<void()> stop) {
    return [this, stop = std::move(stop)](const Event& e) {
      if (e.kind != Event::Kind::warning) return;
      timer = std::make_unique<LoopTimer>(loop);
      timer->start(0, stop);
    };
  }

  Loop loop;
  FakeTransport cli{TransportKind::cli};
  FakeTransport api{TransportKind::api};
  TransportSet transports;
  std::vector<Event> events;
  std::shared_ptr<RunControl> control;
  std::optional<Result> out;
  int done_calls = 0;
  std::unique_ptr<LoopTimer> timer;
};

std::vector<std::string> attempt_routes(const Result& r) {
  std::vector<std::string> out;
  for (const auto& a : r.attempts) out.push_back(a.route);
  return out;
}

std::string one_provider(const std::string& accounts, const std::string& routing = "") {
  return "{" + (routing.empty() ? "" : R"("routing": )" + routing + ", ") +
         R"("providers": {"acme": {"accounts": [)" + accounts + "]}}}";
}

const std::string kOneCli = one_provider(cli_account("main"));

// ---- completions ---------------------------------------------------------------------------------

TEST_F(RouterTest, EmptyPromptCompletesFromTheLoop) {
  const Config c = router_config_of(kOneCli);
  Result r = run(c, " \n\t");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::validation_error);
  EXPECT_THAT(cli.routes, IsEmpty());
}

TEST_F(RouterTest, UnresolvableRouteCompletesFromTheLoop) {
  const Config c = router_config_of(kOneCli);
  Result r = run(c, "hello", false, nullptr, "nosuch");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::config_error);
  EXPECT_EQ(r.route, "nosuch");
  EXPECT_THAT(cli.routes, IsEmpty());
}

TEST_F(RouterTest, SuccessCarriesRouteModelAttemptAndUsage) {
  const Config c = router_config_of(kOneCli);
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.text, "answer from acme:cli:main:m1");
  EXPECT_EQ(r.route, "acme:cli:main:m1");
  EXPECT_EQ(r.model, "m1");
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].route, "acme:cli:main:m1");
  EXPECT_EQ(r.attempts[0].transport, "cli");
  EXPECT_FALSE(r.attempts[0].error);
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->calls, 1);
  EXPECT_FALSE(r.timings.started_at.empty());
}

TEST_F(RouterTest, KindWithoutTransportIsUnsupportedCapability) {
  const Config c = router_config_of(one_provider(api_account("main", R"("apiKey": "sk-one")")));
  TransportSet only_cli;
  only_cli.set(cli);
  start(c, nullptr, "hello", nullptr, "", &only_cli);
  Result r = finish();
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability);
  EXPECT_THAT(r.error->message, HasSubstr("'api'"));
  EXPECT_THAT(r.error->message, HasSubstr("acme:api:main:m1"));
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].transport, "api");
  EXPECT_THAT(api.routes, IsEmpty());
  EXPECT_THAT(cli.routes, IsEmpty());
}

TEST_F(RouterTest, UnsetKeyVariableFailsFromTheLoop) {
  ::unsetenv(kKeysVar);
  const Config c = router_config_of(one_provider(api_account("main", kPool)));
  Result r = run(c);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::auth_error);
  EXPECT_THAT(r.error->message, HasSubstr(kKeysVar));
  EXPECT_THAT(api.routes, IsEmpty());
}

TEST_F(RouterTest, TryFailingBeforeAnyTransportStartedReportsFromTheLoop) {
  ::unsetenv(kKeysVar);
  const Config c = router_config_of(one_provider(
      api_account("http", kPool) + "," + cli_account("harness"),
      R"({"fallback": {"on": {"auth_error": ["fallback-transport"]}}})"));
  start(c, record_events());
  // The key variable is unset: that try fails at once, but its outcome (and the warning about
  // falling back) arrive from the loop like any transport's.
  EXPECT_THAT(events, IsEmpty()) << "an event was delivered before start_run returned";
  EXPECT_THAT(cli.routes, IsEmpty());
  Result r = finish();
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_THAT(attempt_routes(r), ElementsAre("acme:api:http:m1", "acme:cli:harness:m1"));
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::auth_error);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].text, HasSubstr("falling back to another transport"));
}

// ---- retry and max_attempts ----------------------------------------------------------------------

TEST_F(RouterTest, RetryTakesTheChainStepsThenSucceeds) {
  const Config c = router_config_of(one_provider(
      cli_account("main"), R"({"fallback": {"on": {"temporary_unavailable": ["retry", "retry"]}}})"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy once"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy twice"));
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:main:m1", "acme:cli:main:m1", "acme:cli:main:m1"));
  ASSERT_EQ(r.attempts.size(), 3u);
  ASSERT_TRUE(r.attempts[0].error);
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(r.attempts[1].error->message, "busy twice");
  EXPECT_FALSE(r.attempts[2].error);
  EXPECT_THAT(r.warnings,
              ElementsAre("temporary_unavailable from acme:cli:main:m1: busy once; retrying",
                          "temporary_unavailable from acme:cli:main:m1: busy twice; retrying"));
}

TEST_F(RouterTest, ChainRunsOutAfterItsSteps) {
  const Config c = router_config_of(one_provider(
      cli_account("main"), R"({"fallback": {"on": {"temporary_unavailable": ["retry"]}}})"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "still busy"));
  Result r = run(c);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "still busy");
  EXPECT_EQ(cli.routes.size(), 2u);
}

TEST_F(RouterTest, MaxAttemptsCapsTheTries) {
  const Config c = router_config_of(one_provider(
      cli_account("main"),
      R"({"maxAttempts": 2, "fallback": {"on": {"temporary_unavailable": ["retry", "retry", "retry"]}}})"));
  for (int i = 0; i < 4; ++i) cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy"));
  Result r = run(c);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(cli.routes.size(), 2u);
  EXPECT_EQ(r.attempts.size(), 2u);
  EXPECT_THAT(r.warnings, Contains("gave up after 2 attempts"));
}

TEST_F(RouterTest, CodeWithoutChainIsNotRetried) {
  const Config c = router_config_of(kOneCli);
  cli.script.push_back(failure(ErrorCode::validation_error, "bad request"));
  Result r = run(c);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::validation_error);
  EXPECT_EQ(cli.routes.size(), 1u);
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST_F(RouterTest, TerminalCodesAreNeverRetriedNorCooledDown) {
  EnvVar keys(kKeysVar, "k1,k2");
  for (ErrorCode code : {ErrorCode::aborted, ErrorCode::timeout, ErrorCode::fanout_limit}) {
    SCOPED_TRACE(std::string(to_string(code)));
    Config c = router_config_of(one_provider(api_account("a", kPool) + "," + api_account("b", kPool)));
    // The config refuses chains for terminal codes; the router must hold the line on its own.
    c.routing.fallback[code] = {RoutingSpec::Step::retry, RoutingSpec::Step::rotate_credential,
                                RoutingSpec::Step::rotate_account};
    RouterState state;
    api.routes.clear();
    api.script.push_back(failure(code, "stopped"));
    Result r = run(c, "hello", false, &state);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, code);
    EXPECT_EQ(api.routes.size(), 1u);
    EXPECT_THAT(state.cooldown_until_ms, IsEmpty());
  }
}

// ---- credentials, accounts, transports, providers ----------------------------------------------

TEST_F(RouterTest, RotateCredentialWalksTheKeyPool) {
  EnvVar keys(kKeysVar, " k1 ,, k2,k3 ");
  const Config c = router_config_of(one_provider(
      api_account("main", kPool),
      R"({"fallback": {"on": {"rate_limit": ["rotate-credential", "rotate-credential"]}}})"));
  api.script.push_back(failure(ErrorCode::rate_limit, "slow down"));
  api.script.push_back(failure(ErrorCode::rate_limit, "slow down"));
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_THAT(api.keys, ElementsAre("k1", "k2", "k3"));
  EXPECT_THAT(r.warnings,
              Contains("rate_limit from acme:api:main:m1: slow down; rotating to another key"));
  for (const auto& w : r.warnings) EXPECT_THAT(w, Not(HasSubstr("k1"))) << "no key in warnings";
}

TEST_F(RouterTest, RotateCredentialNeedsASecondKey) {
  const Config c = router_config_of(one_provider(
      api_account("main", R"("apiKey": "sk-only")"),
      R"({"fallback": {"on": {"rate_limit": ["rotate-credential", "retry"]}}})"));
  api.script.push_back(failure(ErrorCode::rate_limit, "slow down"));
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  // rotate-credential cannot apply (one key): the next step of the chain, retry, does.
  EXPECT_THAT(api.keys, ElementsAre("sk-only", "sk-only"));
  EXPECT_THAT(r.warnings, ElementsAre("rate_limit from acme:api:main:m1: slow down; retrying"));
}

TEST_F(RouterTest, CooldownsAreRememberedAcrossRequests) {
  EnvVar keys(kKeysVar, "k1,k2");
  const Config c = router_config_of(one_provider(
      api_account("main", kPool), R"({"fallback": {"on": {"rate_limit": ["rotate-credential"]}}})"));
  RouterState state;
  api.script.push_back(failure(ErrorCode::rate_limit, "slow down"));
  Result first = run(c, "one", false, &state);
  ASSERT_FALSE(first.error) << first.error->message;
  EXPECT_THAT(api.keys, ElementsAre("k1", "k2"));
  EXPECT_TRUE(state.cooling("acme:api:main#key1", uv_hrtime() / 1000000));
  for (const auto& [label, until] : state.cooldown_until_ms)
    EXPECT_THAT(label, Not(HasSubstr("k1,"))) << "labels name routes, never keys";

  Result second = run(c, "two", false, &state);
  ASSERT_FALSE(second.error);
  EXPECT_EQ(api.keys.back(), "k2") << "key 1 is cooling down: the next request starts on key 2";

  RouterState fresh;
  Result third = run(c, "three", false, &fresh);
  ASSERT_FALSE(third.error);
  EXPECT_EQ(api.keys.back(), "k1");
}

TEST_F(RouterTest, EveryKeyCoolingWarnsAndTriesAnyway) {
  EnvVar keys(kKeysVar, "k1,k2");
  const Config c = router_config_of(one_provider(api_account("main", kPool)));
  RouterState state;
  const uint64_t later = uv_hrtime() / 1000000 + 600000;
  state.cooldown_until_ms["acme:api:main#key1"] = later;
  state.cooldown_until_ms["acme:api:main#key2"] = later;
  Result r = run(c, "hello", false, &state);
  ASSERT_FALSE(r.error);
  EXPECT_THAT(api.keys, ElementsAre("k1"));
  EXPECT_THAT(r.warnings, ElementsAre("every key of acme:api:main is cooling down after failures; "
                                      "trying key 1 anyway"));
}

TEST_F(RouterTest, RotateAccountMovesToAnotherAccountOfTheSameTransport) {
  const Config c = router_config_of(one_provider(
      cli_account("a") + "," + cli_account("b", "m9"),
      R"({"fallback": {"on": {"auth_error": ["rotate-account"]}}})"));
  RouterState state;
  cli.script.push_back(failure(ErrorCode::auth_error, "logged out"));
  Result r = run(c, "hello", false, &state);
  ASSERT_FALSE(r.error) << r.error->message;
  // The model asked for stays: account b runs it although it lists m9.
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:a:m1", "acme:cli:b:m1"));
  EXPECT_THAT(attempt_routes(r), ElementsAre("acme:cli:a:m1", "acme:cli:b:m1"));
  EXPECT_EQ(r.route, "acme:cli:b:m1");
  EXPECT_THAT(r.warnings,
              ElementsAre("auth_error from acme:cli:a:m1: logged out; rotating to another account"));
  EXPECT_TRUE(state.cooling("acme:cli:a", uv_hrtime() / 1000000))
      << "the account rotated away from cools down";
}

TEST_F(RouterTest, FallbackTransportMovesToAnotherTransportOfTheProvider) {
  const Config c = router_config_of(one_provider(
      cli_account("harness") + "," + cli_account("other") + "," +
          api_account("http", R"("apiKey": "sk-http")"),
      R"({"fallback": {"on": {"temporary_unavailable": ["fallback-transport"]}}})"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "overloaded"));
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:harness:m1"));
  EXPECT_THAT(api.routes, ElementsAre("acme:api:http:m1"));
  EXPECT_THAT(api.keys, ElementsAre("sk-http"));
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].transport, "cli");
  EXPECT_EQ(r.attempts[1].transport, "api");
  EXPECT_EQ(r.text, "answer from acme:api:http:m1");
}

TEST_F(RouterTest, FallbackProviderTakesThatProvidersOwnFirstRoute) {
  const Config c = router_config_of(
      R"({"routing": {"fallback": {"on": {"temporary_unavailable": ["fallback-provider"]}}},
          "providers": {"acme": {"accounts": [)" + cli_account("main", "m1") + R"(]},
                        "zeta": {"accounts": [)" + cli_account("z", "z1") + "," +
      cli_account("y", "z2") + "]}}}");
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "down"));
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:main:m1", "zeta:cli:z:z1"));
  EXPECT_EQ(r.model, "z1");
  EXPECT_THAT(r.warnings, ElementsAre("temporary_unavailable from acme:cli:main:m1: down; "
                                      "falling back to another provider"));
}

TEST_F(RouterTest, StepThatCannotApplyIsSkipped) {
  const Config c = router_config_of(one_provider(
      cli_account("main"), R"({"fallback": {"on": {"temporary_unavailable": ["fallback-provider"]}}})"));
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "down"));
  Result r = run(c);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(cli.routes.size(), 1u);
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST_F(RouterTest, RoundRobinSpreadsRequestsOverAccounts) {
  const Config c = router_config_of(
      one_provider(cli_account("a") + "," + cli_account("b"), R"({"strategy": "round-robin"})"));
  RouterState state;
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(run(c, "hello", false, &state).error);
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:a:m1", "acme:cli:b:m1", "acme:cli:a:m1"));
}

TEST_F(RouterTest, RoundRobinSkipsACoolingAccount) {
  const Config c = router_config_of(
      one_provider(cli_account("a") + "," + cli_account("b"), R"({"strategy": "round-robin"})"));
  RouterState state;
  state.cooldown_until_ms["acme:cli:a"] = uv_hrtime() / 1000000 + 600000;
  for (int i = 0; i < 2; ++i) ASSERT_FALSE(run(c, "hello", false, &state).error);
  EXPECT_THAT(cli.routes, ElementsAre("acme:cli:b:m1", "acme:cli:b:m1"));
}

TEST_F(RouterTest, RoundRobinSpreadsRequestsOverKeys) {
  EnvVar keys(kKeysVar, "k1,k2,k3");
  const Config c = router_config_of(one_provider(api_account("main", kPool), R"({"strategy": "round-robin"})"));
  RouterState state;
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(run(c, "hello", false, &state).error);
  EXPECT_THAT(api.keys, ElementsAre("k1", "k2", "k3", "k1"));
}

TEST_F(RouterTest, FirstStrategyAlwaysStartsOnTheFirstKey) {
  EnvVar keys(kKeysVar, "k1,k2,k3");
  const Config c = router_config_of(one_provider(api_account("main", kPool)));
  RouterState state;
  for (int i = 0; i < 2; ++i) ASSERT_FALSE(run(c, "hello", false, &state).error);
  EXPECT_THAT(api.keys, ElementsAre("k1", "k1"));
}

// ---- streaming, usage, warnings ------------------------------------------------------------------

TEST_F(RouterTest, StreamedDeltaToAConsumerStopsRetry) {
  const Config c = router_config_of(kOneCli);
  Script s = failure(ErrorCode::temporary_unavailable, "cut off");
  s.events.push_back(delta("partial "));
  cli.script.push_back(s);
  Result r = run(c, "hello", /*consume=*/true);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(cli.routes.size(), 1u);
  EXPECT_THAT(r.warnings, ElementsAre("not retried: part of the answer had already been streamed"));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].text, "partial ");
}

TEST_F(RouterTest, DeltaWithoutAConsumerDoesNotStopRetry) {
  const Config c = router_config_of(kOneCli);
  Script s = failure(ErrorCode::temporary_unavailable, "cut off");
  s.events.push_back(delta("partial "));
  cli.script.push_back(s);
  Result r = run(c, "hello", /*consume=*/false);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(cli.routes.size(), 2u);
  ASSERT_TRUE(r.timings.first_delta_ms);
}

TEST_F(RouterTest, UsageIsSummedOverTriesAndCallsCounted) {
  const Config c = router_config_of(kOneCli);
  Script s = failure(ErrorCode::temporary_unavailable, "busy");
  s.result.usage = Usage{};
  s.result.usage->input_tokens = 3;
  s.result.usage->output_tokens = 1;
  s.result.usage->calls = 99;  // recounted from the transport's `calls`, not taken from here
  s.calls = 2;
  cli.script.push_back(s);
  Result r = run(c);
  ASSERT_FALSE(r.error) << r.error->message;
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->input_tokens, 13);
  EXPECT_EQ(r.usage->output_tokens, 6);
  EXPECT_EQ(r.usage->calls, 3);
}

TEST_F(RouterTest, NoUsageReportedMeansNoUsage) {
  const Config c = router_config_of(kOneCli);
  Script s;
  s.result.text = "bare";
  cli.script.push_back(s);
  Result r = run(c);
  ASSERT_FALSE(r.error);
  EXPECT_FALSE(r.usage);
}

TEST_F(RouterTest, WarningsOfEveryTryAndOfTheRouterAreKeptInOrder) {
  const Config c = router_config_of(kOneCli);
  Script first = failure(ErrorCode::temporary_unavailable, "busy");
  first.result.warnings = {"first try note"};
  Script second;
  second.result.text = "done";
  second.result.warnings = {"second try note"};
  cli.script.push_back(first);
  cli.script.push_back(second);
  Result r = run(c, "hello", /*consume=*/true);
  ASSERT_FALSE(r.error);
  EXPECT_THAT(r.warnings, ElementsAre("first try note",
                                      "temporary_unavailable from acme:cli:main:m1: busy; retrying",
                                      "second try note"));
  ASSERT_EQ(events.size(), 1u) << "the router's own warning reaches the consumer as an event";
  EXPECT_EQ(events[0].kind, Event::Kind::warning);
  EXPECT_EQ(events[0].text, "temporary_unavailable from acme:cli:main:m1: busy; retrying");
}

// ---- cancel and pause ----------------------------------------------------------------------------

const std::string kRetryCli = one_provider(
    cli_account("main"), R"({"fallback": {"on": {"temporary_unavailable": ["retry", "retry"]}}})");

TEST_F(RouterTest, CancelDuringATryGoesToTheTry) {
  const Config c = router_config_of(kRetryCli);
  Script s;
  s.events.push_back(delta("so far"));
  s.hold = true;
  cli.script.push_back(s);
  start(c, nullptr);
  control->cancel();
  EXPECT_FALSE(out);
  Result r = finish();
  ASSERT_EQ(cli.tries.size(), 1u);
  EXPECT_EQ(cli.tries[0]->cancels, 1);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::aborted);
  control->cancel();  // after the end: nothing happens
  control->pause();
  EXPECT_EQ(cli.tries[0]->cancels, 1);
  EXPECT_EQ(cli.tries[0]->pauses, 0);
}

TEST_F(RouterTest, NoTryStartsAfterCancel) {
  const Config c = router_config_of(kRetryCli);
  Script s = failure(ErrorCode::temporary_unavailable, "busy");
  s.ignore_stop = true;  // the try ends on its own, with a retryable error
  cli.script.push_back(s);
  start(c, nullptr);
  control->cancel();
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  EXPECT_EQ(cli.tries[0]->cancels, 1);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "busy");
}

TEST_F(RouterTest, CancelWhileWaitingToRetryEndsAborted) {
  const Config c = router_config_of(kRetryCli);
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy", /*retry_after_ms=*/60000));
  start(c, on_retry_warning([this] { control->cancel(); }));
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::aborted);
  EXPECT_EQ(r.error->message, "cancelled while waiting to retry");
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::temporary_unavailable);
}

TEST_F(RouterTest, CancelFromTheRetryWarningItselfStartsNoTry) {
  const Config c = router_config_of(kRetryCli);
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy", 60000));
  start(c, [this](const Event&) { control->cancel(); });
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "cancelled while waiting to retry");
}

TEST_F(RouterTest, LoopStopWhileWaitingToRetryEndsAborted) {
  const Config c = router_config_of(kRetryCli);
  cli.script.push_back(failure(ErrorCode::temporary_unavailable, "busy", 60000));
  start(c, on_retry_warning([this] { loop.stop_all(StopCause::cancelled); }));
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::aborted);
  EXPECT_EQ(r.error->message, "cancelled while waiting to retry");
}

TEST_F(RouterTest, PauseDuringATryKeepsItsAnswer) {
  const Config c = router_config_of(kRetryCli);
  Script s;
  s.events.push_back(delta("half an answer"));
  s.hold = true;
  cli.script.push_back(s);
  start(c, [this](const Event& e) {
    if (e.kind == Event::Kind::delta) control->pause();
  });
  Result r = finish();
  ASSERT_EQ(cli.tries.size(), 1u);
  EXPECT_EQ(cli.tries[0]->pauses, 1);
  EXPECT_EQ(cli.tries[0]->cancels, 0);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.text, "half an answer");
  EXPECT_EQ(r.stop_reason, "paused");
}

TEST_F(RouterTest, NoTryStartsAfterPause) {
  const Config c = router_config_of(kRetryCli);
  Script s = failure(ErrorCode::temporary_unavailable, "busy");
  s.ignore_stop = true;
  cli.script.push_back(s);
  start(c, nullptr);
  control->pause();
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  EXPECT_EQ(cli.tries[0]->pauses, 1);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "busy");
}

TEST_F(RouterTest, PauseWhileWaitingToRetryKeepsTheLastTrysText) {
  const Config c = router_config_of(kRetryCli);
  Script s = failure(ErrorCode::temporary_unavailable, "busy", 60000);
  s.result.text = "what came before the failure";
  cli.script.push_back(s);
  start(c, on_retry_warning([this] { control->pause(); }));
  Result r = finish();
  EXPECT_EQ(cli.tries.size(), 1u);
  EXPECT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.text, "what came before the failure");
  EXPECT_EQ(r.stop_reason, "paused");
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_TRUE(r.attempts[0].error);
}

}  // namespace
}  // namespace drover
