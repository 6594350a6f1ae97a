#include <gtest/gtest.h>

#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

Usage must_normalize(const char* text) {
  auto usage = normalize_usage(json::parse(text));
  EXPECT_TRUE(usage.has_value()) << text;
  return usage.value_or(Usage{});
}

struct Spelling {
  const char* payload;
  std::optional<int64_t> Usage::*field;
  int64_t value;
};

class UsageSpelling : public ::testing::TestWithParam<Spelling> {};

TEST_P(UsageSpelling, IsRecognized) {
  const Spelling& s = GetParam();
  const Usage usage = must_normalize(s.payload);
  EXPECT_EQ(usage.*(s.field), s.value) << s.payload;
}

INSTANTIATE_TEST_SUITE_P(
    Input, UsageSpelling,
    ::testing::Values(Spelling{R"({"input_tokens": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"prompt_tokens": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"inputTokens": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"promptTokenCount": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"input": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"promptTokens": 7})", &Usage::input_tokens, 7},
                      Spelling{R"({"prompt": 7})", &Usage::input_tokens, 7}));
INSTANTIATE_TEST_SUITE_P(
    Output, UsageSpelling,
    ::testing::Values(Spelling{R"({"output_tokens": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"completion_tokens": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"outputTokens": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"candidatesTokenCount": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"output": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"completionTokens": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"completion": 8})", &Usage::output_tokens, 8},
                      Spelling{R"({"candidates": 8})", &Usage::output_tokens, 8}));
INSTANTIATE_TEST_SUITE_P(
    Total, UsageSpelling,
    ::testing::Values(Spelling{R"({"total_tokens": 9})", &Usage::total_tokens, 9},
                      Spelling{R"({"totalTokens": 9})", &Usage::total_tokens, 9},
                      Spelling{R"({"totalTokenCount": 9})", &Usage::total_tokens, 9},
                      Spelling{R"({"tokens": {"total": 9}})", &Usage::total_tokens, 9},
                      Spelling{R"({"total": 9})", &Usage::total_tokens, 9}));
INSTANTIATE_TEST_SUITE_P(
    CacheRead, UsageSpelling,
    ::testing::Values(
        Spelling{R"({"cache_read_input_tokens": 3})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"cached_input_tokens": 3})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"cacheRead": 3})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"cachedContentTokenCount": 3})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"prompt_tokens_details": {"cached_tokens": 3}})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"input_tokens_details": {"cached_tokens": 3}})", &Usage::cache_read_tokens, 3},
        Spelling{R"({"cache": {"read": 3}})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cached": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cached_tokens": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cachedTokens": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cache_read_tokens": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cacheReadTokens": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cacheReadInputTokens": 3})", &Usage::cache_read_tokens, 3},
                      Spelling{R"({"cachedInputTokens": 3})", &Usage::cache_read_tokens, 3}));
INSTANTIATE_TEST_SUITE_P(
    CacheWrite, UsageSpelling,
    ::testing::Values(
        Spelling{R"({"cache_creation_input_tokens": 4})", &Usage::cache_write_tokens, 4},
        Spelling{R"({"cacheWrite": 4})", &Usage::cache_write_tokens, 4},
        Spelling{R"({"cache": {"write": 4}})", &Usage::cache_write_tokens, 4},
                      Spelling{R"({"cache_write_tokens": 4})", &Usage::cache_write_tokens, 4},
                      Spelling{R"({"cache_creation_tokens": 4})", &Usage::cache_write_tokens, 4},
                      Spelling{R"({"cacheCreationInputTokens": 4})", &Usage::cache_write_tokens, 4},
                      Spelling{R"({"cacheWriteTokens": 4})", &Usage::cache_write_tokens, 4},
                      Spelling{R"({"cacheCreationTokens": 4})", &Usage::cache_write_tokens, 4}));
