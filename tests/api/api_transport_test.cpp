// The API transport and the router against the mock gateway: every provider, streaming and not,
// error mapping, key-pool rotation with cooldown, provider fallback, secrets, cancellation.
#include <csignal>
#include <cstdlib>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "src/api/api_transport.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

using nlohmann::json;

// A config with one API account per wire format, all pointing at `gateway`.
json api_config(const std::string& gateway, const json& routing = nullptr,
                const std::string& key_env = "DROVER_TEST_KEY", bool stream = true) {
  auto account = [&](const std::string& format, const std::string& base, const std::string& model) {
    return json{{"id", "main"},
                {"transport",
                 {{"kind", "api"},
                  {"api",
                   {{"format", format},
                    {"baseUrl", base},
                    {"apiKeyEnv", key_env},
                    {"apiKeyDelimiter", ","},
                    {"parameters", {{"stream", stream}}}}}}},
                {"models", {model}}};
  };
  json config = {{"providers",
                  {{"openai", {{"accounts", {account("openai-chat", gateway + "/v1", "gpt-4.1")}}}},
                   {"responses",
                    {{"accounts", {account("openai-responses", gateway + "/v1", "gpt-5.5")}}}},
                   {"anthropic",
                    {{"accounts", {account("anthropic", gateway, "claude-sonnet-4-5")}}}},
                   {"gemini", {{"accounts", {account("gemini", gateway, "gemini-2.5-flash")}}}}}}};
  if (!routing.is_null()) config["routing"] = routing;
  return config;
}

Config parse(const json& j) {
  auto [config, error] = parse_config(j.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

const json kNoRetries = {{"fallback", {{"on", json::object()}}}};

class ApiRoutes : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(ApiRoutes, AnswersTheRightPromptWithUsage) {
  const auto& [provider, stream] = GetParam();
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  Client client(parse(api_config(gateway.url(), kNoRetries, "DROVER_TEST_KEY", stream)));
  std::string deltas;
  RunRequest request;
  request.prompt = "hello from " + provider;
  request.route = provider;
  Result r = client.stream(request, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) deltas += e.text;
  });
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "MOCK: hello from " + provider);
  EXPECT_EQ(deltas, r.text);
  ASSERT_TRUE(r.usage);
  EXPECT_GT(r.usage->input_tokens.value_or(0), 0);
  EXPECT_GT(r.usage->output_tokens.value_or(0), 0);
  EXPECT_EQ(r.usage->calls, 1);
  EXPECT_TRUE(r.stop_reason);
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].transport, "api");
  EXPECT_EQ(r.route.rfind(provider + ":api:main:", 0), 0u) << r.route;
}

INSTANTIATE_TEST_SUITE_P(
    EveryProvider, ApiRoutes,
    ::testing::Combine(::testing::Values("openai", "responses", "anthropic", "gemini"),
                       ::testing::Bool()),
    [](const auto& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param) ? "_stream" : "_plain");
    });

struct Failure {
  std::string name;
  json respond;
  ErrorCode code;
  bool retryable;
};

class ApiFailures : public ::testing::TestWithParam<std::tuple<std::string, Failure>> {};

