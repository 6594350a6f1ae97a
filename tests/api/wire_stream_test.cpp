// Response decoding: recorded-shape streams fed through SseParser in every split, and whole
// bodies.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "parsers/sse_parser.h"
#include "parsers/utf8.h"
#include "src/api/wire.h"
#include "support/fixtures.h"

namespace drover::api {
namespace {

using nlohmann::json;

struct Decoded {
  DecodedResponse response;
  std::vector<Event> events;
};

Decoded decode_chunks(WireFormat format, const std::vector<std::string_view>& chunks) {
  Decoded run;
  parsers::SseParser parser;
  auto decoder = make_stream_decoder(format);
  std::vector<parsers::SseEvent> sse;
  for (std::string_view chunk : chunks) {
    sse.clear();
    parser.feed(chunk, sse);
    for (const auto& e : sse) decoder->on_event(e, run.events);
  }
  sse.clear();
  parser.finish(sse);
  for (const auto& e : sse) decoder->on_event(e, run.events);
  run.response = decoder->finish();
  return run;
}

Decoded decode(WireFormat format, std::string_view input) { return decode_chunks(format, {input}); }

json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

json describe(const DecodedResponse& r) {
  return {{"text", r.text},
          {"thinking", r.thinking},
          {"usage", r.usage ? to_json(*r.usage) : json(nullptr)},
          {"stopReason", opt(r.stop_reason)},
          {"model", opt(r.model)},
          {"responseId", opt(r.response_id)},
          {"toolCalls", r.tool_calls},
          {"error", r.error ? to_json(*r.error) : json(nullptr)},
          {"complete", r.complete}};
}

json describe(const std::vector<Event>& events) {
  json out = json::array();
  for (const Event& e : events) out.push_back(to_json(e));
  return out;
}

std::vector<Event::Kind> kinds(const std::vector<Event>& events) {
  std::vector<Event::Kind> out;
  for (const Event& e : events) out.push_back(e.kind);
  return out;
}

/// What every decode keeps: deltas add up to the text, thinking events to the thinking, the text
/// is valid UTF-8, no event is empty, tool events are the tool calls (for a complete stream), and
/// at most one usage event, equal to the final usage.
::testing::AssertionResult invariants(const Decoded& run) {
  std::string deltas, thinking;
  json tools = json::array();
  int usage_events = 0;
  for (const Event& e : run.events) {
    switch (e.kind) {
      case Event::Kind::delta:
        if (e.text.empty()) return ::testing::AssertionFailure() << "empty delta";
        deltas += e.text;
        break;
      case Event::Kind::thinking:
        if (e.text.empty()) return ::testing::AssertionFailure() << "empty thinking";
        thinking += e.text;
        break;
      case Event::Kind::tool:
        if (!e.tool) return ::testing::AssertionFailure() << "tool event without a call";
        tools.push_back({{"id", e.tool->id}, {"name", e.tool->name}, {"arguments", e.tool->arguments}});
        break;
      case Event::Kind::usage:
        ++usage_events;
        if (!run.response.usage || !e.usage || to_json(*e.usage) != to_json(*run.response.usage))
          return ::testing::AssertionFailure() << "usage event " << to_json(e).dump() << " is not the final usage";
        break;
      case Event::Kind::permission:
        return ::testing::AssertionFailure() << "a permission event from an API stream";
      case Event::Kind::plan:
        return ::testing::AssertionFailure() << "a plan event from an API stream";
      case Event::Kind::progress:
        return ::testing::AssertionFailure() << "a progress event from an API stream";
      case Event::Kind::warning: break;
    }
  }
  if (deltas != run.response.text)
    return ::testing::AssertionFailure() << "deltas " << json(deltas).dump() << " != text "
                                         << json(run.response.text).dump();
  if (thinking != run.response.thinking)
    return ::testing::AssertionFailure() << "thinking events != thinking";
  if (parsers::valid_utf8(run.response.text) != run.response.text ||
      parsers::valid_utf8(run.response.thinking) != run.response.thinking)
    return ::testing::AssertionFailure() << "invalid UTF-8";
  if (run.response.complete && tools != run.response.tool_calls)
    return ::testing::AssertionFailure() << "tool events " << tools.dump() << " != tool calls "
                                         << run.response.tool_calls.dump();
  if (usage_events > 1) return ::testing::AssertionFailure() << usage_events << " usage events";
  return ::testing::AssertionSuccess();
}

/// Where to split an input in two: every byte boundary for inputs up to 4 KiB. Beyond that
/// (each split re-decodes the whole input, so the work is quadratic) every boundary within two
/// bytes of a line end or a non-ASCII byte, where the parsers keep state, plus every 8th one.
std::vector<std::size_t> cuts_for(std::string_view input) {
  std::vector<std::size_t> cuts;
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    bool keep = input.size() <= 4096 || cut % 8 == 0 || cut == input.size();
    for (std::size_t i = cut >= 2 ? cut - 2 : 0; !keep && i < std::min(cut + 2, input.size()); ++i) {
      const auto c = static_cast<unsigned char>(input[i]);
      keep = c == '\n' || c == '\r' || c >= 0x80;
    }
    if (keep) cuts.push_back(cut);
  }
  return cuts;
}

/// Whole, split in two (see cuts_for), and byte by byte: identical responses and events.
::testing::AssertionResult same_for_every_split(WireFormat format, std::string_view input,
                                                Decoded* whole_out = nullptr) {
  const Decoded whole = decode(format, input);
  if (auto ok = invariants(whole); !ok) return ok << " (whole input)";
  const json expected = describe(whole.response);
  const json expected_events = describe(whole.events);
  const auto compare = [&](const Decoded& run, const std::string& how) -> ::testing::AssertionResult {
    if (auto ok = invariants(run); !ok) return ok << " (" << how << ")";
    if (const json got = describe(run.response); got != expected)
      return ::testing::AssertionFailure() << how << ":\n" << got.dump(2) << "\nwhole:\n" << expected.dump(2);
    if (const json got = describe(run.events); got != expected_events)
      return ::testing::AssertionFailure() << how << " events differ:\n" << got.dump() << "\nwhole:\n"
                                           << expected_events.dump();
    return ::testing::AssertionSuccess();
  };
  for (std::size_t cut : cuts_for(input)) {
    auto ok = compare(decode_chunks(format, {input.substr(0, cut), input.substr(cut)}),
                      "split at byte " + std::to_string(cut));
    if (!ok) return ok;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  if (auto ok = compare(decode_chunks(format, bytes), "byte by byte"); !ok) return ok;
  if (whole_out != nullptr) *whole_out = whole;
  return ::testing::AssertionSuccess();
}

Decoded fixture_run(WireFormat format, const std::string& name) {
  const std::string input = test::read_fixture("api/" + name);
  EXPECT_FALSE(input.empty()) << name;
  Decoded run;
  EXPECT_TRUE(same_for_every_split(format, input, &run)) << name;
  return run;
}

json usage_json(const DecodedResponse& r) { return r.usage ? to_json(*r.usage) : json(nullptr); }

// ---- OpenAI chat completions -------------------------------------------------------------------

TEST(ChatStream, TextDeltasUsageAndDone) {
  const Decoded run = fixture_run(WireFormat::openai_chat, "openai-chat-stream.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.text, "Bonjour \xC3\xA0 tous \xF0\x9F\x91\x8B!\n\xC3\x87" "a va ?");
  EXPECT_EQ(r.thinking, "");
  EXPECT_EQ(r.stop_reason, "stop");
  EXPECT_EQ(r.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(r.response_id, "chatcmpl-BxT1nQ7yY2kq3v8ZrL0aWfJd5Hc9E");
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.error.has_value());
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":1219,"outputTokens":9,"totalTokens":1228,
      "cacheReadTokens":1152,"reasoningTokens":0,"calls":1})"));
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::delta, K::delta, K::delta, K::delta, K::usage}));
}

