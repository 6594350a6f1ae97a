// HTTP error mapping, retry hints and response_format rejections, on each provider's error shape.
#include <chrono>
#include <ctime>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/api/wire.h"
#include "src/api/wire_common.h"
#include "support/fixtures.h"

namespace drover::api {
namespace {

using nlohmann::json;

std::string fixture(const std::string& name) {
  std::string body = test::read_fixture("api/" + name);
  EXPECT_FALSE(body.empty()) << name;
  return body;
}

Error map(WireFormat format, int status, const std::string& body,
          std::optional<std::string> retry_after = std::nullopt,
          std::optional<std::string> retry_after_ms = std::nullopt) {
  return map_http_error(format, status, body, retry_after, retry_after_ms);
}

struct Expected {
  const char* fixture;
  WireFormat format;
  int status;
  ErrorCode code;
  const char* message;
};

TEST(MapHttpError, ProviderErrorBodies) {
  const Expected cases[] = {
      {"openai-error-429-rate-limit.json", WireFormat::openai_chat, 429, ErrorCode::rate_limit,
       "HTTP 429: Rate limit reached for gpt-4o in organization org-3kQ1vZp8XyR2mN7bT5wL on tokens per "
       "min (TPM): Limit 30000, Used 28712, Requested 2455. Please try again in 2.334s. Visit "
       "https://platform.openai.com/account/rate-limits to learn more."},
      {"openai-error-429-quota.json", WireFormat::openai_chat, 429, ErrorCode::quota_exhausted,
       "HTTP 429: You exceeded your current quota, please check your plan and billing details. For "
       "more information on this error, read the docs: "
       "https://platform.openai.com/docs/guides/error-codes/api-errors."},
      {"openai-error-400-context.json", WireFormat::openai_chat, 400, ErrorCode::context_overflow,
       "HTTP 400: This model's maximum context length is 128000 tokens. However, your messages "
       "resulted in 131822 tokens. Please reduce the length of the messages."},
      {"openai-error-401.json", WireFormat::openai_responses, 401, ErrorCode::auth_error,
       "HTTP 401: Incorrect API key provided: sk-proj-********************************************wxyz. "
       "You can find your API key at https://platform.openai.com/account/api-keys."},
      {"openai-error-400-max-tokens.json", WireFormat::openai_chat, 400, ErrorCode::validation_error,
       "HTTP 400: Unsupported parameter: 'max_tokens' is not supported with this model. Use "
       "'max_completion_tokens' instead."},
      {"openai-error-500.json", WireFormat::openai_chat, 500, ErrorCode::temporary_unavailable,
       "HTTP 500: The server had an error while processing your request. Sorry about that!"},
      {"openai-compatible-error-502-stringified.json", WireFormat::openai_chat, 502,
       ErrorCode::temporary_unavailable, "HTTP 502: Overloaded"},
      {"anthropic-error-529.json", WireFormat::anthropic_messages, 529,
       ErrorCode::temporary_unavailable, "HTTP 529: Overloaded"},
      {"anthropic-error-400-context.json", WireFormat::anthropic_messages, 400,
       ErrorCode::context_overflow, "HTTP 400: prompt is too long: 208651 tokens > 200000 maximum"},
      {"anthropic-error-400-credit.json", WireFormat::anthropic_messages, 400,
       ErrorCode::quota_exhausted,
       "HTTP 400: Your credit balance is too low to access the Anthropic API. Please go to Plans & "
       "Billing to upgrade or purchase credits."},
      {"anthropic-error-401.json", WireFormat::anthropic_messages, 401, ErrorCode::auth_error,
       "HTTP 401: invalid x-api-key"},
      {"anthropic-error-403.json", WireFormat::anthropic_messages, 403, ErrorCode::auth_error,
       "HTTP 403: Your API key does not have permission to use the specified resource."},
      {"anthropic-error-404.json", WireFormat::anthropic_messages, 404, ErrorCode::validation_error,
       "HTTP 404: model: claude-sonnet-9"},
      {"gemini-error-400-api-key.json", WireFormat::gemini, 400, ErrorCode::auth_error,
       "HTTP 400: API key not valid. Please pass a valid API key."},
      {"gemini-error-400-context.json", WireFormat::gemini, 400, ErrorCode::context_overflow,
       "HTTP 400: The input token count (1290523) exceeds the maximum number of tokens allowed "
       "(1048576)."},
      {"gemini-error-400-invalid-argument.json", WireFormat::gemini, 400, ErrorCode::validation_error,
       "HTTP 400: * GenerateContentRequest.contents: contents is not specified"},
      {"gemini-error-403.json", WireFormat::gemini, 403, ErrorCode::auth_error,
       "HTTP 403: Your API key was reported as leaked. Please use another API key."},
      {"gemini-error-503.json", WireFormat::gemini, 503, ErrorCode::temporary_unavailable,
       "HTTP 503: The model is overloaded. Please try again later."},
      {"gemini-error-500-array.json", WireFormat::gemini, 500, ErrorCode::temporary_unavailable,
       "HTTP 500: An internal error has occurred. Please retry or report in "
       "https://developers.generativeai.google/guide/troubleshooting"},
      {"gemini-error-429-exhausted.json", WireFormat::gemini, 429, ErrorCode::rate_limit,
       "HTTP 429: Resource has been exhausted (e.g. check quota)."},
  };
  for (const Expected& c : cases) {
    const Error e = map(c.format, c.status, fixture(c.fixture));
    EXPECT_EQ(to_string(e.code), to_string(c.code)) << c.fixture;
    EXPECT_EQ(e.message, c.message) << c.fixture;
    EXPECT_EQ(e.retryable, default_retryable(c.code)) << c.fixture;
    EXPECT_FALSE(e.retry_after_ms.has_value()) << c.fixture;
  }
}

TEST(MapHttpError, GeminiPerMinuteQuotaIsARateLimitWithRetryDelay) {
  const Error e = map(WireFormat::gemini, 429, fixture("gemini-error-429-per-minute.json"));
  EXPECT_EQ(e.code, ErrorCode::rate_limit);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.retry_after_ms, 29000);
  EXPECT_EQ(e.message.rfind("HTTP 429: You exceeded your current quota", 0), 0u) << e.message;
}

TEST(MapHttpError, GeminiPerDayQuotaIsExhausted) {
  const Error e = map(WireFormat::gemini, 429, fixture("gemini-error-429-per-day.json"));
  EXPECT_EQ(e.code, ErrorCode::quota_exhausted);
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.retry_after_ms, 25923000);  // still reported: the router may use it for cooldown
}