TEST_P(ApiFailures, MapToTheRightCode) {
  const auto& [provider, failure] = GetParam();
  ScratchDir dir;
  auto script = dir.write("script.json",
                          json{{"rules", {{{"match", {{"text", "fail"}}}, {"respond", failure.respond}}}}}.dump());
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  Client client(parse(api_config(gateway.url(), kNoRetries)));
  RunRequest request;
  request.prompt = "please fail";
  request.route = provider;
  Result r = client.run(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, failure.code) << r.error->message;
  EXPECT_EQ(r.error->retryable, failure.retryable);
  EXPECT_EQ(r.attempts.size(), 1u) << "no fallback configured";
  if (failure.respond.contains("retryAfter")) {
    ASSERT_TRUE(r.error->retry_after_ms);
    EXPECT_EQ(*r.error->retry_after_ms, 7000);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scripted, ApiFailures,
    ::testing::Combine(
        ::testing::Values("openai", "responses", "anthropic", "gemini"),
        ::testing::Values(
            Failure{"bad_request", {{"status", 400}, {"message", "invalid parameter foo"}},
                    ErrorCode::validation_error, false},
            Failure{"unauthorized", {{"status", 401}}, ErrorCode::auth_error, false},
            Failure{"forbidden", {{"status", 403}}, ErrorCode::auth_error, false},
            Failure{"rate_limited", {{"status", 429}, {"retryAfter", 7}}, ErrorCode::rate_limit,
                    true},
            Failure{"quota",
                    {{"status", 429},
                     {"message", "You exceeded your current quota, please check your plan and billing details."}},
                    ErrorCode::quota_exhausted, false},
            Failure{"context",
                    {{"status", 400},
                     {"message", "This model's maximum context length is 8192 tokens."}},
                    ErrorCode::context_overflow, false},
            Failure{"server_error", {{"status", 500}}, ErrorCode::temporary_unavailable, true},
            Failure{"overloaded", {{"status", 529}}, ErrorCode::temporary_unavailable, true},
            Failure{"dropped_mid_stream", {{"text", "a long answer that will break"}, {"dropAfterChunks", 1}},
                    ErrorCode::temporary_unavailable, true})),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
    });

TEST(ApiRouter, RotatesAcrossAThreeKeyPoolWithCooldown) {
  ScratchDir dir;
  auto script = dir.write("script.json", json{{"rules",
                                               {{{"match", {{"apiKey", "sk-pool-1"}}},
                                                 {"respond", {{"status", 429}}}},
                                                {{"match", {{"apiKey", "sk-pool-2"}}},
                                                 {"respond", {{"status", 401}}}}}}}
                                             .dump());
  ::setenv("DROVER_POOL_KEYS", "sk-pool-1, sk-pool-2 ,sk-pool-3", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  json routing = {{"cooldown", 60},
                  {"fallback",
                   {{"on",
                     {{"rate_limit", {"rotate-credential"}},
                      {"auth_error", {"rotate-credential"}}}}}}};
  Client client(parse(api_config(gateway.url(), routing, "DROVER_POOL_KEYS")));
  RunRequest request;
  request.prompt = "rotate please";
  request.route = "openai";
  Result first = client.run(request);
  ASSERT_TRUE(first.ok()) << first.error->message;
  ASSERT_EQ(first.attempts.size(), 3u);
  EXPECT_EQ(first.attempts[0].error->code, ErrorCode::rate_limit);
  EXPECT_EQ(first.attempts[1].error->code, ErrorCode::auth_error);
  EXPECT_FALSE(first.attempts[2].error);
  EXPECT_EQ(first.usage->calls, 3) << "every HTTP exchange is a real call";

  // Keys 1 and 2 are cooling down: the next request goes straight to key 3.
  Result second = client.run(request);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.attempts.size(), 1u);
  for (const auto& r : {first, second}) {
    std::string all = to_json(r).dump();
    EXPECT_EQ(all.find("sk-pool"), std::string::npos) << "a key leaked into the result";
  }
}

TEST(ApiRouter, FallsBackToASecondProvider) {
  ScratchDir dir;
  auto script = dir.write(
      "script.json",
      json{{"rules", {{{"match", {{"model", "gpt-4.1"}}}, {"respond", {{"status", 503}}}}}}}.dump());
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  json config = api_config(gateway.url(),
                           {{"fallback", {{"on", {{"temporary_unavailable", {"fallback-provider"}}}}}}});
  config["providers"].erase("responses");  // next provider in file order: anthropic
  Client client(parse(config));
  RunRequest request;
  request.prompt = "fall back";
  request.route = "openai";
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.route, "anthropic:api:main:claude-sonnet-4-5");
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].route, "openai:api:main:gpt-4.1");
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(r.text, "MOCK: fall back");
  bool warned = false;
  for (const auto& w : r.warnings) warned |= w.find("falling back to another provider") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(ApiRouter, RetryHonoursRetryAfterThenSucceeds) {
  ScratchDir dir;
  auto script = dir.write("script.json",
                          json{{"rules", {{{"match", {{"text", "busy"}, {"times", 1}}},
                                           {"respond", {{"status", 429}, {"retryAfterMs", 50}}}}}}}
                              .dump());
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  Client client(parse(api_config(gateway.url(), {{"fallback", {{"on", {{"rate_limit", {"retry"}}}}}}})));
  RunRequest request;
  request.prompt = "busy now";
  request.route = "anthropic";
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].error->retry_after_ms, 50);
}

