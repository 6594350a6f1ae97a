// The request log: one JSON line per request, the pinned fields, bodies only with --verbose, and
// never an API key.
#include <regex>

#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

json chat(const std::string& text, bool stream = false) {
  return {{"model", "gpt-4.1"},
          {"stream", stream},
          {"messages", {{{"role", "system"}, {"content", "sys"}}, {{"role", "user"}, {"content", text}}}}};
}

TEST(GatewayLog, OneLinePerRequestWithThePinnedFields) {
  ScriptedGateway gw(json{{"rules", {{{"match", {{"text", "limit"}}}, {"respond", {{"status", 429}}}}}}});
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions?x=1", chat("hello log")).status, 200);
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", chat("rate limit")).status, 429);
  ASSERT_EQ(post(gw.port(), "/v1/messages", {{"model", "claude-opus-5-5"}, {"stream", true},
                                             {"messages", {{{"role", "user"}, {"content", "streamed"}}}}}).status, 200);
  ASSERT_EQ(get(gw.port(), "/v1/models").status, 200);
  auto log = gw.log(4);
  ASSERT_EQ(log.size(), 4u);

  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const auto& line : log) {
    for (const char* key : {"ts", "method", "path", "provider", "model", "stream", "messages",
                            "lastUserText", "status", "latencyMs", "rule"})
      EXPECT_TRUE(line.contains(key)) << key << " missing in " << line.dump();
    EXPECT_TRUE(std::regex_match(line["ts"].get<std::string>(), iso)) << line["ts"];
    EXPECT_TRUE(line["latencyMs"].is_number_integer());
    EXPECT_GE(line["latencyMs"].get<int64_t>(), 0);
    EXPECT_FALSE(line.contains("request")) << "bodies only with --verbose";
    EXPECT_FALSE(line.contains("response"));
  }
  const json hello = find_line(log, "hello log");
  EXPECT_EQ(hello["method"], "POST");
  EXPECT_EQ(hello["path"], "/v1/chat/completions") << "no query string in the log";
  EXPECT_EQ(hello["provider"], "openai");
  EXPECT_EQ(hello["model"], "gpt-4.1");
  EXPECT_EQ(hello["stream"], false);
  EXPECT_EQ(hello["messages"], 2);
  EXPECT_EQ(hello["status"], 200);
  EXPECT_TRUE(hello["rule"].is_null());
  const json limited = find_line(log, "rate limit");
  EXPECT_EQ(limited["status"], 429);
  EXPECT_EQ(limited["rule"], 0);
  const json streamed = find_line(log, "streamed");
  EXPECT_EQ(streamed["provider"], "anthropic");
  EXPECT_EQ(streamed["stream"], true);
  EXPECT_EQ(streamed["messages"], 1);
  EXPECT_GT(streamed["chunks"].get<int>(), 5);
  const json models = find_line(log, "");
  EXPECT_EQ(models["method"], "GET");
  EXPECT_EQ(models["path"], "/v1/models");
  EXPECT_TRUE(models["model"].is_null());
  EXPECT_EQ(models["messages"], 0);
}

TEST(GatewayLog, LastUserTextIsCutAt200Characters) {
  ScriptedGateway gw(json::object());
  std::string long_text;
  for (int i = 0; i < 120; ++i) long_text += "é ";  // 240 characters, 360 bytes
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", chat(long_text)).status, 200);
  auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  std::string logged = log[0]["lastUserText"];
  EXPECT_EQ(logged, long_text.substr(0, 300)) << "200 characters of 1.5 bytes each";
}

TEST(GatewayLog, LatencyIncludesScriptedDelay) {
  ScriptedGateway gw(json{{"rules", {{{"respond", {{"delayMs", 300}}}}}}});
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", chat("wait")).status, 200);
  auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_GE(log[0]["latencyMs"].get<int64_t>(), 295);
}

