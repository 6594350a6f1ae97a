// The default answer in every provider's format, streamed and not: `MOCK: <last user text>`,
// the event sequences real clients expect, and deterministic usage.
#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

class GatewayWire : public ::testing::Test {
 protected:
  GatewayProcess gw{{}};
  int port() const { return gw.port(); }
};

// ---- OpenAI Chat Completions -----------------------------------------------------------------

TEST_F(GatewayWire, ABodyNestedTooDeeplyIsRefusedAndTheGatewayLivesOn) {
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    const std::string body =
        R"({"model":"m","messages":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
    auto r = http(port(), "POST", "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 400) << depth;
    EXPECT_NE(r.body.find("nested deeper than 512 levels"), std::string::npos) << r.body;
  }
  auto ok = post(port(), "/v1/chat/completions",
                 {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(ok.status, 200);
}

TEST_F(GatewayWire, ChatNonStreaming) {
  auto r = post(port(), "/v1/chat/completions",
                {{"model", "gpt-4.1"},
                 {"messages", {{{"role", "system"}, {"content", "be brief"}},
                               {{"role", "user"}, {"content", "hello there world"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  json j = r.json_body();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "gpt-4.1");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "MOCK: hello there world");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  // input = words in all messages (2 + 3), output = words in the answer (4)
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 9);
}

TEST_F(GatewayWire, ChatStreamingWithUsage) {
  auto r = post(port(), "/v1/chat/completions",
                {{"model", "gpt-5.5"},
                 {"stream", true},
                 {"stream_options", {{"include_usage", true}}},
                 {"messages", {{{"role", "user"}, {"content", "stream me please"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
  auto events = parse_sse(r.body);
  ASSERT_GE(events.size(), 8u);
  EXPECT_EQ(events.back().data, "[DONE]");
  json first = events.front().parsed();
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(chat_stream_text(events), "MOCK: stream me please");
  int content_chunks = 0;
  for (const auto& e : events) {
    if (e.data == "[DONE]") continue;
    json j = e.parsed();
    if (!j["choices"].empty() && j["choices"][0]["delta"].value("content", "") != "") ++content_chunks;
  }
  EXPECT_GE(content_chunks, 3);
  json usage_chunk = events[events.size() - 2].parsed();
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 4);
  json finish_chunk = events[events.size() - 3].parsed();
  EXPECT_EQ(finish_chunk["choices"][0]["finish_reason"], "stop");
}

TEST_F(GatewayWire, ChatStreamingWithoutIncludeUsageSendsNoUsage) {
  auto r = post(port(), "/v1/chat/completions",
                {{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_EQ(r.status, 200);
  auto events = parse_sse(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "[DONE]");
  for (const auto& e : events) {
    if (e.data == "[DONE]") continue;
    json j = e.parsed();
    EXPECT_FALSE(j.contains("usage") && !j["usage"].is_null()) << e.data;
    EXPECT_FALSE(j["choices"].empty());
  }
  EXPECT_EQ(chat_stream_text(events), "MOCK: hi");
}

// ---- OpenAI Responses ------------------------------------------------------------------------

TEST_F(GatewayWire, ResponsesNonStreaming) {
  auto r = post(port(), "/v1/responses",
                {{"model", "gpt-5.5"}, {"instructions", "you are terse"}, {"input", "what is up"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json_body();
  EXPECT_EQ(j["object"], "response");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["model"], "gpt-5.5");
  ASSERT_EQ(j["output"].size(), 1u);
  EXPECT_EQ(j["output"][0]["type"], "message");
  EXPECT_EQ(j["output"][0]["role"], "assistant");
  EXPECT_EQ(j["output"][0]["content"][0]["type"], "output_text");
  EXPECT_EQ(j["output"][0]["content"][0]["text"], "MOCK: what is up");
  EXPECT_EQ(j["output_text"], "MOCK: what is up");
  EXPECT_EQ(j["usage"]["input_tokens"], 6);  // 3 (input) + 3 (instructions)
  EXPECT_EQ(j["usage"]["output_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 10);
}

TEST_F(GatewayWire, ResponsesStreamingEmitsTheRealEventSequence) {
  auto r = post(port(), "/v1/responses",
                {{"model", "gpt-5.5"}, {"stream", true}, {"input", "stream the responses"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
  auto events = parse_sse(r.body);
  std::vector<std::string> expected = {"response.created", "response.in_progress",
                                       "response.output_item.added", "response.content_part.added"};
  auto types = event_types(events);
  ASSERT_GE(types.size(), 9u);
  EXPECT_EQ(std::vector<std::string>(types.begin(), types.begin() + 4), expected);
  size_t i = 4;
  size_t deltas = 0;
  while (i < types.size() && types[i] == "response.output_text.delta") ++i, ++deltas;
  EXPECT_GE(deltas, 3u);
  std::vector<std::string> tail = {"response.output_text.done", "response.content_part.done",
                                   "response.output_item.done", "response.completed"};
  EXPECT_EQ(std::vector<std::string>(types.begin() + static_cast<long>(i), types.end()), tail);
  for (size_t k = 0; k < events.size(); ++k) {
    json j = events[k].parsed();
    EXPECT_EQ(events[k].event, j["type"]) << "the event: line names the type";
    EXPECT_EQ(j["sequence_number"], k);
  }
  EXPECT_EQ(responses_stream_text(events), "MOCK: stream the responses");
  json done = events[events.size() - 4].parsed();
  EXPECT_EQ(done["text"], "MOCK: stream the responses");
  json completed = events.back().parsed()["response"];
  EXPECT_EQ(completed["status"], "completed");
  EXPECT_EQ(completed["output"][0]["content"][0]["text"], "MOCK: stream the responses");
  EXPECT_EQ(completed["usage"]["input_tokens"], 3);
  EXPECT_EQ(completed["usage"]["output_tokens"], 4);
  json created = events.front().parsed()["response"];
  EXPECT_EQ(created["status"], "in_progress");
  EXPECT_EQ(created["id"], completed["id"]);
}

// ---- Anthropic Messages ----------------------------------------------------------------------

TEST_F(GatewayWire, AnthropicNonStreaming) {
  auto r = post(port(), "/v1/messages",
                {{"model", "claude-opus-5-5"},
                 {"max_tokens", 100},
                 {"system", {{{"type", "text"}, {"text", "system words here"}}}},
                 {"messages", {{{"role", "user"}, {"content", "hello claude"}}}}},
                {{"x-api-key", "sk-ant-test"}, {"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json_body();
  EXPECT_EQ(j["type"], "message");
  EXPECT_EQ(j["role"], "assistant");
  EXPECT_EQ(j["model"], "claude-opus-5-5");
  ASSERT_EQ(j["content"].size(), 1u);
  EXPECT_EQ(j["content"][0]["type"], "text");
  EXPECT_EQ(j["content"][0]["text"], "MOCK: hello claude");
  EXPECT_EQ(j["stop_reason"], "end_turn");
  EXPECT_EQ(j["usage"]["input_tokens"], 5);
  EXPECT_EQ(j["usage"]["output_tokens"], 3);
}

TEST_F(GatewayWire, AnthropicStreamingEventSequence) {
  auto r = post(port(), "/v1/messages?beta=true",
                {{"model", "claude-sonnet-4-5"},
                 {"max_tokens", 100},
                 {"stream", true},
                 {"messages", {{{"role", "user"}, {"content", "stream from claude now"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
  auto events = parse_sse(r.body);
  auto types = event_types(events);
  ASSERT_GE(types.size(), 8u);
  EXPECT_EQ(types[0], "message_start");
  EXPECT_EQ(types[1], "content_block_start");
  EXPECT_EQ(types[2], "ping");
  size_t i = 3;
  size_t deltas = 0;
  while (i < types.size() && types[i] == "content_block_delta") ++i, ++deltas;
  EXPECT_GE(deltas, 3u);
  EXPECT_EQ(std::vector<std::string>(types.begin() + static_cast<long>(i), types.end()),
            (std::vector<std::string>{"content_block_stop", "message_delta", "message_stop"}));
  for (const auto& e : events) EXPECT_EQ(e.event, e.parsed()["type"]);
  EXPECT_EQ(anthropic_stream_text(events), "MOCK: stream from claude now");
  json start = events[0].parsed()["message"];
  EXPECT_EQ(start["model"], "claude-sonnet-4-5");
  EXPECT_EQ(start["usage"]["input_tokens"], 4);
  json message_delta = events[events.size() - 2].parsed();
  EXPECT_EQ(message_delta["delta"]["stop_reason"], "end_turn");
  EXPECT_EQ(message_delta["usage"]["output_tokens"], 5);
}

// ---- Gemini ----------------------------------------------------------------------------------

const json kGeminiBody = {
    {"contents", {{{"role", "user"}, {"parts", {{{"text", "first question"}}}}},
                  {{"role", "model"}, {"parts", {{{"text", "an answer"}}}}},
                  {{"role", "user"}, {"parts", {{{"text", "ask gemini"}}}}}}},
    {"generationConfig", {{"temperature", 0.5}}}};

TEST_F(GatewayWire, GeminiGenerateContent) {
  auto r = post(port(), "/v1beta/models/gemini-2.5-flash:generateContent", kGeminiBody,
                {{"x-goog-api-key", "g-key"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json_body();
  EXPECT_EQ(gemini_chunk_text(j), "MOCK: ask gemini");
  EXPECT_EQ(j["candidates"][0]["content"]["role"], "model");
  EXPECT_EQ(j["candidates"][0]["finishReason"], "STOP");
  EXPECT_EQ(j["usageMetadata"]["promptTokenCount"], 6);
  EXPECT_EQ(j["usageMetadata"]["candidatesTokenCount"], 3);
  EXPECT_EQ(j["usageMetadata"]["totalTokenCount"], 9);
  EXPECT_EQ(j["modelVersion"], "gemini-2.5-flash");
}

TEST_F(GatewayWire, GeminiStreamGenerateContentSse) {
  auto r = post(port(), "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", kGeminiBody);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
  auto events = parse_sse(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(gemini_stream_text(events), "MOCK: ask gemini");
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json c = events[i].parsed();
    EXPECT_FALSE(c.contains("usageMetadata")) << events[i].data;
    EXPECT_FALSE(c["candidates"][0].contains("finishReason")) << events[i].data;
  }
  json last = events.back().parsed();
  EXPECT_EQ(last["candidates"][0]["finishReason"], "STOP");
  EXPECT_EQ(last["usageMetadata"]["promptTokenCount"], 6);
  EXPECT_EQ(last["usageMetadata"]["candidatesTokenCount"], 3);
  EXPECT_EQ(last["modelVersion"], "gemini-2.5-pro");
}

TEST_F(GatewayWire, GeminiStreamWithoutAltSseIsAJsonArray) {
  auto r = post(port(), "/v1beta/models/gemini-2.5-flash:streamGenerateContent", kGeminiBody);
  ASSERT_EQ(r.status, 200) << r.body;
  json chunks = r.json_body();
  ASSERT_TRUE(chunks.is_array());
  ASSERT_GE(chunks.size(), 2u);
  std::string text;
  for (const auto& c : chunks) text += gemini_chunk_text(c);
  EXPECT_EQ(text, "MOCK: ask gemini");
  EXPECT_EQ(chunks.back()["candidates"][0]["finishReason"], "STOP");
}

// ---- paths, models and odd requests ----------------------------------------------------------

TEST_F(GatewayWire, PathsWithAndWithoutV1QueriesAndUnknownFields) {
  json chat = {{"model", "any-model-at-all"},
               {"unknown_field", {{"nested", true}}},
               {"messages", {{{"role", "user"}, {"content", "path test"}}}}};
  for (const char* path : {"/v1/chat/completions", "/chat/completions", "/v1/chat/completions/",
                           "/v1/chat/completions?api-version=2024-01-01",
                           "/openai/deployments/x/chat/completions"}) {
    auto r = post(port(), path, chat);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.json_body()["choices"][0]["message"]["content"], "MOCK: path test") << path;
    EXPECT_EQ(r.json_body()["model"], "any-model-at-all");
  }
  json msg = {{"model", "x"}, {"max_tokens", 5}, {"messages", {{{"role", "user"}, {"content", "m"}}}}};
  for (const char* path : {"/v1/messages", "/messages", "/v1/messages?beta=true"}) {
    auto r = post(port(), path, msg);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.json_body()["content"][0]["text"], "MOCK: m") << path;
  }
  for (const char* path : {"/v1/responses", "/responses"}) {
    auto r = post(port(), path, {{"model", "x"}, {"input", "r"}});
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.json_body()["output_text"], "MOCK: r") << path;
  }
  auto g = post(port(), "/v1/models/gemini-x:generateContent?key=abc", kGeminiBody);
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(gemini_chunk_text(g.json_body()), "MOCK: ask gemini");
}

TEST_F(GatewayWire, ModelsListSuitsOpenAIAndAnthropicClients) {
  for (const char* path : {"/v1/models", "/models", "/v1/models?limit=20"}) {
    auto r = get(port(), path);
    ASSERT_EQ(r.status, 200) << path;
    json j = r.json_body();
    EXPECT_EQ(j["object"], "list");
    EXPECT_EQ(j["has_more"], false);
    std::vector<std::string> ids;
    for (const auto& m : j["data"]) {
      ids.push_back(m["id"]);
      EXPECT_EQ(m["object"], "model");
      EXPECT_EQ(m["type"], "model");
      EXPECT_TRUE(m["created"].is_number_integer());
      EXPECT_TRUE(m["owned_by"].is_string());
      EXPECT_EQ(m["display_name"], m["id"]);
      EXPECT_TRUE(m["created_at"].is_string());
    }
    for (const char* want : {"gpt-4.1", "gpt-5.5", "claude-sonnet-4-5", "claude-opus-5-5",
                             "gemini-2.5-flash", "mock-model"})
      EXPECT_NE(std::find(ids.begin(), ids.end(), want), ids.end()) << want;
    EXPECT_EQ(j["first_id"], ids.front());
    EXPECT_EQ(j["last_id"], ids.back());
  }
  auto one = get(port(), "/v1/models/gpt-4.1");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json_body()["id"], "gpt-4.1");
}

TEST_F(GatewayWire, GeminiModelsList) {
  auto r = get(port(), "/v1beta/models");
  ASSERT_EQ(r.status, 200);
  json j = r.json_body();
  ASSERT_TRUE(j["models"].is_array());
  bool found = false;
  for (const auto& m : j["models"]) {
    EXPECT_EQ(m["name"].get<std::string>().rfind("models/", 0), 0u);
    EXPECT_TRUE(m["supportedGenerationMethods"].is_array());
    if (m["name"] == "models/gemini-2.5-flash") found = true;
  }
  EXPECT_TRUE(found);
  auto one = get(port(), "/v1beta/models/gemini-2.5-flash");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json_body()["name"], "models/gemini-2.5-flash");
}

TEST_F(GatewayWire, UnknownPathIs404AndBadJsonIs400) {
  auto r = post(port(), "/v1/embeddings", {{"input", "x"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.json_body()["error"]["message"].get<std::string>().find("/v1/embeddings") !=
              std::string::npos);
  auto bad = http(port(), "POST", "/v1/chat/completions", "{not json",
                  {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json_body()["error"]["type"], "invalid_request_error");
  auto bad_anthropic = http(port(), "POST", "/v1/messages", "{not json", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_anthropic.status, 400);
  EXPECT_EQ(bad_anthropic.json_body()["type"], "error");
}

TEST_F(GatewayWire, AnthropicCountTokens) {
  auto r = post(port(), "/v1/messages/count_tokens?beta=true",
                {{"model", "claude-opus-5-5"},
                 {"messages", {{{"role", "user"}, {"content", "count these four words"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body()["input_tokens"], 4);
}

TEST_F(GatewayWire, AnswersArePureFunctionsOfTheRequest) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "same again"}}}}};
  auto a = post(port(), "/v1/chat/completions", body).json_body();
  auto b = post(port(), "/v1/chat/completions", body).json_body();
  EXPECT_EQ(a["choices"], b["choices"]);
  EXPECT_EQ(a["usage"], b["usage"]);
}

TEST_F(GatewayWire, Utf8PromptsAreSplitOnCharacterBoundaries) {
  std::string prompt = "héllo wörld ✓ 日本語のテキスト";
  auto r = post(port(), "/v1/chat/completions",
                {{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", prompt}}}}});
  ASSERT_EQ(r.status, 200);
  auto events = parse_sse(r.body);  // json::parse throws on a split UTF-8 sequence
  EXPECT_EQ(chat_stream_text(events), "MOCK: " + prompt);
}

}  // namespace
}  // namespace drover::test::gateway
