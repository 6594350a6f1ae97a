// Wire formats: names, endpoints, request building, auth headers, models listings.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/api/wire.h"
#include "support/fixtures.h"

namespace drover::api {
namespace {

using nlohmann::json;

ApiCall call_for(WireFormat format, std::string prompt = "Hello") {
  ApiCall call;
  call.format = format;
  call.model = "m-1";
  call.prompt = std::move(prompt);
  return call;
}

/// The request body as JSON; fails the test when it is not compact JSON.
json body_of(const HttpRequestSpec& spec) {
  json body = json::parse(spec.body, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << spec.body;
  if (!body.is_discarded()) {
    EXPECT_EQ(spec.body, body.dump()) << "body is not compact";
  }
  return body;
}

std::optional<std::string> header(const HttpRequestSpec& spec, const std::string& name) {
  std::optional<std::string> found;
  for (const auto& [key, value] : spec.headers) {
    if (key == name) {
      EXPECT_FALSE(found.has_value()) << "header " << name << " set twice";
      found = value;
    }
  }
  return found;
}

void expect_no_auth_headers(const HttpRequestSpec& spec) {
  for (const auto& [key, value] : spec.headers) {
    EXPECT_NE(key, "authorization");
    EXPECT_NE(key, "x-api-key");
    EXPECT_NE(key, "x-goog-api-key");
  }
}

const json kSchema = json::parse(
    R"({"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"],"additionalProperties":false})");

json schema_format(bool strict = true) {
  return json{{"type", "json_schema"}, {"name", "answer"}, {"schema", kSchema}, {"strict", strict}};
}

// ---- names and endpoints -----------------------------------------------------------------------

TEST(WireFormat, NamesRoundTrip) {
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::openai_responses,
                       WireFormat::anthropic_messages, WireFormat::gemini})
    EXPECT_EQ(wire_format_from_string(to_string(f)), f);
  EXPECT_EQ(to_string(WireFormat::openai_chat), "openai-chat");
  EXPECT_EQ(to_string(WireFormat::openai_responses), "openai-responses");
  EXPECT_EQ(to_string(WireFormat::anthropic_messages), "anthropic");
  EXPECT_EQ(to_string(WireFormat::gemini), "gemini");
  EXPECT_FALSE(wire_format_from_string("openai").has_value());
  EXPECT_FALSE(wire_format_from_string("").has_value());
}

TEST(WireFormat, DefaultsPerProvider) {
  EXPECT_EQ(default_wire_format("openai"), WireFormat::openai_chat);
  EXPECT_EQ(default_wire_format("anthropic"), WireFormat::anthropic_messages);
  EXPECT_EQ(default_wire_format("gemini"), WireFormat::gemini);
  EXPECT_EQ(default_wire_format("google"), WireFormat::gemini);
  EXPECT_FALSE(default_wire_format("acme").has_value());
  EXPECT_EQ(default_base_url(WireFormat::openai_chat), "https://api.openai.com/v1");
  EXPECT_EQ(default_base_url(WireFormat::openai_responses), "https://api.openai.com/v1");
  EXPECT_EQ(default_base_url(WireFormat::anthropic_messages), "https://api.anthropic.com");
  EXPECT_EQ(default_base_url(WireFormat::gemini), "https://generativelanguage.googleapis.com");
}

TEST(WireFormat, AuthHeaders) {
  EXPECT_EQ(auth_header(WireFormat::openai_chat, "sk-1"),
            (std::pair<std::string, std::string>{"authorization", "Bearer sk-1"}));
  EXPECT_EQ(auth_header(WireFormat::openai_responses, "sk-2"),
            (std::pair<std::string, std::string>{"authorization", "Bearer sk-2"}));
  EXPECT_EQ(auth_header(WireFormat::anthropic_messages, "ak"),
            (std::pair<std::string, std::string>{"x-api-key", "ak"}));
  EXPECT_EQ(auth_header(WireFormat::gemini, "gk"),
            (std::pair<std::string, std::string>{"x-goog-api-key", "gk"}));
}

TEST(BuildRequest, UrlsWithAndWithoutTrailingSlash) {
  struct Case {
    WireFormat format;
    std::string base;
    bool stream;
    std::string url;
  };
  const Case cases[] = {
      {WireFormat::openai_chat, "", true, "https://api.openai.com/v1/chat/completions"},
      {WireFormat::openai_chat, "http://127.0.0.1:8080/v1", true, "http://127.0.0.1:8080/v1/chat/completions"},
      {WireFormat::openai_chat, "http://127.0.0.1:8080/v1/", true, "http://127.0.0.1:8080/v1/chat/completions"},
      {WireFormat::openai_responses, "", false, "https://api.openai.com/v1/responses"},
      {WireFormat::openai_responses, "http://h/v1/", true, "http://h/v1/responses"},
      {WireFormat::anthropic_messages, "", true, "https://api.anthropic.com/v1/messages"},
      {WireFormat::anthropic_messages, "http://h:9", true, "http://h:9/v1/messages"},
      {WireFormat::anthropic_messages, "http://h:9/", false, "http://h:9/v1/messages"},
      {WireFormat::gemini, "", true,
       "https://generativelanguage.googleapis.com/v1beta/models/m-1:streamGenerateContent?alt=sse"},
      {WireFormat::gemini, "", false,
       "https://generativelanguage.googleapis.com/v1beta/models/m-1:generateContent"},
      {WireFormat::gemini, "http://h:9//", false, "http://h:9/v1beta/models/m-1:generateContent"},
  };
  for (const Case& c : cases) {
    ApiCall call = call_for(c.format);
    call.base_url = c.base;
    call.parameters.stream = c.stream;
    const HttpRequestSpec spec = build_request(call);
    EXPECT_EQ(spec.url, c.url) << to_string(c.format) << " " << c.base;
    EXPECT_EQ(spec.method, "POST");
    EXPECT_EQ(header(spec, "content-type"), "application/json");
    EXPECT_EQ(header(spec, "accept"), c.stream ? "text/event-stream" : "application/json");
    expect_no_auth_headers(spec);
  }
}

// ---- OpenAI chat completions -------------------------------------------------------------------

TEST(BuildRequest, OpenAiChatMinimalStreaming) {
  const json body = body_of(build_request(call_for(WireFormat::openai_chat)));
  EXPECT_EQ(body, json::parse(R"({"model":"m-1","messages":[{"role":"user","content":"Hello"}],
      "stream":true,"stream_options":{"include_usage":true}})"));
}

TEST(BuildRequest, OpenAiChatAllParameters) {
  ApiCall call = call_for(WireFormat::openai_chat, "What is 2+2?");
  call.parameters.system_prompt = "Be terse.";
  call.parameters.temperature = 0.25;
  call.parameters.max_tokens = 256;
  call.parameters.response_format = schema_format();
  call.parameters.reasoning_effort = "low";
  const json body = body_of(build_request(call));
  const json want = {
      {"model", "m-1"},
      {"messages", json::array({{{"role", "system"}, {"content", "Be terse."}},
                                {{"role", "user"}, {"content", "What is 2+2?"}}})},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
      {"max_tokens", 256},
      {"temperature", 0.25},
      {"response_format",
       {{"type", "json_schema"},
        {"json_schema", {{"name", "answer"}, {"schema", kSchema}, {"strict", true}}}}},
      {"reasoning_effort", "low"}};
  EXPECT_EQ(body, want) << body.dump(2);
}

TEST(BuildRequest, OpenAiChatCompatFlagsEachChangeTheBody) {
  ApiCall base = call_for(WireFormat::openai_chat);
  base.parameters.system_prompt = "S";
  base.parameters.max_tokens = 100;
  base.parameters.response_format = schema_format();
  base.parameters.reasoning_effort = "high";
  const json plain = body_of(build_request(base));
  EXPECT_EQ(plain["messages"][0]["role"], "system");
  EXPECT_EQ(plain["max_tokens"], 100);
  EXPECT_TRUE(plain.contains("stream_options"));
  EXPECT_EQ(plain["response_format"]["json_schema"]["strict"], true);
  EXPECT_EQ(plain["reasoning_effort"], "high");

  ApiCall c = base;
  c.compat.max_tokens_field = "max_completion_tokens";
  json body = body_of(build_request(c));
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(body["max_completion_tokens"], 100);

  c = base;
  c.compat.supports_developer_role = true;
  EXPECT_EQ(body_of(build_request(c))["messages"][0]["role"], "developer");
  c.compat.supports_developer_role = false;
  EXPECT_EQ(body_of(build_request(c))["messages"][0]["role"], "system");

  c = base;
  c.compat.supports_usage_in_streaming = false;
  body = body_of(build_request(c));
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_EQ(body["stream"], true);
  c.compat.supports_usage_in_streaming = true;
  EXPECT_TRUE(body_of(build_request(c)).contains("stream_options"));

  c = base;
  c.compat.supports_strict_mode = false;
  body = body_of(build_request(c));
  EXPECT_FALSE(body["response_format"]["json_schema"].contains("strict"));
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"], kSchema);

  c = base;
  c.compat.supports_reasoning_effort = false;
  EXPECT_FALSE(body_of(build_request(c)).contains("reasoning_effort"));
  c.compat.supports_reasoning_effort = true;
  EXPECT_EQ(body_of(build_request(c))["reasoning_effort"], "high");
}

TEST(BuildRequest, OpenAiChatNotStreaming) {
  ApiCall call = call_for(WireFormat::openai_chat);
  call.parameters.stream = false;
  const json body = body_of(build_request(call));
  EXPECT_EQ(body["stream"], false);
  EXPECT_FALSE(body.contains("stream_options"));
}

TEST(BuildRequest, OpenAiChatResponseFormats) {
  ApiCall call = call_for(WireFormat::openai_chat);
  call.parameters.response_format = json{{"type", "json_object"}};
  EXPECT_EQ(body_of(build_request(call))["response_format"], json({{"type", "json_object"}}));

  // The chat-completions form is accepted as configured, and a missing name gets one.
  call.parameters.response_format =
      json{{"type", "json_schema"}, {"json_schema", {{"schema", kSchema}, {"description", "d"}}}};
  EXPECT_EQ(body_of(build_request(call))["response_format"],
            json({{"type", "json_schema"},
                  {"json_schema", {{"name", "response"}, {"description", "d"}, {"schema", kSchema}}}}));

  // No strict in the parameter: none in the request.
  call.parameters.response_format = json{{"type", "json_schema"}, {"name", "n"}, {"schema", kSchema}};
  EXPECT_FALSE(body_of(build_request(call))["response_format"]["json_schema"].contains("strict"));

  call.parameters.response_format = json{{"type", "text"}};
  EXPECT_FALSE(body_of(build_request(call)).contains("response_format"));
  call.parameters.response_format.reset();
  EXPECT_FALSE(body_of(build_request(call)).contains("response_format"));
}

TEST(BuildRequest, EmptySystemPromptAndEffortAreOmitted) {
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::openai_responses,
                       WireFormat::anthropic_messages, WireFormat::gemini}) {
    ApiCall call = call_for(f);
    call.parameters.system_prompt = "";
    call.parameters.reasoning_effort = "";
    const json body = body_of(build_request(call));
    EXPECT_FALSE(body.contains("system")) << to_string(f);
    EXPECT_FALSE(body.contains("instructions")) << to_string(f);
    EXPECT_FALSE(body.contains("systemInstruction")) << to_string(f);
    EXPECT_FALSE(body.contains("reasoning_effort")) << to_string(f);
    EXPECT_FALSE(body.contains("reasoning")) << to_string(f);
    if (f == WireFormat::openai_chat) {
      EXPECT_EQ(body["messages"].size(), 1u);
    }
  }
}

