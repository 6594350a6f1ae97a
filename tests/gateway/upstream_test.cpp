// --upstream: two gateways chained, the front one recording, the back one answering.
#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

json upstream_chat(const std::string& text, bool stream = false) {
  return {{"model", "gpt-4.1"},
          {"stream", stream},
          {"stream_options", {{"include_usage", true}}},
          {"messages", {{{"role", "user"}, {"content", text}}}}};
}
json anthropic(const std::string& text, bool stream = false) {
  return {{"model", "claude-opus-5-5"}, {"max_tokens", 20}, {"stream", stream},
          {"messages", {{{"role", "user"}, {"content", text}}}}};
}

const std::string kKey = "sk-UPSTREAM-CANARY-42";

class GatewayChain : public ::testing::Test {
 protected:
  // The back gateway answers; its rules prove which headers and queries arrived.
  ScriptedGateway back{json{{"rules",
                         {{{"match", {{"apiKey", kKey}, {"text", "keyed"}}}, {"respond", {{"text", "key arrived"}}}},
                          {{"match", {{"text", "slow"}}}, {"respond", {{"chunkDelayMs", 200}}}},
                          {{"match", {{"text", "limited"}}}, {"respond", {{"status", 429}, {"retryAfter", 3}}}},
                          {{"match", {{"text", "broken"}}}, {"respond", {{"dropAfterChunks", 2}}}}}}}};
  ScriptedGateway front{json{{"rules", {{{"match", {{"text", "local"}}}, {"respond", {{"text", "answered in front"}}}}}}},
                        {"--upstream", back.url()}};
};

TEST_F(GatewayChain, RelaysNonStreamingAndStreamingAnswers) {
  auto r = post(front.port(), "/v1/chat/completions", upstream_chat("through the chain"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body()["choices"][0]["message"]["content"], "MOCK: through the chain");
  EXPECT_EQ(r.header("Content-Type"), "application/json");

  auto s = post(front.port(), "/v1/messages?beta=true", anthropic("stream through", true));
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.header("Content-Type"), "text/event-stream");
  auto events = parse_sse(s.body);
  EXPECT_EQ(anthropic_stream_text(events), "MOCK: stream through");
  EXPECT_EQ(event_types(events).back(), "message_stop");

  auto g = post(front.port(), "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                {{"contents", {{{"role", "user"}, {"parts", {{{"text", "gem chain"}}}}}}}});
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(gemini_stream_text(parse_sse(g.body)), "MOCK: gem chain") << "the query (alt=sse) was forwarded";

  auto m = get(front.port(), "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.json_body()["object"], "list");

  auto back_log = back.log(4);
  ASSERT_EQ(back_log.size(), 4u);
  EXPECT_EQ(find_line(back_log, "stream through")["path"], "/v1/messages");
  EXPECT_EQ(find_line(back_log, "stream through")["stream"], true);
}

TEST_F(GatewayChain, ForwardsAuthHeadersAndQueryKeysButNeverLogsThem) {
  auto bearer = post(front.port(), "/v1/chat/completions", upstream_chat("keyed"), {{"Authorization", "Bearer " + kKey}});
  EXPECT_EQ(bearer.json_body()["choices"][0]["message"]["content"], "key arrived");
  auto xkey = post(front.port(), "/v1/messages", anthropic("keyed"), {{"x-api-key", kKey}});
  EXPECT_EQ(xkey.json_body()["content"][0]["text"], "key arrived");
  auto query = post(front.port(), "/v1beta/models/g:generateContent?key=" + kKey,
                    {{"contents", {{{"role", "user"}, {"parts", {{{"text", "keyed"}}}}}}}});
  EXPECT_EQ(gemini_chunk_text(query.json_body()), "key arrived");
  auto other = post(front.port(), "/v1/chat/completions", upstream_chat("keyed"), {{"Authorization", "Bearer sk-other"}});
  EXPECT_EQ(other.json_body()["choices"][0]["message"]["content"], "MOCK: keyed");

  auto log = front.log(4);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(front.process().stop(), 0);
  EXPECT_EQ(back.process().stop(), 0);
  for (const std::string& text : {slurp(front.log_path()), slurp(back.log_path()),
                                  front.process().stderr_text(), back.process().stderr_text()})
    EXPECT_EQ(text.find("CANARY"), std::string::npos) << text;
}

TEST_F(GatewayChain, TheFrontLogRecordsRequestResponseAndUpstreamLatency) {
  ASSERT_EQ(post(front.port(), "/v1/chat/completions", upstream_chat("record me", true)).status, 200);
  auto log = front.log(1);
  ASSERT_EQ(log.size(), 1u);
  const json& line = log[0];
  EXPECT_EQ(line["upstream"], back.url());
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["lastUserText"], "record me");
  EXPECT_EQ(line["model"], "gpt-4.1");
  EXPECT_TRUE(line["rule"].is_null());
  EXPECT_TRUE(line["upstreamLatencyMs"].is_number_integer());
  EXPECT_GE(line["upstreamLatencyMs"].get<int64_t>(), 0);
  EXPECT_GE(line["latencyMs"].get<int64_t>(), line["upstreamLatencyMs"].get<int64_t>());
  EXPECT_EQ(line["request"]["messages"][0]["content"], "record me");
  auto events = parse_sse(line["response"].get<std::string>());
  EXPECT_EQ(chat_stream_text(events), "MOCK: record me");
  EXPECT_EQ(events.back().data, "[DONE]");
}

TEST_F(GatewayChain, StreamsArriveAsTheUpstreamProducesThem) {
  auto r = post(front.port(), "/v1/chat/completions", upstream_chat("slow", true));
  ASSERT_EQ(r.status, 200);
  auto events = parse_sse(r.body);
  ASSERT_GE(events.size(), 6u);  // role, pieces, finish, usage, [DONE]
  EXPECT_EQ(chat_stream_text(events), "MOCK: slow");
  ASSERT_GE(r.chunk_times_ms.size(), 4u);
  double spread = r.chunk_times_ms.back() - r.chunk_times_ms.front();
  EXPECT_GE(spread, 200.0 * static_cast<double>(events.size() - 2)) << "buffered, not streamed";
}

TEST_F(GatewayChain, UpstreamErrorsPassThroughWithTheirHeaders) {
  auto r = post(front.port(), "/v1/messages", anthropic("limited"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "3");
  EXPECT_EQ(r.json_body()["error"]["type"], "rate_limit_error");
  auto log = front.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["status"], 429);
}

TEST_F(GatewayChain, AnUpstreamDropIsRelayedAsADrop) {
  auto r = post(front.port(), "/v1/chat/completions", upstream_chat("broken", true));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.error, httplib::Error::Success);
  EXPECT_EQ(parse_sse(r.body).size(), 2u);
}