TEST(ChatStream, ParallelToolCallsAssembledByIndex) {
  const Decoded run = fixture_run(WireFormat::openai_chat, "openai-chat-stream-tool.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.stop_reason, "tool_calls");
  EXPECT_EQ(r.tool_calls, json::parse(R"([
    {"id":"call_Vq1mZ8kT3cYw0aRbN5eLx2Hs","name":"get_weather","arguments":{"location":"Paris, France"}},
    {"id":"call_J7dQ2nX9pLr4sV0gK6cTy1Bm","name":"get_time","arguments":{"tz":"Europe/Paris"}}])"));
  using K = Event::Kind;
  // The calls are complete at finish_reason, before the usage chunk.
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::tool, K::tool, K::usage}));
  EXPECT_EQ(usage_json(r)["inputTokens"], 84);
  EXPECT_EQ(usage_json(r)["outputTokens"], 52);
}

TEST(ChatStream, ReasoningContentIsThinking) {
  const Decoded run = fixture_run(WireFormat::openai_chat, "openai-chat-stream-reasoning.sse");
  EXPECT_EQ(run.response.thinking, "The user asks 2+2. That is 4.");
  EXPECT_EQ(run.response.text, "4");
  EXPECT_EQ(run.response.model, "deepseek-reasoner");
  EXPECT_EQ(usage_json(run.response)["reasoningTokens"], 15);
  EXPECT_TRUE(run.response.complete);
}