INSTANTIATE_TEST_SUITE_P(
    Reasoning, UsageSpelling,
    ::testing::Values(
        Spelling{R"({"reasoning_tokens": 5})", &Usage::reasoning_tokens, 5},
        Spelling{R"({"reasoning_output_tokens": 5})", &Usage::reasoning_tokens, 5},
        Spelling{R"({"reasoning": 5})", &Usage::reasoning_tokens, 5},
        Spelling{R"({"thoughtsTokenCount": 5})", &Usage::reasoning_tokens, 5},
        Spelling{R"({"completion_tokens_details": {"reasoning_tokens": 5}})", &Usage::reasoning_tokens, 5},
        Spelling{R"({"output_tokens_details": {"reasoning_tokens": 5}})", &Usage::reasoning_tokens, 5},
                      Spelling{R"({"reasoningTokens": 5})", &Usage::reasoning_tokens, 5},
                      Spelling{R"({"thoughts": 5})", &Usage::reasoning_tokens, 5},
                      Spelling{R"({"thoughts_tokens": 5})", &Usage::reasoning_tokens, 5},
                      Spelling{R"({"thoughtsTokens": 5})", &Usage::reasoning_tokens, 5}));

class CostSpelling : public ::testing::TestWithParam<const char*> {};

TEST_P(CostSpelling, IsRecognized) {
  const Usage usage = must_normalize(GetParam());
  ASSERT_TRUE(usage.cost_usd.has_value()) << GetParam();
  EXPECT_DOUBLE_EQ(*usage.cost_usd, 0.25) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Cost, CostSpelling,
                         ::testing::Values(R"({"cost": 0.25})", R"({"cost": {"total": 0.25}})",
                                           R"({"cost_usd": 0.25})", R"({"costUsd": 0.25})",
                                           R"({"total_cost_usd": 0.25})", R"({"total_cost": 0.25})"));

TEST(NormalizeUsage, ClaudeResultObjectCombinesUsageChildAndTopLevelCost) {
  const Usage u = must_normalize(R"({"type":"result","total_cost_usd":0.000105,"num_turns":1,
    "usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,
             "output_tokens":5,"service_tier":"standard"}})");
  EXPECT_EQ(u.input_tokens, 10);
  EXPECT_EQ(u.output_tokens, 5);
  EXPECT_EQ(u.total_tokens, 15);
  EXPECT_EQ(u.cache_read_tokens, 3);
  EXPECT_EQ(u.cache_write_tokens, 2);
  EXPECT_FALSE(u.reasoning_tokens);
  EXPECT_DOUBLE_EQ(u.cost_usd.value_or(-1), 0.000105);
  EXPECT_EQ(u.calls, 0);  // unknown: the parsers count reports
}

TEST(NormalizeUsage, OpencodePartReadsTokensChild) {
  const Usage u = must_normalize(R"({"type":"step-finish","reason":"stop","cost":0.5,
    "tokens":{"total":20,"input":10,"output":6,"reasoning":4,"cache":{"read":1,"write":2}}})");
  EXPECT_EQ(u.input_tokens, 10);
  EXPECT_EQ(u.output_tokens, 6);
  EXPECT_EQ(u.total_tokens, 20);  // reported, not recomputed
  EXPECT_EQ(u.reasoning_tokens, 4);
  EXPECT_EQ(u.cache_read_tokens, 1);
  EXPECT_EQ(u.cache_write_tokens, 2);
  EXPECT_DOUBLE_EQ(u.cost_usd.value_or(-1), 0.5);
}

TEST(NormalizeUsage, GeminiUsageMetadataChild) {
  const Usage u = must_normalize(R"({"usageMetadata":{"promptTokenCount":11,
    "candidatesTokenCount":4,"totalTokenCount":19,"thoughtsTokenCount":4,"cachedContentTokenCount":2}})");
  EXPECT_EQ(u.input_tokens, 11);
  EXPECT_EQ(u.output_tokens, 4);
  EXPECT_EQ(u.total_tokens, 19);
  EXPECT_EQ(u.reasoning_tokens, 4);
  EXPECT_EQ(u.cache_read_tokens, 2);
}