TEST(ApiRouter, ResponseFormatRejectionIsRetriedOnceWithoutIt) {
  ScratchDir dir;
  auto script = dir.write(
      "script.json",
      json{{"rules",
            {{{"match", {{"text", "structured"}, {"times", 1}}},
              {"respond",
               {{"status", 400},
                {"message", "response_format json_schema is not supported by this model"}}}}}}}
          .dump());
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  json config = api_config(gateway.url(), kNoRetries);
  config["providers"]["openai"]["accounts"][0]["transport"]["api"]["parameters"]["responseFormat"] =
      {{"type", "json_schema"}, {"schema", {{"type", "object"}}}};
  Client client(parse(config));
  RunRequest request;
  request.prompt = "structured please";
  request.route = "openai";
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.usage->calls, 2);
  bool warned = false;
  for (const auto& w : r.warnings) warned |= w.find("response format") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(ApiRouter, ManyRequestsInFlightOnOneLoop) {
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  Config config = parse(api_config(gateway.url(), kNoRetries));
  Loop loop;
  std::vector<Result> results;
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    RunRequest request;
    request.prompt = "request " + std::to_string(i);
    request.route = i % 2 ? "anthropic" : "openai";
    start_run(loop, config, builtin_transports(), request, nullptr, [&](Result&& r) { results.push_back(std::move(r)); });
  }
  loop.run();
  ASSERT_EQ(results.size(), static_cast<size_t>(kRequests));
  std::set<std::string> texts;
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
    texts.insert(r.text);
  }
  EXPECT_EQ(texts.size(), static_cast<size_t>(kRequests)) << "each answer belongs to its request";
}

json api_account(const std::string& id, const std::string& base, const std::string& key_env) {
  return json{{"id", id},
              {"transport",
               {{"kind", "api"}, {"api", {{"baseUrl", base}, {"apiKeyEnv", key_env}}}}},
              {"models", {"gpt-4.1"}}};
}

TEST(ApiRouter, RoundRobinSpreadsRequestsOverAccounts) {
  ::setenv("DROVER_KEY_A", "sk-a", 1);
  ::setenv("DROVER_KEY_B", "sk-b", 1);
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  json config = {{"routing", {{"strategy", "round-robin"}}},
                 {"providers",
                  {{"openai",
                    {{"accounts",
                      {api_account("a", gateway.url() + "/v1", "DROVER_KEY_A"),
                       api_account("b", gateway.url() + "/v1", "DROVER_KEY_B")}}}}}}};
  Client client(parse(config));
  RunRequest request;
  request.prompt = "spread";
  std::vector<std::string> routes;
  for (int i = 0; i < 4; ++i) {
    Result r = client.run(request);
    ASSERT_TRUE(r.ok()) << r.error->message;
    routes.push_back(r.route);
  }
  EXPECT_EQ(routes, (std::vector<std::string>{"openai:api:a:gpt-4.1", "openai:api:b:gpt-4.1",
                                              "openai:api:a:gpt-4.1", "openai:api:b:gpt-4.1"}));
}

TEST(ApiRouter, RotatesToAnotherAccountOnAuthError) {
  ScratchDir dir;
  auto script = dir.write("script.json", json{{"rules", {{{"match", {{"apiKey", "sk-revoked"}}},
                                                          {"respond", {{"status", 401}}}}}}}
                                             .dump());
  ::setenv("DROVER_KEY_A", "sk-revoked", 1);
  ::setenv("DROVER_KEY_B", "sk-b", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  json config = {{"routing", {{"fallback", {{"on", {{"auth_error", {"rotate-account"}}}}}}}},
                 {"providers",
                  {{"openai",
                    {{"accounts",
                      {api_account("a", gateway.url() + "/v1", "DROVER_KEY_A"),
                       api_account("b", gateway.url() + "/v1", "DROVER_KEY_B")}}}}}}};
  Client client(parse(config));
  RunRequest request;
  request.prompt = "who am i";
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.route, "openai:api:b:gpt-4.1");
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::auth_error);
}

