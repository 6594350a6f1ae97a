#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

Selector sel(std::string path, std::string where_path = "",
             std::optional<nlohmann::json> where_equals = std::nullopt) {
  return Selector{std::move(path), std::move(where_path), std::move(where_equals)};
}

ParserSpec claude_json_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = sel("result", "is_error", false);
  spec.error = sel("result", "is_error", true);
  spec.usage = sel("");
  spec.session_id = sel("session_id");
  spec.stop_reason = sel("stop_reason");
  return spec;
}

ParserSpec json_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  return spec;
}

parsers::ParsedOutput parse(const ParserSpec& spec, std::string_view input) {
  FeedResult r;
  EXPECT_TRUE(same_for_every_split(spec, input, &r));
  return r.output;
}

TEST(JsonParser, ClaudeResult) {
  const auto out = parse(claude_json_spec(), read_fixture("parsers/claude-json-success.json"));
  EXPECT_TRUE(out.structured);
  EXPECT_EQ(out.text, "2 + 2 = 4.\n\n\xc3\x9c" "ber-check: \xe2\x9c\x93");
  ASSERT_TRUE(out.usage);
  EXPECT_EQ(out.usage->input_tokens, 10);
  EXPECT_EQ(out.usage->output_tokens, 5);
  EXPECT_EQ(out.usage->calls, 1);
  EXPECT_DOUBLE_EQ(out.usage->cost_usd.value_or(-1), 0.000105);
  EXPECT_EQ(out.session_id, "2fb1c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
  EXPECT_EQ(out.stop_reason, "end_turn");
  EXPECT_FALSE(out.error);
  EXPECT_TRUE(out.warnings.empty());
}

TEST(JsonParser, ClaudeApiErrorIsUnwrapped) {
  const auto out = parse(claude_json_spec(), read_fixture("parsers/claude-json-api-error.json"));
  EXPECT_EQ(out.error, "API Error: 529 Overloaded");
  EXPECT_EQ(out.text, "");
  EXPECT_FALSE(out.stop_reason);  // null in the payload
}

TEST(JsonParser, WholeTextIsOneDeltaAtFinish) {
  auto parser = parsers::make_parser(claude_json_spec());
  std::vector<Event> deltas;
  parser->feed(R"({"result":"line one\nline two","is_error":false})", deltas);
  EXPECT_TRUE(deltas.empty());
  const auto out = parser->finish(deltas);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].text, "line one\nline two");
  EXPECT_EQ(out.text, deltas[0].text);
}

TEST(JsonParser, WarningLineBeforeTheObjectIsSkipped) {
  const auto out = parse(claude_json_spec(), "Warning: config file is old\n{\"result\":\"ok\",\"is_error\":false}\n");
  EXPECT_TRUE(out.structured);
  EXPECT_EQ(out.text, "ok");
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0],
            "stdout had non-JSON text before the JSON object; skipped: Warning: config file is old");
}

TEST(JsonParser, PrettyPrintedObjectAfterNoise) {
  const auto out = parse(claude_json_spec(), "noise\n{\n  \"result\": \"pretty\",\n  \"is_error\": false\n}\n");
  EXPECT_EQ(out.text, "pretty");
  EXPECT_EQ(out.warnings.size(), 1u);
}

TEST(JsonParser, NotJson) {
  const auto out = parse(claude_json_spec(), "Error: \x1b[31mnot logged in\x1b[0m\nRun claude login.\n");
  EXPECT_FALSE(out.structured);
  EXPECT_EQ(out.error, "stdout is not JSON: Error: not logged in Run claude login.");
  EXPECT_EQ(out.text, "");
  EXPECT_FALSE(out.usage);
}

TEST(JsonParser, NotJsonMessageIsCutAt200Characters) {
  const std::string long_text(500, 'x');
  const auto out = parse(json_spec(), long_text);
  EXPECT_EQ(out.error, "stdout is not JSON: " + std::string(200, 'x') + "\xe2\x80\xa6");
}

TEST(JsonParser, EmptyAndScalarOutputsAreNotJson) {
  EXPECT_EQ(parse(json_spec(), "").error, "stdout is not JSON: (empty)");
  EXPECT_EQ(parse(json_spec(), "42\n").error, "stdout is not JSON: 42");
  EXPECT_EQ(parse(json_spec(), "\"just a string\"").error, "stdout is not JSON: \"just a string\"");
}

TEST(JsonParser, TruncatedObjectIsNotJson) {
  const auto out = parse(json_spec(), R"({"result":"cut off)");
  EXPECT_FALSE(out.structured);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->rfind("stdout is not JSON: ", 0), 0u);
}

TEST(JsonParser, TextValueShapes) {
  ParserSpec spec = json_spec();
  spec.text = sel("content");
  EXPECT_EQ(parse(spec, R"({"content":["a","b"]})").text, "ab");
  EXPECT_EQ(parse(spec, R"({"content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"x"},
    {"type":"tool_use","name":"Bash"},{"type":"output_text","text":"y"},{"text":"z"}]})").text, "xyz");
  EXPECT_EQ(parse(spec, R"({"content":42})").text, "42");
  EXPECT_EQ(parse(spec, R"({"content":true})").text, "true");
  EXPECT_EQ(parse(spec, R"({"content":{"text":"obj"}})").text, "obj");
  EXPECT_EQ(parse(spec, R"({"content":null})").text, "");
  EXPECT_EQ(parse(spec, R"({"other":1})").text, "");
}

TEST(JsonParser, ErrorSelectorIgnoresEmptyValues) {
  ParserSpec spec = json_spec();
  spec.error = sel("error");
  for (const char* doc : {R"({"error":null})", R"({"error":false})", R"({"error":""})",
                          R"({"error":{}})", R"({})"})
    EXPECT_FALSE(parse(spec, doc).error) << doc;
  EXPECT_EQ(parse(spec, R"({"error":{"message":"boom"}})").error, "boom");
}

TEST(JsonParser, WhereGateWithoutEqualsNeedsATruthyValue) {
  ParserSpec spec = json_spec();
  spec.error = sel("result", "is_error");
  EXPECT_EQ(parse(spec, R"({"is_error":true,"result":"bad"})").error, "bad");
  EXPECT_FALSE(parse(spec, R"({"is_error":false,"result":"fine"})").error);
  EXPECT_FALSE(parse(spec, R"({"result":"fine"})").error);
}

TEST(JsonParser, IdentifiersFromNumbersAndEmptyStrings) {
  ParserSpec spec = json_spec();
  spec.session_id = sel("id");
  spec.model = sel("model");
  const auto out = parse(spec, R"({"id":12345,"model":""})");
  EXPECT_EQ(out.session_id, "12345");
  EXPECT_FALSE(out.model);
}

TEST(JsonParser, MalformedSelectorPathIsReportedNotFatal) {
  ParserSpec spec = json_spec();
  spec.text = sel("result[");
  const auto out = parse(spec, R"({"result":"x"})");
  EXPECT_EQ(out.text, "");
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("malformed path"), std::string::npos);
}

TEST(JsonParser, InvalidUtf8NeverThrows) {
  const auto out = parse(claude_json_spec(), "\xff\xfe{\"result\":\"caf\xe9\"}");
  EXPECT_FALSE(out.structured);
  ASSERT_TRUE(out.error);
  EXPECT_NO_THROW((void)nlohmann::json(*out.error).dump());
}

}  // namespace
}  // namespace drover::test