TEST(NormalizeUsage, GeminiCliModelTokens) {
  // gemini --output-format json: stats.models.<model>.tokens.
  const Usage u = must_normalize(R"({"input":3407,"prompt":3407,"candidates":5,"total":3412,
                                     "cached":7,"thoughts":2,"tool":0})");
  EXPECT_EQ(u.input_tokens, 3407);
  EXPECT_EQ(u.output_tokens, 5);
  EXPECT_EQ(u.total_tokens, 3412);
  EXPECT_EQ(u.cache_read_tokens, 7);
  EXPECT_EQ(u.reasoning_tokens, 2);
  EXPECT_FALSE(u.cache_write_tokens.has_value());
}

TEST(NormalizeUsage, GeminiCliStreamStats) {
  // gemini --output-format stream-json: the result line's stats.
  const Usage u = must_normalize(R"({"total_tokens":3412,"input_tokens":3407,"output_tokens":5,
                                     "cached":11,"input":3407,"duration_ms":588,"tool_calls":0})");
  EXPECT_EQ(u.input_tokens, 3407);
  EXPECT_EQ(u.output_tokens, 5);
  EXPECT_EQ(u.cache_read_tokens, 11);
  EXPECT_FALSE(u.reasoning_tokens.has_value());
}

TEST(NormalizeUsage, PreferredSpellingWinsOverALaterOne) {
  const Usage u = must_normalize(R"({"input_tokens":1,"prompt":2,"output_tokens":3,"candidates":4,
                                     "cache_read_input_tokens":5,"cached":6})");
  EXPECT_EQ(u.input_tokens, 1);
  EXPECT_EQ(u.output_tokens, 3);
  EXPECT_EQ(u.cache_read_tokens, 5);
}

TEST(NormalizeUsage, ABooleanCachedIsNotACount) {
  EXPECT_FALSE(normalize_usage(json::parse(R"({"cached": true})")).has_value());
}

TEST(NormalizeUsage, TotalIsComputedOnlyFromBothHalves) {
  EXPECT_EQ(must_normalize(R"({"input_tokens":3,"output_tokens":4})").total_tokens, 7);
  EXPECT_FALSE(must_normalize(R"({"input_tokens":3})").total_tokens);
  EXPECT_FALSE(must_normalize(R"({"output_tokens":4})").total_tokens);
  EXPECT_FALSE(must_normalize(R"({"cost":0.1})").total_tokens);
}

TEST(NormalizeUsage, NeverInventsFields) {
  const Usage u = must_normalize(R"({"output_tokens":4})");
  EXPECT_FALSE(u.input_tokens);
  EXPECT_FALSE(u.cache_read_tokens);
  EXPECT_FALSE(u.cache_write_tokens);
  EXPECT_FALSE(u.reasoning_tokens);
  EXPECT_FALSE(u.cost_usd);
}

TEST(NormalizeUsage, StatedCallCountIsKept) {
  EXPECT_EQ(must_normalize(R"({"input_tokens":1,"calls":3})").calls, 3);
  EXPECT_EQ(must_normalize(R"({"input_tokens":1,"requests":2})").calls, 2);
}

TEST(NormalizeUsage, NothingRecognizableIsNullopt) {
  for (const char* payload : {R"({})", R"({"service_tier":"standard"})", R"({"calls":2})", "null",
                              "42", R"("10 tokens")", R"([{"input_tokens":1}])"})
    EXPECT_FALSE(normalize_usage(json::parse(payload))) << payload;
}

TEST(NormalizeUsage, GarbageValuesAreIgnored) {
  for (const char* payload :
       {R"({"input_tokens":"10"})", R"({"input_tokens":-1})", R"({"input_tokens":1.5})",
        R"({"input_tokens":10.0})", R"({"input_tokens":null})", R"({"input_tokens":[1]})",
        R"({"input_tokens":{"n":1}})", R"({"input_tokens":true})",
        R"({"input_tokens":18446744073709551615})", R"({"input_tokens":9007199254740992})",
        R"({"cost":-0.5})", R"({"cost":"0.5"})", R"({"cost":{"total":"x"}})"})
    EXPECT_FALSE(normalize_usage(json::parse(payload))) << payload;
}

TEST(NormalizeUsage, GarbageInOneSpellingFallsThroughToTheNext) {
  EXPECT_EQ(must_normalize(R"({"input_tokens":"x","prompt_tokens":12})").input_tokens, 12);
}

}  // namespace
}  // namespace drover::parsers
