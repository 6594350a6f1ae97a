// --script: every kind of scripted response and every way of matching.
#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

json chat_body(const std::string& text, bool stream = false, const std::string& model = "gpt-4.1") {
  return {{"model", model}, {"stream", stream}, {"messages", {{{"role", "user"}, {"content", text}}}}};
}
json anthropic_body(const std::string& text, bool stream = false) {
  return {{"model", "claude-opus-5-5"},
          {"max_tokens", 50},
          {"stream", stream},
          {"messages", {{{"role", "user"}, {"content", text}}}}};
}
json responses_body(const std::string& text, bool stream = false) {
  return {{"model", "gpt-5.5"}, {"stream", stream}, {"input", text}};
}
json gemini_body(const std::string& text) {
  return {{"contents", {{{"role", "user"}, {"parts", {{{"text", text}}}}}}}};
}
const char* kGeminiGenerate = "/v1beta/models/gemini-2.5-flash:generateContent";
const char* kGeminiStream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

// ---- errors ----------------------------------------------------------------------------------

TEST(GatewayScript, ErrorStatusesHaveProviderShapedBodies) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"text", "e429"}}}, {"respond", {{"status", 429}, {"retryAfter", 7}}}},
                        {{"match", {{"text", "e529"}}}, {"respond", {{"status", 529}}}},
                        {{"match", {{"text", "e401"}}}, {"respond", {{"status", 401}}}},
                        {{"match", {{"text", "e403"}}}, {"respond", {{"status", 403}}}},
                        {{"match", {{"text", "e400"}}},
                         {"respond", {{"status", 400}, {"message", "prompt is too long: 300000 tokens"}}}},
                        {{"match", {{"text", "e500"}}},
                         {"respond", {{"status", 500}, {"message", "custom boom"}}}}}}});
  // OpenAI
  auto r = post(gw.port(), "/v1/chat/completions", chat_body("please e429"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "7");
  json e = r.json_body()["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
  EXPECT_EQ(e["type"], "requests");
  EXPECT_EQ(e["code"], "rate_limit_exceeded");
  e = post(gw.port(), "/v1/chat/completions", chat_body("e401")).json_body()["error"];
  EXPECT_EQ(e["code"], "invalid_api_key");
  auto resp500 = post(gw.port(), "/v1/responses", responses_body("e500", true));
  EXPECT_EQ(resp500.status, 500);
  EXPECT_EQ(resp500.header("Content-Type"), "application/json") << "errors are never streamed";
  EXPECT_EQ(resp500.json_body()["error"]["message"], "custom boom");
  EXPECT_EQ(resp500.json_body()["error"]["type"], "server_error");
  auto r400 = post(gw.port(), "/v1/chat/completions", chat_body("e400"));
  EXPECT_EQ(r400.status, 400);
  EXPECT_EQ(r400.json_body()["error"]["message"], "prompt is too long: 300000 tokens");
  EXPECT_EQ(r400.json_body()["error"]["type"], "invalid_request_error");

  // Anthropic
  auto a = post(gw.port(), "/v1/messages", anthropic_body("e529", true));
  EXPECT_EQ(a.status, 529);
  json aj = a.json_body();
  EXPECT_EQ(aj["type"], "error");
  EXPECT_EQ(aj["error"]["type"], "overloaded_error");
  EXPECT_TRUE(aj["error"]["message"].is_string());
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("e429")).json_body()["error"]["type"],
            "rate_limit_error");
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("e401")).json_body()["error"]["type"],
            "authentication_error");
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("e403")).json_body()["error"]["type"],
            "permission_error");

  // Gemini
  auto g = post(gw.port(), kGeminiGenerate, gemini_body("e429"));
  EXPECT_EQ(g.status, 429);
  EXPECT_EQ(g.header("Retry-After"), "7");
  json gj = g.json_body()["error"];
  EXPECT_EQ(gj["code"], 429);
  EXPECT_EQ(gj["status"], "RESOURCE_EXHAUSTED");
  EXPECT_TRUE(gj["message"].is_string());
  EXPECT_EQ(post(gw.port(), kGeminiStream, gemini_body("e401")).json_body()["error"]["status"],
            "UNAUTHENTICATED");
}