TEST(ChatStream, MidStreamErrorEnvelope) {
  const Decoded run = fixture_run(WireFormat::openai_chat, "openai-chat-stream-error.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.text, "Partial");
  EXPECT_FALSE(r.complete);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_TRUE(r.error->retryable);
  EXPECT_EQ(r.error->message, "The server had an error while processing your request. Sorry about that!");
}

TEST(ChatStream, TruncatedStreamIsIncompleteButKeepsWhatArrived) {
  std::string input = test::read_fixture("api/openai-chat-stream-tool.sse");
  input = input.substr(0, input.rfind("data: {", input.find("Europe/Paris")));  // mid-arguments
  Decoded run;
  ASSERT_TRUE(same_for_every_split(WireFormat::openai_chat, input, &run));
  EXPECT_FALSE(run.response.complete);
  EXPECT_TRUE(run.events.empty());  // no tool call was complete
  ASSERT_EQ(run.response.tool_calls.size(), 2u);
  EXPECT_EQ(run.response.tool_calls[0]["arguments"], json({{"location", "Paris, France"}}));
  // Partial arguments stay as the raw text.
  EXPECT_EQ(run.response.tool_calls[1]["arguments"], "{\"tz\":");
  EXPECT_FALSE(run.response.usage.has_value());
}

TEST(ChatStream, IgnoresWhatFollowsDoneAndToleratesNoise) {
  const std::string input =
      ": OPENROUTER PROCESSING\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: not json at all\n\n"
      "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}\n\n"
      "data: [DONE]\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n";
  Decoded run;
  ASSERT_TRUE(same_for_every_split(WireFormat::openai_chat, input, &run));
  EXPECT_EQ(run.response.text, "ab");
  EXPECT_EQ(run.response.stop_reason, "length");
  EXPECT_TRUE(run.response.complete);
  EXPECT_FALSE(run.response.usage.has_value());
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::delta, K::warning, K::delta}));
}

TEST(ChatStream, InvalidUtf8InAChunkIsRepairedNotDropped) {
  const std::string input =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xFF" "b\"}}]}\n\n"
      "data: [DONE]\n\n";
  Decoded run;
  ASSERT_TRUE(same_for_every_split(WireFormat::openai_chat, input, &run));
  EXPECT_EQ(run.response.text, "a\xEF\xBF\xBD" "b");
}