TEST(MapHttpError, StatusClassesWithoutABody) {
  struct Case {
    int status;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {400, ErrorCode::validation_error, "HTTP 400: Bad Request"},
      {401, ErrorCode::auth_error, "HTTP 401: Unauthorized"},
      {402, ErrorCode::quota_exhausted, "HTTP 402: Payment Required"},
      {403, ErrorCode::auth_error, "HTTP 403: Forbidden"},
      {404, ErrorCode::validation_error, "HTTP 404: Not Found"},
      {408, ErrorCode::temporary_unavailable, "HTTP 408: Request Timeout"},
      {413, ErrorCode::validation_error, "HTTP 413: Payload Too Large"},
      {418, ErrorCode::validation_error, "HTTP 418"},
      {429, ErrorCode::rate_limit, "HTTP 429: Too Many Requests"},
      {500, ErrorCode::temporary_unavailable, "HTTP 500: Internal Server Error"},
      {502, ErrorCode::temporary_unavailable, "HTTP 502: Bad Gateway"},
      {503, ErrorCode::temporary_unavailable, "HTTP 503: Service Unavailable"},
      {504, ErrorCode::temporary_unavailable, "HTTP 504: Gateway Timeout"},
      {529, ErrorCode::temporary_unavailable, "HTTP 529: Overloaded"},
      {599, ErrorCode::temporary_unavailable, "HTTP 599"},
      {301, ErrorCode::harness_error, "HTTP 301"},
  };
  for (const Case& c : cases) {
    for (WireFormat f : {WireFormat::openai_chat, WireFormat::anthropic_messages, WireFormat::gemini}) {
      const Error e = map(f, c.status, "");
      EXPECT_EQ(to_string(e.code), to_string(c.code)) << c.status;
      EXPECT_EQ(e.message, c.message) << c.status;
      EXPECT_EQ(e.retryable, default_retryable(c.code)) << c.status;
    }
  }
}