TEST(GatewayLog, DefaultsToStderr) {
  GatewayProcess gw({});
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", chat("to stderr")).status, 200);
  gw.stop();
  std::string err = gw.stderr_text();
  ASSERT_FALSE(err.empty());
  json line = json::parse(err.substr(0, err.find('\n')));
  EXPECT_EQ(line["lastUserText"], "to stderr");
}

class GatewayCanary : public ::testing::TestWithParam<bool> {};

TEST_P(GatewayCanary, TheApiKeyNeverReachesTheLogOrTheConsole) {
  const bool verbose = GetParam();
  const std::string key = "sk-CANARY-7f3a9c2e1b";
  std::vector<std::string> extra;
  if (verbose) extra.push_back("--verbose");
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"apiKey", key}, {"text", "keyed"}}}, {"respond", {{"status", 401}}}}}}},
                     extra);
  httplib::Headers bearer = {{"Authorization", "Bearer " + key}};
  httplib::Headers x_api_key = {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}};
  httplib::Headers goog = {{"x-goog-api-key", key}};
  json gem = {{"contents", {{{"role", "user"}, {"parts", {{{"text", "gemini canary"}}}}}}}};
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat("canary chat"), bearer).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat("canary stream", true), bearer).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat("keyed"), bearer).status, 401);
  EXPECT_EQ(post(gw.port(), "/v1/responses", {{"model", "m"}, {"input", "canary responses"}}, bearer).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/messages?beta=true",
                 {{"model", "c"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "canary msg"}}}}},
                 x_api_key).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1beta/models/g:generateContent", gem, goog).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1beta/models/g:streamGenerateContent?alt=sse&key=" + key, gem).status, 200);
  EXPECT_EQ(get(gw.port(), "/v1beta/models?key=" + key).status, 200);
  EXPECT_EQ(get(gw.port(), "/v1/models", bearer).status, 200);
  auto log = gw.log(9);
  ASSERT_EQ(log.size(), 9u);
  EXPECT_EQ(gw.process().stop(), 0);

  std::string text = slurp(gw.log_path());
  EXPECT_EQ(text.find(key), std::string::npos) << text;
  EXPECT_EQ(text.find("CANARY"), std::string::npos);
  EXPECT_EQ(gw.process().stderr_text().find("CANARY"), std::string::npos);
  EXPECT_EQ(gw.process().stdout_text().find("CANARY"), std::string::npos);
  EXPECT_EQ(find_line(log, "keyed")["rule"], 0) << "the key was compared";
  if (verbose) {
    const json chat_line = find_line(log, "canary chat");
    EXPECT_EQ(chat_line["request"]["messages"][1]["content"], "canary chat");
    EXPECT_EQ(json::parse(chat_line["response"].get<std::string>())["choices"][0]["message"]["content"],
              "MOCK: canary chat");
    EXPECT_NE(find_line(log, "canary stream")["response"].get<std::string>().find("data: [DONE]"),
              std::string::npos);
    EXPECT_NE(find_line(log, "canary msg")["response"].get<std::string>().find("event: message_stop"),
              std::string::npos);
  } else {
    for (const auto& line : log) EXPECT_FALSE(line.contains("request") || line.contains("response"));
  }
}

INSTANTIATE_TEST_SUITE_P(Keys, GatewayCanary, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Verbose" : "Quiet"; });

TEST(GatewayLog, AKeyThatLeaksIntoABodyIsRedacted) {
  ScriptedGateway gw(json::object(), {"--verbose"});
  const std::string key = "sk-LEAKED-0123456789";
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", chat("my key is " + key), {{"x-api-key", key}}).status, 200);
  auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  std::string text = slurp(gw.log_path());
  EXPECT_EQ(text.find(key), std::string::npos);
  EXPECT_NE(text.find("my key is [redacted]"), std::string::npos) << text;
}

}  // namespace
}  // namespace drover::test::gateway