TEST(ChatStream, ToolCallsWithoutIndexAreKeptApart) {
  // Some OpenAI-compatible servers send each call whole, without `index`.
  const std::string input =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
      "\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"c2\",\"type\":\"function\","
      "\"function\":{\"name\":\"b\",\"arguments\":{\"y\":2}}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: [DONE]\n\n";
  Decoded run;
  ASSERT_TRUE(same_for_every_split(WireFormat::openai_chat, input, &run));
  EXPECT_EQ(run.response.tool_calls, json::parse(R"([{"id":"c1","name":"a","arguments":{"x":1}},
      {"id":"c2","name":"b","arguments":{"y":2}}])"));
}

TEST(ChatStream, ErrorEventName) {
  const Decoded run = decode(WireFormat::openai_chat,
                         "event: error\ndata: {\"message\":\"Too many requests\",\"code\":\"rate_limit_exceeded\"}\n\n");
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::rate_limit);
  EXPECT_EQ(run.response.error->message, "Too many requests");
}

TEST(ChatBody, Text) {
  const DecodedResponse r =
      decode_response_body(WireFormat::openai_chat, test::read_fixture("api/openai-chat.json"));
  EXPECT_EQ(r.text, "{\"city\": \"Paris\", \"temp_c\": 21}");
  EXPECT_EQ(r.stop_reason, "stop");
  EXPECT_EQ(r.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(r.response_id, "chatcmpl-BxT2aH4rM9kQ1vN6yZ3eW8pL0cJ7s");
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":57,"outputTokens":13,"totalTokens":70,
      "cacheReadTokens":0,"reasoningTokens":0,"calls":1})"));
}

TEST(ChatBody, ToolCalls) {
  const DecodedResponse r =
      decode_response_body(WireFormat::openai_chat, test::read_fixture("api/openai-chat-tool.json"));
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.stop_reason, "tool_calls");
  EXPECT_EQ(r.tool_calls, json::parse(R"([{"id":"call_Vq1mZ8kT3cYw0aRbN5eLx2Hs","name":"get_weather",
      "arguments":{"location":"Paris, France"}}])"));
}

TEST(ChatBody, ErrorInsideA200AndNotJson) {
  DecodedResponse r = decode_response_body(WireFormat::openai_chat,
                                           test::read_fixture("api/openai-error-429-quota.json"));
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::quota_exhausted);
  EXPECT_FALSE(r.complete);
  r = decode_response_body(WireFormat::openai_chat, "<html>proxy</html>");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_NE(r.error->message.find("not JSON"), std::string::npos);
}

// ---- OpenAI responses --------------------------------------------------------------------------

TEST(ResponsesStream, ReasoningSummaryTextAndUsage) {
  const Decoded run = fixture_run(WireFormat::openai_responses, "openai-responses-stream.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.thinking, "**Counting letters**\n\nThe word has three r\xE2\x80\x99s.");
  EXPECT_EQ(r.text, "There are **3** r\xE2\x80\x99s in \xE2\x80\x9Cstrawberry\xE2\x80\x9D.");
  EXPECT_EQ(r.stop_reason, "completed");
  EXPECT_EQ(r.model, "o4-mini-2025-04-16");
  EXPECT_EQ(r.response_id, "resp_68a1f0c2b9d48190a2c5e7f1d3b6a9040c1e2f3a4b5c6d7e");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":21,"outputTokens":150,"totalTokens":171,
      "cacheReadTokens":0,"reasoningTokens":128,"calls":1})"));
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events),
            (std::vector<K>{K::thinking, K::thinking, K::delta, K::delta, K::usage}));
}

TEST(ResponsesStream, FunctionCallFromOutputItemDone) {
  const Decoded run = fixture_run(WireFormat::openai_responses, "openai-responses-stream-tool.sse");
  EXPECT_EQ(run.response.tool_calls, json::parse(R"([{"id":"call_Xk2pL9mQ4rT7vB1nC8dF3gH6",
      "name":"get_weather","arguments":{"location":"Paris, France"}}])"));
  EXPECT_EQ(usage_json(run.response)["cacheReadTokens"], 256);
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::tool, K::usage}));
}