TEST(GatewayScript, RawBodyHeadersAndErrorTypeOverrides) {
  ScriptedGateway gw(
      json{{"rules",
        {{{"match", {{"text", "raw"}}},
          {"respond", {{"status", 503}, {"body", {{"weird", true}}}, {"headers", {{"x-mock", "yes"}}}}}},
         {{"match", {{"text", "typed"}}},
          {"respond", {{"status", 429}, {"errorType", "insufficient_quota"}, {"retryAfterMs", 1500}}}},
         {{"match", {{"text", "sse"}}},
          {"respond", {{"body", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\n"}, {"dropAfterChunks", 1}}}}}}});
  auto r = post(gw.port(), "/v1/chat/completions", chat_body("raw"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"weird":true})");
  EXPECT_EQ(r.header("x-mock"), "yes");
  auto t = post(gw.port(), "/v1/chat/completions", chat_body("typed"));
  EXPECT_EQ(t.json_body()["error"]["type"], "insufficient_quota");
  EXPECT_EQ(t.header("retry-after-ms"), "1500");
  // A raw SSE body is still sent event by event, so dropAfterChunks applies to it.
  auto s = post(gw.port(), "/v1/chat/completions", chat_body("sse", true));
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "data: {\"a\":1}\n\n");
  EXPECT_NE(s.error, httplib::Error::Success);
}

// ---- matching --------------------------------------------------------------------------------

TEST(GatewayScript, TimesAppliesToTheFirstNMatchesThenFallsThrough) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"text", "flaky"}}}, {"times", 2},
                         {"respond", {{"status", 429}, {"retryAfter", 1}}}},
                        {{"match", {{"text", "flaky"}, {"times", 1}}}, {"respond", {{"status", 529}}}}}}});
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("a flaky call")).status, 429);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("flaky again")).status, 429);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("flaky third")).status, 529);
  auto ok = post(gw.port(), "/v1/chat/completions", chat_body("flaky fourth"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json_body()["choices"][0]["message"]["content"], "MOCK: flaky fourth");
  // Requests that do not match don't use the rule up.
  ScriptedGateway gw2(json{{"rules", {{{"match", {{"text", "x"}}}, {"times", 1}, {"respond", {{"status", 500}}}}}}});
  EXPECT_EQ(post(gw2.port(), "/v1/chat/completions", chat_body("other")).status, 200);
  EXPECT_EQ(post(gw2.port(), "/v1/chat/completions", chat_body("x")).status, 500);
  EXPECT_EQ(post(gw2.port(), "/v1/chat/completions", chat_body("x")).status, 200);
}

TEST(GatewayScript, ApiKeyMatchingForKeyRotation) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"apiKey", "sk-exhausted-key"}}},
                         {"respond", {{"status", 429}, {"message", "quota exhausted for this key"}}}}}}});
  const std::string bad = "sk-exhausted-key";
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("hi"), {{"Authorization", "Bearer " + bad}}).status, 429);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("hi"), {{"x-api-key", bad}}).status, 429);
  EXPECT_EQ(post(gw.port(), kGeminiGenerate, gemini_body("hi"), {{"x-goog-api-key", bad}}).status, 429);
  EXPECT_EQ(post(gw.port(), std::string(kGeminiGenerate) + "?key=" + bad, gemini_body("hi")).status, 429);
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("hi"), {{"Authorization", "Bearer sk-good-key"}}).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("hi"), {{"x-api-key", "sk-good-key"}}).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("hi")).status, 200) << "no key at all";
}