TEST_F(GatewayChain, LocalRulesAnswerFirst) {
  auto r = post(front.port(), "/v1/chat/completions", upstream_chat("local please"));
  EXPECT_EQ(r.json_body()["choices"][0]["message"]["content"], "answered in front");
  ASSERT_EQ(post(front.port(), "/v1/chat/completions", upstream_chat("remote please")).status, 200);
  auto back_log = back.log(1);
  ASSERT_EQ(back_log.size(), 1u);
  EXPECT_EQ(back_log[0]["lastUserText"], "remote please");
  auto front_log = front.log(2);
  ASSERT_EQ(front_log.size(), 2u);
  EXPECT_EQ(find_line(front_log, "local please")["rule"], 0);
  EXPECT_FALSE(find_line(front_log, "local please").contains("upstream"));
  EXPECT_TRUE(find_line(front_log, "remote please").contains("upstream"));
}

TEST(GatewayUpstream, APathPrefixIsPrepended) {
  ScriptedGateway back(json::object());
  ScriptedGateway front(json::object(), {"--upstream", back.url() + "/v1"});
  auto r = post(front.port(), "/chat/completions", upstream_chat("prefixed"));
  ASSERT_EQ(r.status, 200);
  auto log = back.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["path"], "/v1/chat/completions");
}

TEST(GatewayUpstream, AnUnreachableUpstreamIs502) {
  ScriptedGateway front(json::object(), {"--upstream", "http://127.0.0.1:1"});
  auto r = post(front.port(), "/v1/chat/completions", upstream_chat("nowhere"));
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.json_body()["error"]["message"].get<std::string>().find("upstream"), std::string::npos);
  auto log = front.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["status"], 502);
  EXPECT_TRUE(log[0]["upstreamError"].is_string());
}

TEST(GatewayUpstream, ABadUrlIsAUsageError) {
  EXPECT_EQ(run_gateway_to_exit({"--port", "0", "--upstream", "ftp://x"}).code, 2);
  EXPECT_EQ(run_gateway_to_exit({"--port", "0", "--upstream", "localhost:8080"}).code, 2);
}

}  // namespace
}  // namespace drover::test::gateway