TEST(ResponsesStream, IncompleteGivesTheReason) {
  const Decoded run = fixture_run(WireFormat::openai_responses, "openai-responses-stream-incomplete.sse");
  EXPECT_EQ(run.response.text, "Once upon a time, in a land far");
  EXPECT_EQ(run.response.stop_reason, "max_output_tokens");
  EXPECT_TRUE(run.response.complete);
  EXPECT_FALSE(run.response.error.has_value());
  EXPECT_EQ(usage_json(run.response)["outputTokens"], 16);
}

TEST(ResponsesStream, FailedIsAnError) {
  const Decoded run = fixture_run(WireFormat::openai_responses, "openai-responses-stream-failed.sse");
  EXPECT_EQ(run.response.text, "Hel");
  EXPECT_FALSE(run.response.complete);
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(run.response.error->message, "The model failed to generate a response.");
  EXPECT_EQ(run.response.stop_reason, "failed");
}

TEST(ResponsesStream, ErrorEvents) {
  Decoded run = decode(WireFormat::openai_responses,
                   "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
                   "\"message\":\"Rate limit exceeded. Please try again later.\",\"param\":null,"
                   "\"sequence_number\":2}\n\n");
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::rate_limit);
  EXPECT_EQ(run.response.error->message, "Rate limit exceeded. Please try again later.");

  run = decode(WireFormat::openai_responses,
               "data: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
               "\"code\":\"context_length_exceeded\",\"message\":\"Your input exceeds the context "
               "window of this model. Please adjust your input and try again.\"}}\n\n");
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::context_overflow);
  EXPECT_FALSE(run.response.error->retryable);
}

TEST(ResponsesBody, MessageReasoningAndFunctionCall) {
  const DecodedResponse r = decode_response_body(WireFormat::openai_responses,
                                                 test::read_fixture("api/openai-responses.json"));
  EXPECT_EQ(r.text, "Let me check the weather in Paris.");
  EXPECT_EQ(r.thinking, "**Planning the lookup**\n\nI need the weather first.");
  EXPECT_EQ(r.tool_calls, json::parse(R"([{"id":"call_Lm4nP7qR0sT3uV6wX9yZ2aB5","name":"get_weather",
      "arguments":{"location":"Paris, France"}}])"));
  EXPECT_EQ(r.stop_reason, "completed");
  EXPECT_EQ(r.model, "o4-mini-2025-04-16");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":75,"outputTokens":210,"totalTokens":285,
      "cacheReadTokens":0,"reasoningTokens":192,"calls":1})"));
}

TEST(ResponsesBody, FailedAndIncomplete) {
  DecodedResponse r = decode_response_body(
      WireFormat::openai_responses,
      R"({"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]})");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(r.error->message, "boom");
  EXPECT_FALSE(r.complete);

  r = decode_response_body(
      WireFormat::openai_responses,
      R"({"id":"resp_2","object":"response","status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[{"type":"message","content":[{"type":"output_text","text":"Par"}]}]})");
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.text, "Par");
  EXPECT_EQ(r.stop_reason, "content_filter");
  EXPECT_TRUE(r.complete);
}

// ---- Anthropic ---------------------------------------------------------------------------------

TEST(AnthropicStream, TextPingAndUsage) {
  const Decoded run = fixture_run(WireFormat::anthropic_messages, "anthropic-stream.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.text, "Hello \xE2\x80\x94 voil\xC3\xA0, \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x82\x82!");
  EXPECT_EQ(r.stop_reason, "end_turn");
  EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(r.response_id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  EXPECT_TRUE(r.complete);
  // message_start's input and cache counts, message_delta's cumulative output count.
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":472,"outputTokens":15,"totalTokens":487,
      "cacheReadTokens":2048,"cacheWriteTokens":0,"calls":1})"));
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::delta, K::delta, K::delta, K::usage}));
}