TEST(GatewayScript, MatchByModelTextRegexPathProviderAndStream) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"model", "special-model"}}}, {"respond", {{"text", "by model"}}}},
                        {{"match", {{"textRegex", "^order [0-9]+$"}}}, {"respond", {{"text", "by regex"}}}},
                        {{"match", {{"path", "/responses"}}}, {"respond", {{"text", "by path"}}}},
                        {{"match", {{"provider", "gemini"}}}, {"respond", {{"text", "by provider"}}}},
                        {{"match", {{"stream", true}, {"text", "s"}}}, {"respond", {{"text", "by stream"}}}}}}});
  auto text = [&](const json& body) { return post(gw.port(), "/v1/chat/completions", body).json_body()["choices"][0]["message"]["content"]; };
  EXPECT_EQ(text(chat_body("anything", false, "special-model")), "by model");
  EXPECT_EQ(text(chat_body("anything", false, "special-model-2")), "MOCK: anything") << "model is exact";
  EXPECT_EQ(text(chat_body("order 66")), "by regex");
  EXPECT_EQ(text(chat_body("my order 66")), "MOCK: my order 66");
  EXPECT_EQ(post(gw.port(), "/v1/responses", responses_body("q")).json_body()["output_text"], "by path");
  EXPECT_EQ(gemini_chunk_text(post(gw.port(), kGeminiGenerate, gemini_body("q")).json_body()), "by provider");
  EXPECT_EQ(chat_stream_text(parse_sse(post(gw.port(), "/v1/chat/completions", chat_body("s", true)).body)),
            "by stream");
  EXPECT_EQ(text(chat_body("s")), "MOCK: s");
}

TEST(GatewayScript, HasToolsAndToolResultTellTitleMainAndFollowUpRequestsApart) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"hasTools", true}, {"toolResult", false}}},
                         {"respond", {{"toolCall", {{"name", "bash"}, {"arguments", {{"command", "touch m"}}}}}}}},
                        {{"match", {{"toolResult", true}}}, {"respond", {{"text", "done after the tool"}}}}}}});
  json tools = {{{"type", "function"}, {"function", {{"name", "bash"}, {"parameters", {{"type", "object"}}}}}}};
  json title = chat_body("make a title");  // opencode's title request: no tools
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", title).json_body()["choices"][0]["message"]["content"],
            "MOCK: make a title");
  json main_req = chat_body("create the marker");
  main_req["tools"] = tools;
  json m = post(gw.port(), "/v1/chat/completions", main_req).json_body();
  ASSERT_EQ(m["choices"][0]["message"]["tool_calls"].size(), 1u);
  json follow = main_req;
  follow["messages"].push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", m["choices"][0]["message"]["tool_calls"]}});
  follow["messages"].push_back({{"role", "tool"}, {"tool_call_id", m["choices"][0]["message"]["tool_calls"][0]["id"]}, {"content", ""}});
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", follow).json_body()["choices"][0]["message"]["content"],
            "done after the tool");
}