TEST(BuildRequest, InvalidUtf8InThePromptStillGivesJson) {
  const HttpRequestSpec spec = build_request(call_for(WireFormat::openai_chat, "bad \xFF byte"));
  const json body = body_of(spec);
  EXPECT_EQ(body["messages"][0]["content"], "bad \xEF\xBF\xBD byte");
}

// ---- OpenAI responses --------------------------------------------------------------------------

TEST(BuildRequest, OpenAiResponsesAllParameters) {
  ApiCall call = call_for(WireFormat::openai_responses, "Count the r's in strawberry.");
  call.parameters.system_prompt = "Answer briefly.";
  call.parameters.temperature = 0.5;
  call.parameters.max_tokens = 2048;
  call.parameters.response_format = schema_format();
  call.parameters.reasoning_effort = "medium";
  // Chat-only quirks do not leak into the responses body.
  call.compat.max_tokens_field = "max_completion_tokens";
  call.compat.supports_developer_role = true;
  const json body = body_of(build_request(call));
  const json want = {
      {"model", "m-1"},
      {"input", "Count the r's in strawberry."},
      {"instructions", "Answer briefly."},
      {"stream", true},
      {"max_output_tokens", 2048},
      {"temperature", 0.5},
      {"text",
       {{"format",
         {{"type", "json_schema"}, {"name", "answer"}, {"schema", kSchema}, {"strict", true}}}}},
      {"reasoning", {{"effort", "medium"}}}};
  EXPECT_EQ(body, want) << body.dump(2);
}