TEST(AnthropicStream, ThinkingTextAndToolUse) {
  const Decoded run = fixture_run(WireFormat::anthropic_messages, "anthropic-stream-thinking-tool.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.thinking, "The user wants the weather in Paris.\nI should call get_weather.");
  EXPECT_EQ(r.text, "Let me check that for you.");
  EXPECT_EQ(r.tool_calls, json::parse(R"([{"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather",
      "arguments":{"location":"Paris, France","unit":"celsius"}}])"));
  EXPECT_EQ(r.stop_reason, "tool_use");
  EXPECT_EQ(usage_json(r)["cacheWriteTokens"], 512);
  EXPECT_EQ(usage_json(r)["outputTokens"], 89);
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::thinking, K::thinking, K::delta, K::tool, K::usage}));
}

TEST(AnthropicStream, OverloadedErrorEvent) {
  const Decoded run = fixture_run(WireFormat::anthropic_messages, "anthropic-stream-error.sse");
  EXPECT_EQ(run.response.text, "Par");
  EXPECT_FALSE(run.response.complete);
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(run.response.error->message, "Overloaded");
  EXPECT_TRUE(run.response.error->retryable);
}

TEST(AnthropicStream, ErrorTypes) {
  const auto error_of = [](const char* type, const char* message) {
    const json event{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
    return decode(WireFormat::anthropic_messages, "event: error\ndata: " + event.dump() + "\n\n")
        .response.error.value_or(Error{});
  };
  EXPECT_EQ(error_of("rate_limit_error", "Number of requests has exceeded your rate limit").code,
            ErrorCode::rate_limit);
  EXPECT_EQ(error_of("api_error", "Internal server error").code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(error_of("invalid_request_error", "prompt is too long: 201000 tokens > 200000 maximum").code,
            ErrorCode::context_overflow);
  EXPECT_EQ(error_of("invalid_request_error", "messages: text content blocks must be non-empty").code,
            ErrorCode::validation_error);
  EXPECT_EQ(error_of("authentication_error", "invalid x-api-key").code, ErrorCode::auth_error);
  EXPECT_EQ(error_of("billing_error", "Your credit balance is too low").code, ErrorCode::quota_exhausted);
}

TEST(AnthropicStream, ToolUseWithoutDeltasKeepsTheStartInput) {
  const std::string input =
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\","
      "\"id\":\"toolu_1\",\"name\":\"now\",\"input\":{}}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  Decoded run;
  ASSERT_TRUE(same_for_every_split(WireFormat::anthropic_messages, input, &run));
  EXPECT_EQ(run.response.tool_calls, json::parse(R"([{"id":"toolu_1","name":"now","arguments":{}}])"));
  EXPECT_TRUE(run.response.complete);
}

TEST(AnthropicBody, ThinkingTextAndToolUse) {
  const DecodedResponse r = decode_response_body(WireFormat::anthropic_messages,
                                                 test::read_fixture("api/anthropic.json"));
  EXPECT_EQ(r.thinking, "Two plus two is four.");
  EXPECT_EQ(r.text, "2 + 2 = 4.");
  EXPECT_EQ(r.tool_calls, json::parse(R"([{"id":"toolu_01A09q90qw90lq917835lq9","name":"record_answer",
      "arguments":{"answer":4,"confidence":"high"}}])"));
  EXPECT_EQ(r.stop_reason, "tool_use");
  EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(r.response_id, "msg_01Aq9w938a90dw8q");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":2095,"outputTokens":503,"totalTokens":2598,
      "cacheReadTokens":1024,"cacheWriteTokens":0,"calls":1})"));
}

TEST(AnthropicBody, ErrorBody) {
  const DecodedResponse r = decode_response_body(WireFormat::anthropic_messages,
                                                 test::read_fixture("api/anthropic-error-529.json"));
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(r.error->message, "Overloaded");
}