TEST(GatewayScript, TextTemplateUsageOverrideAndScriptModels) {
  ScriptedGateway gw(json{{"models", {"extra-model"}},
                      {"rules",
                       {{{"match", {{"model", "rule-model"}}},
                         {"respond", {{"text", "echo {{prompt}} via {{model}}"},
                                      {"usage", {{"input", 100}, {"output", 7}, {"cacheRead", 30}}}}}}}}});
  json c = post(gw.port(), "/v1/chat/completions", chat_body("ping", false, "rule-model")).json_body();
  EXPECT_EQ(c["choices"][0]["message"]["content"], "echo ping via rule-model");
  EXPECT_EQ(c["usage"]["prompt_tokens"], 100);
  EXPECT_EQ(c["usage"]["completion_tokens"], 7);
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["cached_tokens"], 30);
  json body = anthropic_body("pong");
  body["model"] = "rule-model";
  json a = post(gw.port(), "/v1/messages", body).json_body();
  EXPECT_EQ(a["content"][0]["text"], "echo pong via rule-model");
  EXPECT_EQ(a["usage"]["input_tokens"], 100);
  EXPECT_EQ(a["usage"]["cache_read_input_tokens"], 30);
  std::vector<std::string> ids;
  const json listing = get(gw.port(), "/v1/models").json_body();
  for (const auto& m : listing["data"]) ids.push_back(m["id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "extra-model"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "rule-model"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "gpt-4.1"), ids.end());
}

TEST(GatewayScript, InvalidScriptsExitWithUsageErrorNamingThePath) {
  TempDir dir;
  auto bad_key = dir.write("a.json", R"({"rules":[{"match":{"txt":"x"}}]})");
  auto r = run_gateway_to_exit({"--port", "0", "--script", bad_key});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("rules[0].match.txt"), std::string::npos) << r.err;
  auto bad_status = dir.write("b.json", R"([{"respond":{"status":"429"}}])");
  r = run_gateway_to_exit({"--port", "0", "--script", bad_status});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("$[0].respond.status"), std::string::npos) << r.err;
  auto not_json = dir.write("c.json", "{");
  EXPECT_EQ(run_gateway_to_exit({"--port", "0", "--script", not_json}).code, 2);
  // Comments are fine, and so is a bare array of rules with the response fields in the rule.
  auto good = dir.write("d.json", "// rules\n[{\"match\":{\"text\":\"x\"},\"text\":\"y\"}]");
  GatewayProcess gw({"--script", good});
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("x")).json_body()["choices"][0]["message"]["content"], "y");
}

// ---- timing: delay, chunk delay, drop --------------------------------------------------------

TEST(GatewayScript, DelayMsHoldsTheFirstByte) {
  ScriptedGateway gw(json{{"rules", {{{"match", {{"text", "slow"}}}, {"respond", {{"delayMs", 600}}}}}}});
  auto fast = post(gw.port(), "/v1/chat/completions", chat_body("fast"));
  EXPECT_LT(fast.total_ms, 450);
  auto slow = post(gw.port(), "/v1/messages", anthropic_body("slow", true));
  ASSERT_EQ(slow.status, 200);
  ASSERT_FALSE(slow.chunk_times_ms.empty());
  EXPECT_GE(slow.chunk_times_ms.front(), 590);
  EXPECT_EQ(anthropic_stream_text(parse_sse(slow.body)), "MOCK: slow");
}

TEST(GatewayScript, ChunkDelayMsSpacesStreamEvents) {
  ScriptedGateway gw(json{{"rules", {{{"respond", {{"chunkDelayMs", 150}}}}}}});
  auto r = post(gw.port(), "/v1/chat/completions", chat_body("spread out", true));
  ASSERT_EQ(r.status, 200);
  auto events = parse_sse(r.body);
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(chat_stream_text(events), "MOCK: spread out");
  ASSERT_GE(r.chunk_times_ms.size(), 2u);
  // n events → n-1 pauses of 150 ms between the first and the last
  EXPECT_GE(r.chunk_times_ms.back() - r.chunk_times_ms.front(), 150.0 * static_cast<double>(events.size() - 1) - 20);
  EXPECT_GE(r.chunk_times_ms.size(), events.size() / 2) << "events must arrive separately";
}

TEST(GatewayScript, DropAfterChunksClosesTheConnectionMidStream) {
  ScriptedGateway gw(json{{"rules", {{{"match", {{"text", "drop"}}}, {"respond", {{"dropAfterChunks", 3}}}}}}});
  auto r = post(gw.port(), "/v1/chat/completions", chat_body("drop me", true));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.error, httplib::Error::Success) << "the client must see a broken stream";
  auto events = parse_sse(r.body);
  EXPECT_EQ(events.size(), 3u);
  for (const auto& e : events) EXPECT_NE(e.data, "[DONE]");
  auto a = post(gw.port(), "/v1/messages", anthropic_body("drop this", true));
  EXPECT_NE(a.error, httplib::Error::Success);
  auto types = event_types(parse_sse(a.body));
  EXPECT_EQ(types, (std::vector<std::string>{"message_start", "content_block_start", "ping"}));
  // Not streamed: half the announced body, then the connection closes.
  auto n = post(gw.port(), "/v1/chat/completions", chat_body("drop plain"));
  EXPECT_NE(n.error, httplib::Error::Success);
  auto log = gw.log(3);
  ASSERT_EQ(log.size(), 3u);
  for (const auto& line : log) EXPECT_EQ(line["dropped"], true) << line.dump();
  EXPECT_EQ(find_line(log, "drop me")["chunks"], 3);
  // The next request on a fresh connection works.
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("fine")).status, 200);
}