TEST(ApiRouter, FallsBackFromApiToACliTransportOfTheSameProvider) {
  ScratchDir dir;
  auto script = dir.write("script.json",
                          json{{"rules", {{{"match", {{"text", "hybrid"}}}, {"respond", {{"status", 502}}}}}}}.dump());
  ::setenv("DROVER_KEY_A", "sk-a", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  json cli_account = {{"id", "local"},
                      {"transport",
                       {{"kind", "cli"},
                        {"command", fake_agent()},
                        {"cli", {{"argsTemplate", {"--mode", "echo", "--prompt", "{prompt}"}}}}}},
                      {"models", {"gpt-4.1"}}};
  json config = {{"routing", {{"fallback", {{"on", {{"temporary_unavailable", {"fallback-transport"}}}}}}}},
                 {"providers",
                  {{"openai",
                    {{"accounts", {api_account("a", gateway.url() + "/v1", "DROVER_KEY_A"), cli_account}}}}}}};
  Client client(parse(config));
  RunRequest request;
  request.prompt = "hybrid run";
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.route, "openai:cli:local:gpt-4.1");
  EXPECT_EQ(r.text, "echo: hybrid run");
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].transport, "api");
  EXPECT_EQ(r.attempts[1].transport, "cli");
}

TEST(ApiRouter, TimeoutIsTerminalAndNeverRetried) {
  ScratchDir dir;
  auto script = dir.write("script.json", json{{"rules", {{{"match", {{"text", "stall"}}},
                                                          {"respond", {{"delayMs", 5000}}}}}}}.dump());
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  Client client(parse(api_config(
      gateway.url(), {{"fallback", {{"on", {{"temporary_unavailable", {"retry", "retry"}}}}}}})));
  RunRequest request;
  request.prompt = "stall forever";
  request.route = "openai";
  request.timeout_ms = 400;
  Result r = client.run(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, ErrorCode::timeout) << r.error->message;
  EXPECT_EQ(r.attempts.size(), 1u);
}

TEST(ApiCli, CanaryKeyNeverAppearsInOutputOrLog) {
  const std::string canary = "sk-canary-4242424242";
  ScratchDir dir;
  auto log = dir.path() + "/gateway.log";
  auto script = dir.write("script.json",
                          json{{"rules", {{{"match", {{"text", "deny"}}}, {"respond", {{"status", 401}}}}}}}.dump());
  MockGateway gateway({"--script", script, "--log", log, "--verbose"});
  ASSERT_TRUE(gateway.ok());
  auto config = dir.write("drover.json", api_config(gateway.url(), nullptr, "CANARY_KEY").dump());
  CliOptions options;
  options.env = {{"CANARY_KEY", canary}};
  std::string everything;
  for (auto args : {std::vector<std::string>{"run", "-c", config, "-r", "openai", "-o", "json", "ok"},
                    {"run", "-c", config, "-r", "anthropic", "-o", "jsonl", "ok"},
                    {"run", "-c", config, "-r", "gemini", "deny"},
                    {"--log-level", "trace", "run", "-c", config, "-r", "openai", "deny"},
                    {"routes", "-c", config, "--json"},
                    {"models", "-c", config, "-r", "openai", "--json"}}) {
    CliRun run = run_drover(args, options);
    everything += run.out + run.err;
  }
  everything += read_file(log);
  EXPECT_NE(everything.find("MOCK: ok"), std::string::npos) << "the runs did happen";
  EXPECT_EQ(everything.find(canary), std::string::npos) << "the canary key leaked";
  EXPECT_EQ(everything.find("4242424242"), std::string::npos) << "part of the canary key leaked";
}