// ---- Gemini ------------------------------------------------------------------------------------

TEST(GeminiStream, ThoughtsTextAndUsageWithCrlf) {
  const Decoded run = fixture_run(WireFormat::gemini, "gemini-stream.sse");
  const DecodedResponse& r = run.response;
  EXPECT_EQ(r.thinking, "**Considering the question**\n\nThe user wants a haiku about rain.");
  EXPECT_EQ(r.text,
            "Soft rain on the roof,\nwhispers to the sleeping town \xE2\x80\x94\npuddles hold the sky. "
            "\xE2\x98\x94");
  EXPECT_EQ(r.stop_reason, "STOP");
  EXPECT_EQ(r.model, "gemini-2.5-flash");
  EXPECT_EQ(r.response_id, "7eSnaPqVKL6k1e8Pw4CJ8AU");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":11,"outputTokens":21,"totalTokens":245,
      "reasoningTokens":213,"calls":1})"));
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::thinking, K::delta, K::delta, K::delta, K::usage}));
}

TEST(GeminiStream, FunctionCall) {
  const Decoded run = fixture_run(WireFormat::gemini, "gemini-stream-tool.sse");
  EXPECT_EQ(run.response.tool_calls, json::parse(R"([{"id":"","name":"get_weather",
      "arguments":{"location":"Paris, France","unit":"celsius"}}])"));
  EXPECT_EQ(run.response.model, "gemini-2.5-pro");
  using K = Event::Kind;
  EXPECT_EQ(kinds(run.events), (std::vector<K>{K::tool, K::usage}));
}

TEST(GeminiStream, ErrorChunk) {
  const Decoded run = fixture_run(WireFormat::gemini, "gemini-stream-error.sse");
  EXPECT_EQ(run.response.text, "Once");
  EXPECT_FALSE(run.response.complete);
  ASSERT_TRUE(run.response.error.has_value());
  EXPECT_EQ(run.response.error->code, ErrorCode::temporary_unavailable);
  EXPECT_EQ(run.response.error->message, "The model is overloaded. Please try again later.");
}

TEST(GeminiBody, ThoughtAndJsonText) {
  const DecodedResponse r = decode_response_body(WireFormat::gemini, test::read_fixture("api/gemini.json"));
  EXPECT_EQ(r.thinking, "I should answer with JSON.");
  EXPECT_EQ(r.text, "{\"answer\": 4}");
  EXPECT_EQ(r.stop_reason, "STOP");
  EXPECT_EQ(r.response_id, "mZ2oaKfLBeOt1e8Pq8ag-Ak");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(usage_json(r), json::parse(R"({"inputTokens":8,"outputTokens":7,"totalTokens":120,
      "cacheReadTokens":4,"reasoningTokens":105,"calls":1})"));
}

TEST(GeminiBody, BlockedPromptAndErrors) {
  DecodedResponse r = decode_response_body(WireFormat::gemini, test::read_fixture("api/gemini-blocked.json"));
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.stop_reason, "PROHIBITED_CONTENT");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.complete);

  r = decode_response_body(WireFormat::gemini, test::read_fixture("api/gemini-error-500-array.json"));
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::temporary_unavailable);
  EXPECT_FALSE(r.complete);
}

TEST(ChatStream, EventDataNestedTooDeeplyIsAnErrorNamingTheLimit) {
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    for (WireFormat format : {WireFormat::openai_chat, WireFormat::anthropic_messages,
                              WireFormat::gemini, WireFormat::openai_responses}) {
      const Decoded run = decode(format, "event: error\ndata: {\"error\":" + deep + "}\n\n");
      ASSERT_TRUE(run.response.error);
      EXPECT_EQ(run.response.error->message, "stream event data is JSON nested deeper than 512 levels");
    }
  }
}

}  // namespace
}  // namespace drover::api