// ---- tool calls ------------------------------------------------------------------------------

class GatewayToolCalls : public ::testing::Test {
 protected:
  ScriptedGateway gw{json{{"rules",
                       {{{"match", {{"text", "tool please"}}},
                         {"respond", {{"toolCall", {{"name", "bash"},
                                                    {"arguments", {{"command", "touch marker && echo done"}}},
                                                    {"id", "call_fixed"}}}}}},
                        {{"match", {{"text", "both please"}}},
                         {"respond", {{"text", "Running it."},
                                      {"toolCalls", {{{"name", "bash"}, {"arguments", {{"command", "ls"}}}},
                                                     {{"name", "read"}, {"arguments", {{"path", "a.txt"}}}}}}}}}}}}};
  const json kArgs = {{"command", "touch marker && echo done"}};
};

TEST_F(GatewayToolCalls, AnthropicToolUse) {
  json j = post(gw.port(), "/v1/messages", anthropic_body("tool please")).json_body();
  ASSERT_EQ(j["content"].size(), 1u);
  EXPECT_EQ(j["content"][0]["type"], "tool_use");
  EXPECT_EQ(j["content"][0]["id"], "call_fixed");
  EXPECT_EQ(j["content"][0]["name"], "bash");
  EXPECT_EQ(j["content"][0]["input"], kArgs);
  EXPECT_EQ(j["stop_reason"], "tool_use");

  auto events = parse_sse(post(gw.port(), "/v1/messages", anthropic_body("tool please", true)).body);
  std::string partial;
  int json_deltas = 0;
  bool started = false;
  for (const auto& e : events) {
    json d = e.parsed();
    if (d["type"] == "content_block_start") {
      EXPECT_EQ(d["content_block"]["type"], "tool_use");
      EXPECT_EQ(d["content_block"]["name"], "bash");
      EXPECT_EQ(d["content_block"]["input"], json::object());
      started = true;
    }
    if (d["type"] == "content_block_delta") {
      EXPECT_EQ(d["delta"]["type"], "input_json_delta");
      partial += d["delta"]["partial_json"].get<std::string>();
      ++json_deltas;
    }
    if (d["type"] == "message_delta") {
      EXPECT_EQ(d["delta"]["stop_reason"], "tool_use");
    }
  }
  EXPECT_TRUE(started);
  EXPECT_GE(json_deltas, 2);
  EXPECT_EQ(json::parse(partial), kArgs);
}

TEST_F(GatewayToolCalls, AnthropicTextThenSeveralTools) {
  json j = post(gw.port(), "/v1/messages", anthropic_body("both please")).json_body();
  ASSERT_EQ(j["content"].size(), 3u);
  EXPECT_EQ(j["content"][0]["text"], "Running it.");
  EXPECT_EQ(j["content"][1]["name"], "bash");
  EXPECT_EQ(j["content"][2]["input"]["path"], "a.txt");
  EXPECT_NE(j["content"][1]["id"], j["content"][2]["id"]);
  auto types = event_types(parse_sse(post(gw.port(), "/v1/messages", anthropic_body("both please", true)).body));
  EXPECT_EQ(std::count(types.begin(), types.end(), "content_block_start"), 3);
  EXPECT_EQ(std::count(types.begin(), types.end(), "content_block_stop"), 3);
}