TEST(MapHttpError, NonJsonBodies) {
  Error e = map(WireFormat::openai_chat, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  EXPECT_EQ(e.message, "HTTP 502: Bad Gateway");
  EXPECT_EQ(e.code, ErrorCode::temporary_unavailable);
  e = map(WireFormat::openai_chat, 503, "upstream connect error or disconnect/reset before headers\n");
  EXPECT_EQ(e.message, "HTTP 503: upstream connect error or disconnect/reset before headers");
  e = map(WireFormat::openai_chat, 400, "bad \xFF request");
  EXPECT_EQ(e.message, "HTTP 400: bad \xEF\xBF\xBD request");
}

TEST(MapHttpError, WordingBeatsTheStatus) {
  // OpenAI-compatible gateways put quota and context wording on any status.
  Error e = map(WireFormat::openai_chat, 403,
                R"({"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}})");
  EXPECT_EQ(e.code, ErrorCode::quota_exhausted);
  e = map(WireFormat::openai_chat, 413,
          R"({"error":{"message":"Request exceeds the model's context window"}})");
  EXPECT_EQ(e.code, ErrorCode::context_overflow);
  e = map(WireFormat::anthropic_messages, 400,
          R"({"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again"}})");
  EXPECT_EQ(e.code, ErrorCode::context_overflow);
  e = map(WireFormat::openai_responses, 400,
          R"({"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}})");
  EXPECT_EQ(e.code, ErrorCode::context_overflow);
  // A 429 without quota wording stays a rate limit.
  e = map(WireFormat::anthropic_messages, 429, fixture("anthropic-error-429.json"));
  EXPECT_EQ(e.code, ErrorCode::rate_limit);
}

TEST(MapHttpError, RetryAfterSecondsAndMilliseconds) {
  const std::string body = fixture("anthropic-error-429.json");
  EXPECT_EQ(map(WireFormat::anthropic_messages, 429, body, "17").retry_after_ms, 17000);
  EXPECT_EQ(map(WireFormat::anthropic_messages, 429, body, " 0 ").retry_after_ms, 0);
  EXPECT_EQ(map(WireFormat::anthropic_messages, 429, body, "1.5").retry_after_ms, 1500);
  EXPECT_FALSE(map(WireFormat::anthropic_messages, 429, body, "soon").retry_after_ms.has_value());
  EXPECT_FALSE(map(WireFormat::anthropic_messages, 429, body, "-3").retry_after_ms.has_value());
  EXPECT_FALSE(map(WireFormat::anthropic_messages, 429, body, "").retry_after_ms.has_value());
  // retry-after-ms is the more precise hint and wins.
  EXPECT_EQ(map(WireFormat::openai_chat, 429, body, "10", "250").retry_after_ms, 250);
  EXPECT_EQ(map(WireFormat::openai_chat, 429, body, std::nullopt, "12.4").retry_after_ms, 12);
  EXPECT_EQ(map(WireFormat::openai_chat, 429, body, "3", "junk").retry_after_ms, 3000);
  // Also on a 503, and a header beats Gemini's body hint.
  EXPECT_EQ(map(WireFormat::openai_chat, 503, "", "30").retry_after_ms, 30000);
  EXPECT_EQ(map(WireFormat::gemini, 429, fixture("gemini-error-429-per-minute.json"), "5").retry_after_ms,
            5000);
}

std::string http_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

TEST(MapHttpError, RetryAfterHttpDateIsRelativeToNow) {
  const auto now = std::chrono::system_clock::now();
  const Error e = map(WireFormat::openai_chat, 429, "", http_date(now + std::chrono::seconds(120)));
  ASSERT_TRUE(e.retry_after_ms.has_value());
  EXPECT_GE(*e.retry_after_ms, 115000);
  EXPECT_LE(*e.retry_after_ms, 121000);
  // A date in the past means now.
  EXPECT_EQ(map(WireFormat::openai_chat, 429, "", "Sun, 06 Nov 1994 08:49:37 GMT").retry_after_ms, 0);
}