TEST(ApiCli, SigintMidStreamIsAbortedAndNotRetried) {
  ScratchDir dir;
  auto script = dir.write(
      "script.json",
      json{{"rules", {{{"match", {{"text", "slow"}}},
                       {"respond", {{"text", "one two three four five six"}, {"chunks", 6},
                                    {"chunkDelayMs", 400}}}}}}}
          .dump());
  MockGateway gateway({"--script", script});
  ASSERT_TRUE(gateway.ok());
  auto config = dir.write(
      "drover.json",
      api_config(gateway.url(), {{"fallback", {{"on", {{"temporary_unavailable", {"retry", "retry"}}}}}}})
          .dump());
  CliOptions options;
  options.env = {{"DROVER_TEST_KEY", "sk-test-one"}};
  bool signalled = false;
  options.on_stdout = [&](int64_t pid, std::string_view chunk) {
    if (!signalled && chunk.find("\"delta\"") != std::string_view::npos) {
      signalled = true;
      ::kill(static_cast<pid_t>(pid), SIGINT);
    }
  };
  CliRun run = run_drover({"run", "-c", config, "-r", "openai", "-o", "jsonl", "slow answer"}, options);
  ASSERT_TRUE(signalled) << run.err;
  EXPECT_EQ(run.exit_code, 130) << run.err;
  auto lines = run.jsonl();
  ASSERT_FALSE(lines.empty());
  const json& result = lines.back();
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["error"]["code"], "aborted");
  EXPECT_EQ(result["attempts"].size(), 1u) << "nothing retried";
  EXPECT_EQ(lines.front()["type"], "delta") << "the partial text streamed stays in the output";
}

TEST(ApiCli, ModelsListsTheEndpointsModels) {
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  ScratchDir dir;
  auto config = dir.write("drover.json", api_config(gateway.url()).dump());
  CliOptions options;
  options.env = {{"DROVER_TEST_KEY", "sk-test-one"}};
  for (std::string provider : {"openai", "anthropic", "gemini"}) {
    CliRun run = run_drover({"models", "-c", config, "-r", provider, "--json"}, options);
    ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
    json report = run.json();
    EXPECT_EQ(report["source"], "api");
    bool found = false;
    for (const auto& m : report["models"]) found |= m["id"] == "gpt-4.1";
    EXPECT_TRUE(found) << provider << ": " << run.out;
  }
}

TEST(ApiCli, JsonlStreamsDeltasForAnApiRoute) {
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  ScratchDir dir;
  auto config = dir.write("drover.json", api_config(gateway.url()).dump());
  CliOptions options;
  options.env = {{"DROVER_TEST_KEY", "sk-test-one"}};
  CliRun run = run_drover({"run", "-c", config, "-r", "openai:api:main:gpt-4.1", "-o", "jsonl",
                           "stream me please"},
                          options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto lines = run.jsonl();
  std::string deltas;
  size_t delta_count = 0;
  for (const auto& l : lines)
    if (l["type"] == "delta") {
      deltas += l["text"].get<std::string>();
      ++delta_count;
    }
  EXPECT_GT(delta_count, 1u);
  EXPECT_EQ(deltas, "MOCK: stream me please");
  EXPECT_EQ(lines.back()["text"], deltas);
}

TEST(ApiCli, MissingKeyVariableIsAnAuthError) {
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  ScratchDir dir;
  auto config = dir.write("drover.json", api_config(gateway.url(), nullptr, "NO_SUCH_KEY_VAR").dump());
  CliOptions options;
  options.clear_env = {"NO_SUCH_KEY_VAR"};
  CliRun run = run_drover({"run", "-c", config, "-r", "openai", "-o", "json", "x"}, options);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.json()["error"]["code"], "auth_error");
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("NO_SUCH_KEY_VAR"), std::string::npos);
}

// ---- RunControl: cancel and pause of one API call -----------------------------------------------

struct ApiSeen {
  int done = 0;
  std::optional<TransportOutcome> outcome;
  std::string deltas;
};