TEST_F(GatewayToolCalls, ChatToolCalls) {
  json j = post(gw.port(), "/v1/chat/completions", chat_body("tool please")).json_body();
  json msg = j["choices"][0]["message"];
  EXPECT_TRUE(msg["content"].is_null());
  ASSERT_EQ(msg["tool_calls"].size(), 1u);
  EXPECT_EQ(msg["tool_calls"][0]["id"], "call_fixed");
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["tool_calls"][0]["function"]["name"], "bash");
  EXPECT_EQ(json::parse(msg["tool_calls"][0]["function"]["arguments"].get<std::string>()), kArgs);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");

  auto events = parse_sse(post(gw.port(), "/v1/chat/completions", chat_body("tool please", true)).body);
  std::string args, name, id, finish;
  int arg_deltas = 0;
  for (const auto& e : events) {
    if (e.data == "[DONE]") continue;
    json c = e.parsed()["choices"][0];
    if (c["finish_reason"].is_string()) finish = c["finish_reason"];
    if (!c["delta"].contains("tool_calls")) continue;
    json tc = c["delta"]["tool_calls"][0];
    EXPECT_EQ(tc["index"], 0);
    if (tc.contains("id")) id = tc["id"];
    if (tc["function"].contains("name")) name = tc["function"]["name"];
    std::string piece = tc["function"].value("arguments", "");
    if (!piece.empty()) ++arg_deltas;
    args += piece;
  }
  EXPECT_EQ(id, "call_fixed");
  EXPECT_EQ(name, "bash");
  EXPECT_GE(arg_deltas, 2);
  EXPECT_EQ(json::parse(args), kArgs);
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_EQ(events.back().data, "[DONE]");
}

TEST_F(GatewayToolCalls, ResponsesFunctionCall) {
  json j = post(gw.port(), "/v1/responses", responses_body("tool please")).json_body();
  ASSERT_EQ(j["output"].size(), 1u);
  json item = j["output"][0];
  EXPECT_EQ(item["type"], "function_call");
  EXPECT_EQ(item["name"], "bash");
  EXPECT_EQ(item["call_id"], "call_fixed");
  EXPECT_EQ(json::parse(item["arguments"].get<std::string>()), kArgs);

  auto events = parse_sse(post(gw.port(), "/v1/responses", responses_body("tool please", true)).body);
  auto types = event_types(events);
  EXPECT_EQ(types.front(), "response.created");
  EXPECT_EQ(types.back(), "response.completed");
  std::string args;
  bool added = false, done = false, item_done = false;
  for (const auto& e : events) {
    json d = e.parsed();
    if (d["type"] == "response.output_item.added") {
      EXPECT_EQ(d["item"]["type"], "function_call");
      EXPECT_EQ(d["item"]["name"], "bash");
      added = true;
    }
    if (d["type"] == "response.function_call_arguments.delta") args += d["delta"].get<std::string>();
    if (d["type"] == "response.function_call_arguments.done") {
      EXPECT_EQ(json::parse(d["arguments"].get<std::string>()), kArgs);
      done = true;
    }
    if (d["type"] == "response.output_item.done") {
      EXPECT_EQ(d["item"]["status"], "completed");
      EXPECT_EQ(d["item"]["call_id"], "call_fixed");
      item_done = true;
    }
  }
  EXPECT_TRUE(added && done && item_done);
  EXPECT_EQ(json::parse(args), kArgs);
  EXPECT_EQ(events.back().parsed()["response"]["output"][0]["type"], "function_call");
}

TEST_F(GatewayToolCalls, GeminiFunctionCall) {
  json j = post(gw.port(), kGeminiGenerate, gemini_body("tool please")).json_body();
  json part = j["candidates"][0]["content"]["parts"][0];
  EXPECT_EQ(part["functionCall"]["name"], "bash");
  EXPECT_EQ(part["functionCall"]["args"], kArgs);
  auto events = parse_sse(post(gw.port(), kGeminiStream, gemini_body("tool please")).body);
  ASSERT_FALSE(events.empty());
  json last = events.back().parsed();
  EXPECT_EQ(last["candidates"][0]["content"]["parts"][0]["functionCall"]["args"], kArgs);
  EXPECT_EQ(last["candidates"][0]["finishReason"], "STOP");
  EXPECT_TRUE(last.contains("usageMetadata"));
}