TEST(RetryHints, HttpDateForms) {
  constexpr int64_t kRfcExample = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(wire::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(wire::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(wire::parse_http_date("Sun Nov  6 08:49:37 1994"), kRfcExample);
  EXPECT_EQ(wire::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(wire::parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"), int64_t{1835481599} * 1000);
  for (const char* bad : {"", "tomorrow", "Sun, 06 Nov 1994", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "06 Nov 1994 08:49:37 GMT 12"})
    EXPECT_FALSE(wire::parse_http_date(bad).has_value()) << bad;
}

TEST(RetryHints, FixedClock) {
  constexpr int64_t now = 784111777000;
  const json none = nullptr;
  EXPECT_EQ(wire::retry_after_hint("Sun, 06 Nov 1994 08:50:07 GMT", std::nullopt, none, now), 30000);
  EXPECT_EQ(wire::retry_after_hint("Sun, 06 Nov 1994 08:49:00 GMT", std::nullopt, none, now), 0);
  EXPECT_FALSE(wire::retry_after_hint(std::nullopt, std::nullopt, none, now).has_value());
  const json gemini = json::parse(
      R"({"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]}})");
  EXPECT_EQ(wire::retry_after_hint(std::nullopt, std::nullopt, gemini, now), 1500);
  EXPECT_EQ(wire::parse_duration_ms("30s"), 30000);
  EXPECT_EQ(wire::parse_duration_ms("0.25s"), 250);
  EXPECT_FALSE(wire::parse_duration_ms("30").has_value());
  EXPECT_FALSE(wire::parse_duration_ms("s").has_value());
  EXPECT_FALSE(wire::parse_duration_ms("-1s").has_value());
}

TEST(MapHttpError, MessageHasOnlyTheProvidersWords) {
  // Whatever the body, the message is "HTTP <status>: " and the provider's unwrapped message.
  const Error e = map(WireFormat::openai_chat, 401, fixture("openai-error-401.json"), "1");
  EXPECT_EQ(e.message.find("Bearer"), std::string::npos);
  EXPECT_EQ(e.message.find("invalid_request_error"), std::string::npos);
  EXPECT_EQ(e.message.rfind("HTTP 401: Incorrect API key provided", 0), 0u);
}

// ---- rejects_response_format -------------------------------------------------------------------

TEST(RejectsResponseFormat, Positives) {
  for (const char* name : {"openai-error-400-response-format.json",
                           "openai-responses-error-400-text-format.json",
                           "openai-compatible-error-400-response-format.json",
                           "gemini-error-400-response-schema.json"})
    EXPECT_TRUE(rejects_response_format(400, fixture(name))) << name;
  EXPECT_TRUE(rejects_response_format(
      400, R"({"error":{"message":"Unknown parameter: 'text.format'.","param":"text.format"}})"));
  EXPECT_TRUE(rejects_response_format(
      400, R"({"error":{"message":"This model does not support structured outputs"}})"));
  EXPECT_TRUE(rejects_response_format(
      422, R"({"detail":"json_schema response format is not supported"})"));
  // The wording may sit in a stringified envelope.
  EXPECT_TRUE(rejects_response_format(
      400, R"({"error":{"message":"{\"error\":{\"message\":\"Invalid value for 'responseSchema'\"}}"}})"));
}

TEST(RejectsResponseFormat, Negatives) {
  const std::string format_body = fixture("openai-error-400-response-format.json");
  EXPECT_FALSE(rejects_response_format(429, format_body));
  EXPECT_FALSE(rejects_response_format(500, format_body));
  EXPECT_FALSE(rejects_response_format(401, format_body));
  for (const char* name : {"openai-error-400-context.json", "openai-error-400-max-tokens.json",
                           "anthropic-error-400-credit.json", "anthropic-error-400-context.json",
                           "gemini-error-400-invalid-argument.json", "gemini-error-400-api-key.json"})
    EXPECT_FALSE(rejects_response_format(400, fixture(name))) << name;
  EXPECT_FALSE(rejects_response_format(400, ""));
  EXPECT_FALSE(rejects_response_format(400, "<html>Bad Request</html>"));
}

TEST(MapHttpError, ABodyNestedTooDeeplyIsRefusedNamingTheLimit) {
  // {"error":[[[...]]]} 10^5 and 10^6 levels deep once crashed the client while it was unwrapped.
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    const std::string body = "{\"error\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
    for (WireFormat format : {WireFormat::openai_chat, WireFormat::anthropic_messages,
                              WireFormat::gemini, WireFormat::openai_responses}) {
      Error e = map(format, 500, body);
      EXPECT_EQ(e.message, "HTTP 500: the error body is JSON nested deeper than 512 levels");
    }
    DecodedResponse r = decode_response_body(WireFormat::openai_chat, body);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->message, "response body is JSON nested deeper than 512 levels");
  }
}

TEST(ErrorMessages, AreCutToFourKiBWithAMarker) {
  Error e = map(WireFormat::openai_chat, 400,
                "{\"error\":{\"message\":\"" + std::string(10u << 20, 'x') + "\"}}");
  EXPECT_LT(e.message.size(), 4200u);
  EXPECT_NE(e.message.find("more bytes cut]"), std::string::npos) << e.message.substr(4000);
  EXPECT_EQ(e.message.substr(0, 20), "HTTP 400: xxxxxxxxxx");
}

}  // namespace
}  // namespace drover::api