TEST(BuildRequest, OpenAiResponsesCompatFlags) {
  ApiCall call = call_for(WireFormat::openai_responses);
  call.parameters.response_format = schema_format();
  call.parameters.reasoning_effort = "low";
  call.compat.supports_strict_mode = false;
  call.compat.supports_reasoning_effort = false;
  const json body = body_of(build_request(call));
  EXPECT_FALSE(body["text"]["format"].contains("strict"));
  EXPECT_EQ(body["text"]["format"]["name"], "answer");
  EXPECT_FALSE(body.contains("reasoning"));

  call.parameters.response_format = json{{"type", "json_object"}};
  call.parameters.stream = false;
  const json object = body_of(build_request(call));
  EXPECT_EQ(object["text"], json({{"format", {{"type", "json_object"}}}}));
  EXPECT_EQ(object["stream"], false);
  EXPECT_FALSE(object.contains("stream_options"));
}

// ---- Anthropic ---------------------------------------------------------------------------------

TEST(BuildRequest, AnthropicMinimalHasDefaultMaxTokensAndVersionHeader) {
  const HttpRequestSpec spec = build_request(call_for(WireFormat::anthropic_messages));
  EXPECT_EQ(body_of(spec), json::parse(R"({"model":"m-1","max_tokens":4096,
      "messages":[{"role":"user","content":"Hello"}],"stream":true})"));
  EXPECT_EQ(header(spec, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(header(spec, "content-type"), "application/json");
}

TEST(BuildRequest, AnthropicAllParameters) {
  ApiCall call = call_for(WireFormat::anthropic_messages);
  call.parameters.system_prompt = "You are terse.";
  call.parameters.max_tokens = 1000;
  call.parameters.temperature = 0.0;
  call.parameters.stream = false;
  call.parameters.reasoning_effort = "high";  // no Anthropic equivalent: not sent
  call.compat.max_tokens_field = "max_completion_tokens";  // chat-only
  const json body = body_of(build_request(call));
  EXPECT_EQ(body, json::parse(R"({"model":"m-1","max_tokens":1000,"system":"You are terse.",
      "messages":[{"role":"user","content":"Hello"}],"stream":false,"temperature":0.0})"));
}

TEST(BuildRequest, AnthropicResponseFormatBecomesASystemInstruction) {
  ApiCall call = call_for(WireFormat::anthropic_messages);
  call.parameters.response_format = schema_format();
  json body = body_of(build_request(call));
  ASSERT_TRUE(body.contains("system"));
  const std::string system = body["system"];
  EXPECT_NE(system.find("JSON Schema"), std::string::npos) << system;
  EXPECT_NE(system.find(kSchema.dump()), std::string::npos) << system;
  EXPECT_FALSE(body.contains("response_format"));

  call.parameters.system_prompt = "Be kind.";
  body = body_of(build_request(call));
  const std::string combined = body["system"];
  EXPECT_EQ(combined.rfind("Be kind.\n\n", 0), 0u) << combined;
  EXPECT_NE(combined.find(kSchema.dump()), std::string::npos);

  call.parameters.response_format = json{{"type", "json_object"}};
  body = body_of(build_request(call));
  const std::string object = body["system"];
  EXPECT_NE(object.find("JSON object"), std::string::npos) << object;

  call.parameters.response_format = json{{"type", "text"}};
  EXPECT_EQ(body_of(build_request(call))["system"], "Be kind.");
}

// ---- Gemini ------------------------------------------------------------------------------------

TEST(BuildRequest, GeminiMinimal) {
  const HttpRequestSpec spec = build_request(call_for(WireFormat::gemini));
  EXPECT_EQ(body_of(spec),
            json::parse(R"({"contents":[{"role":"user","parts":[{"text":"Hello"}]}]})"));
  EXPECT_FALSE(header(spec, "anthropic-version").has_value());
}

TEST(BuildRequest, GeminiAllParameters) {
  ApiCall call = call_for(WireFormat::gemini, "Rain haiku");
  call.model = "models/gemini-2.5-flash";
  call.parameters.system_prompt = "Poet.";
  call.parameters.temperature = 1.5;
  call.parameters.max_tokens = 512;
  call.parameters.response_format = schema_format();
  const HttpRequestSpec spec = build_request(call);
  EXPECT_EQ(spec.url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-flash:streamGenerateContent?alt=sse");
  const json body = body_of(spec);
  const json want = {
      {"contents", json::array({{{"role", "user"}, {"parts", json::array({{{"text", "Rain haiku"}}})}}})},
      {"systemInstruction", {{"parts", json::array({{{"text", "Poet."}}})}}},
      {"generationConfig",
       {{"temperature", 1.5},
        {"maxOutputTokens", 512},
        {"responseMimeType", "application/json"},
        {"responseJsonSchema", kSchema}}}};
  EXPECT_EQ(body, want) << body.dump(2);

  call.parameters.response_format = json{{"type", "json_object"}};
  call.parameters.temperature.reset();
  call.parameters.max_tokens.reset();
  EXPECT_EQ(body_of(build_request(call))["generationConfig"],
            json({{"responseMimeType", "application/json"}}));
}

TEST(BuildRequest, GeminiModelIsOnePathSegment) {
  ApiCall call = call_for(WireFormat::gemini);
  call.model = "a b/c:d";
  call.parameters.stream = false;
  EXPECT_EQ(build_request(call).url,
            "https://generativelanguage.googleapis.com/v1beta/models/a%20b%2Fc%3Ad:generateContent");
}

// ---- models listings ---------------------------------------------------------------------------

TEST(ModelsRequest, UrlsAndHeaders) {
  HttpRequestSpec spec = build_models_request(WireFormat::openai_chat, "");
  EXPECT_EQ(spec.method, "GET");
  EXPECT_EQ(spec.url, "https://api.openai.com/v1/models");
  EXPECT_EQ(spec.body, "");
  EXPECT_EQ(build_models_request(WireFormat::openai_responses, "http://h/v1/").url, "http://h/v1/models");

  spec = build_models_request(WireFormat::anthropic_messages, "http://h:1/");
  EXPECT_EQ(spec.url, "http://h:1/v1/models?limit=1000");
  EXPECT_EQ(header(spec, "anthropic-version"), "2023-06-01");

  spec = build_models_request(WireFormat::gemini, "");
  EXPECT_EQ(spec.url, "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000");
  expect_no_auth_headers(spec);
}

TEST(ModelsResponse, OpenAi) {
  auto models = parse_models_response(WireFormat::openai_chat, test::read_fixture("api/openai-models.json"));
  ASSERT_TRUE(models.has_value());
  ASSERT_EQ(models->size(), 4u);
  EXPECT_EQ((*models)[0].id, "gpt-4o-mini");
  EXPECT_EQ((*models)[2].id, "o4-mini");
  EXPECT_FALSE((*models)[0].display_name.has_value());
  EXPECT_FALSE((*models)[0].context_window.has_value());
  // OpenAI-compatible servers that report a context length.
  models = parse_models_response(
      WireFormat::openai_chat,
      R"({"object":"list","data":[{"id":"qwen","max_model_len":32768},{"id":"x","context_length":8192},{"object":"model"}]})");
  ASSERT_TRUE(models.has_value());
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].context_window, 32768);
  EXPECT_EQ((*models)[1].context_window, 8192);
}

TEST(ModelsResponse, Anthropic) {
  auto models = parse_models_response(WireFormat::anthropic_messages,
                                      test::read_fixture("api/anthropic-models.json"));
  ASSERT_TRUE(models.has_value());
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].id, "claude-sonnet-4-5-20250929");
  EXPECT_EQ((*models)[0].display_name, "Claude Sonnet 4.5");
  EXPECT_EQ((*models)[2].display_name, "Claude Haiku 3.5");
}