// ---- thinking, truncation --------------------------------------------------------------------

TEST(GatewayScript, ThinkingAndMaxTokens) {
  ScriptedGateway gw(json{{"rules",
                       {{{"match", {{"text", "think"}}}, {"respond", {{"thinking", "let me see"}, {"text", "42"}}}},
                        {{"match", {{"text", "cut"}}}, {"respond", {{"stopReason", "max_tokens"}}}}}}});
  auto events = parse_sse(post(gw.port(), "/v1/messages", anthropic_body("think", true)).body);
  std::string thinking;
  bool signature = false;
  for (const auto& e : events) {
    json d = e.parsed();
    if (d["type"] == "content_block_delta" && d["delta"]["type"] == "thinking_delta") thinking += d["delta"]["thinking"].get<std::string>();
    if (d["type"] == "content_block_delta" && d["delta"]["type"] == "signature_delta") signature = true;
  }
  EXPECT_EQ(thinking, "let me see");
  EXPECT_TRUE(signature);
  EXPECT_EQ(anthropic_stream_text(events), "42");
  json a = post(gw.port(), "/v1/messages", anthropic_body("think")).json_body();
  EXPECT_EQ(a["content"][0]["type"], "thinking");
  EXPECT_EQ(a["content"][1]["text"], "42");

  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("cut")).json_body()["stop_reason"], "max_tokens");
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("cut")).json_body()["choices"][0]["finish_reason"], "length");
  json resp = post(gw.port(), "/v1/responses", responses_body("cut")).json_body();
  EXPECT_EQ(resp["status"], "incomplete");
  EXPECT_EQ(resp["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_EQ(post(gw.port(), kGeminiGenerate, gemini_body("cut")).json_body()["candidates"][0]["finishReason"], "MAX_TOKENS");
  auto rtypes = event_types(parse_sse(post(gw.port(), "/v1/responses", responses_body("cut", true)).body));
  EXPECT_EQ(rtypes.back(), "response.incomplete");
}

TEST(GatewayScript, RulesCanAnswerModelListings) {
  ScriptedGateway gw(json{{"rules", {{{"match", {{"path", "/models"}}}, {"respond", {{"status", 401}}}}}}});
  auto r = get(gw.port(), "/v1/models", {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json_body()["error"]["type"], "authentication_error") << "Anthropic-shaped for an Anthropic client";
  auto o = get(gw.port(), "/v1/models", {{"Authorization", "Bearer k"}});
  EXPECT_EQ(o.json_body()["error"]["code"], "invalid_api_key");
}

}  // namespace
}  // namespace drover::test::gateway

namespace drover::test::gateway {
namespace {

TEST(GatewayScript, TheExampleScriptLoadsAndBehavesAsDocumented) {
  GatewayProcess gw({"--script", std::string(DROVER_FIXTURES_DIR) + "/gateway/example-script.json"});
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("please retry me")).status, 429);
  EXPECT_EQ(post(gw.port(), "/v1/chat/completions", chat_body("please retry me")).status, 200);
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("overload now")).status, 529);
  json with_tools = anthropic_body("create the marker");
  with_tools["tools"] = {{{"name", "bash"}, {"input_schema", {{"type", "object"}}}}};
  json a = post(gw.port(), "/v1/messages", with_tools).json_body();
  ASSERT_EQ(a["content"].size(), 2u);
  EXPECT_EQ(a["content"][1]["input"]["command"], "touch marker.txt");
  EXPECT_EQ(post(gw.port(), "/v1/messages", anthropic_body("create the marker")).json_body()["content"][0]["text"],
            "Create a marker file");
  std::vector<std::string> ids;
  const json listing = get(gw.port(), "/v1/models").json_body();
  for (const auto& m : listing["data"]) ids.push_back(m["id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "my-extra-model"), ids.end());
}

}  // namespace
}  // namespace drover::test::gateway