class ApiControl : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = dir_.write(
        "script.json",
        json{{"rules",
              {{{"match", {{"text", "slow"}}},
                {"respond", {{"text", "one two three four five six"}, {"chunks", 6},
                             {"chunkDelayMs", 300}}}},
               {{"match", {{"text", "stall"}}}, {"respond", {{"delayMs", 20000}}}}}}}
            .dump());
    gateway_.emplace(std::vector<std::string>{"--script", script_});
    ASSERT_TRUE(gateway_->ok());
    config_ = parse(api_config(gateway_->url(), kNoRetries));
    auto [route, error] = config_.resolve("openai");
    ASSERT_TRUE(route) << (error ? error->message : "");
    route_ = *route;
  }

  std::shared_ptr<RunControl> start(Loop& loop, const std::string& prompt, ApiSeen& seen,
                                    std::function<void(const Event&)> on_event = nullptr,
                                    const Route* route = nullptr) {
    request_.prompt = prompt;
    return start_api_call(loop, TransportAttempt{route ? *route : route_, request_, "sk-test-one"},
                          TransportSink{[&seen, on_event](const Event& e) {
                                          if (e.kind == Event::Kind::delta) seen.deltas += e.text;
                                          if (on_event) on_event(e);
                                        },
                                        [&seen](TransportOutcome&& o) {
                                          ++seen.done;
                                          seen.outcome = std::move(o);
                                        }});
  }

  ScratchDir dir_;
  std::string script_;
  std::optional<MockGateway> gateway_;
  Config config_;
  Route route_;
  RunRequest request_;
};

TEST_F(ApiControl, CancelMidStreamAbortsThatTransfer) {
  Loop loop;
  ApiSeen seen;
  bool inside = false;
  std::shared_ptr<RunControl> control;
  control = start(loop, "slow answer", seen, [&](const Event& e) {
    if (e.kind != Event::Kind::delta) return;
    control->cancel();
    inside = seen.done > 0;
  });
  loop.run();
  EXPECT_FALSE(inside) << "on_done ran inside cancel()";
  ASSERT_EQ(seen.done, 1);
  const Result& r = seen.outcome->result;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::aborted) << r.error->message;
  EXPECT_NE(r.text, "one two three four five six");
  control->pause();  // after the end: nothing happens
  EXPECT_EQ(seen.done, 1);
}

TEST_F(ApiControl, PauseMidStreamKeepsTheTextSoFar) {
  Loop loop;
  ApiSeen seen;
  std::shared_ptr<RunControl> control;
  control = start(loop, "slow answer", seen, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) control->pause();
  });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  const Result& r = seen.outcome->result;
  EXPECT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.stop_reason, "paused");
  EXPECT_FALSE(r.text.empty());
  EXPECT_EQ(r.text, seen.deltas);
  EXPECT_NE(r.text, "one two three four five six");
}

TEST_F(ApiControl, CancelBeforeTheResponseAborts) {
  Loop loop;
  ApiSeen seen;
  auto control = start(loop, "stall", seen);
  LoopTimer stop(loop);
  stop.start(200, [&] { control->cancel(); });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.outcome->result.error);
  EXPECT_EQ(seen.outcome->result.error->code, ErrorCode::aborted);
}

TEST_F(ApiControl, StopsAfterTheEndChangeNothing) {
  Loop loop;
  ApiSeen seen;
  auto control = start(loop, "hello", seen);
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_FALSE(seen.outcome->result.error) << seen.outcome->result.error->message;
  control->cancel();
  control->pause();
  loop.run();
  EXPECT_EQ(seen.done, 1);
  EXPECT_FALSE(seen.outcome->result.error);
}

TEST_F(ApiControl, AConfigErrorArrivesFromTheLoop) {
  Route no_model = route_;
  no_model.model.clear();
  Loop loop;
  ApiSeen seen;
  start(loop, "hello", seen, nullptr, &no_model);
  EXPECT_EQ(seen.done, 0) << "on_done ran inside start_api_call";
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.outcome->result.error);
  EXPECT_EQ(seen.outcome->result.error->code, ErrorCode::config_error);
}

}  // namespace
}  // namespace drover::test