TEST(ModelsResponse, Gemini) {
  auto models = parse_models_response(WireFormat::gemini, test::read_fixture("api/gemini-models.json"));
  ASSERT_TRUE(models.has_value());
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].id, "gemini-2.5-flash");
  EXPECT_EQ((*models)[0].display_name, "Gemini 2.5 Flash");
  EXPECT_EQ((*models)[0].context_window, 1048576);
  EXPECT_EQ((*models)[2].id, "gemini-embedding-001");
  EXPECT_EQ((*models)[2].context_window, 2048);
  // Google APIs leave out empty lists.
  models = parse_models_response(WireFormat::gemini, "{}");
  ASSERT_TRUE(models.has_value());
  EXPECT_TRUE(models->empty());
}

TEST(ModelsResponse, NotAListing) {
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::anthropic_messages, WireFormat::gemini}) {
    EXPECT_FALSE(parse_models_response(f, "").has_value());
    EXPECT_FALSE(parse_models_response(f, "<html>nope</html>").has_value());
    EXPECT_FALSE(parse_models_response(f, "[1,2]").has_value());
    EXPECT_FALSE(parse_models_response(f, R"({"error":{"message":"bad key"}})").has_value())
        << to_string(f);
  }
  // Each format's listing is not the other's.
  EXPECT_FALSE(parse_models_response(WireFormat::openai_chat, test::read_fixture("api/gemini-models.json"))
                   .has_value());
  EXPECT_FALSE(parse_models_response(WireFormat::gemini, test::read_fixture("api/openai-models.json"))
                   .has_value());
  EXPECT_FALSE(parse_models_response(WireFormat::openai_chat, R"({"data":{"id":"x"}})").has_value());
  EXPECT_FALSE(parse_models_response(WireFormat::gemini, R"({"models":"x"})").has_value());
}

}  // namespace
}  // namespace drover::api
