#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"

namespace drover::test {
namespace {

Selector jsonl_sel(std::string path, std::string where_path = "",
             std::optional<nlohmann::json> where_equals = std::nullopt) {
  return Selector{std::move(path), std::move(where_path), std::move(where_equals)};
}

ParserSpec codex_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = jsonl_sel("item.text", "item.type", "agent_message");
  spec.usage = jsonl_sel("usage", "type", "turn.completed");
  spec.error = jsonl_sel("error", "type", "turn.failed");
  spec.session_id = jsonl_sel("thread_id");
  return spec;
}

parsers::ParsedOutput parse_jsonl(const ParserSpec& spec, std::string_view input) {
  FeedResult r;
  EXPECT_TRUE(same_for_every_split(spec, input, &r));
  return r.output;
}

TEST(JsonlParser, TextOfMatchingLinesIsConcatenatedInOrder) {
  const auto out = parse_jsonl(codex_spec(),
                         "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"One. \"}}\n"
                         "{\"type\":\"item.completed\",\"item\":{\"type\":\"reasoning\",\"text\":\"hidden\"}}\n"
                         "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"Two.\"}}\n");
  EXPECT_EQ(out.text, "One. Two.");
  EXPECT_TRUE(out.structured);
}

TEST(JsonlParser, EachMatchingLineIsADeltaWhenItCompletes) {
  auto parser = parsers::make_parser(codex_spec());
  std::vector<Event> deltas;
  parser->feed(R"({"type":"item.completed","item":{"type":"agent_message","text":"Hel)", deltas);
  EXPECT_TRUE(deltas.empty());
  parser->feed("lo\"}}\n{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"!\"}}", deltas);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].text, "Hello");
  const auto out = parser->finish(deltas);  // the unterminated last line counts
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[1].text, "!");
  EXPECT_EQ(out.text, "Hello!");
}

TEST(JsonlParser, UsageIsSummedAndCallsCounted) {
  const auto out = parse_jsonl(codex_spec(),
                         "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":10,\"output_tokens\":2,\"cached_input_tokens\":4}}\n"
                         "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":20,\"output_tokens\":3}}\n"
                         "{\"type\":\"turn.completed\",\"usage\":{\"service_tier\":\"x\"}}\n");
  ASSERT_TRUE(out.usage);
  EXPECT_EQ(out.usage->input_tokens, 30);
  EXPECT_EQ(out.usage->output_tokens, 5);
  EXPECT_EQ(out.usage->total_tokens, 35);
  EXPECT_EQ(out.usage->cache_read_tokens, 4);
  EXPECT_EQ(out.usage->calls, 2) << "a report without counts is not a call";
}

TEST(JsonlParser, StatedCallCountIsSummedInsteadOfReports) {
  const auto out = parse_jsonl(codex_spec(),
                         "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1,\"calls\":3}}\n"
                         "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1}}\n");
  ASSERT_TRUE(out.usage);
  EXPECT_EQ(out.usage->calls, 4);
}

TEST(JsonlParser, NoUsageReportedMeansNoUsage) {
  EXPECT_FALSE(parse_jsonl(codex_spec(), "{\"type\":\"turn.started\"}\n").usage);
}

TEST(JsonlParser, LastNonEmptyIdentifierWins) {
  const auto out = parse_jsonl(codex_spec(),
                         "{\"thread_id\":\"first\"}\n{\"thread_id\":\"\"}\n{\"thread_id\":\"second\"}\n"
                         "{\"thread_id\":null}\n{\"other\":1}\n");
  EXPECT_EQ(out.session_id, "second");
}

TEST(JsonlParser, LastErrorWins) {
  const auto out = parse_jsonl(codex_spec(),
                         "{\"type\":\"turn.failed\",\"error\":{\"message\":\"first\"}}\n"
                         "{\"type\":\"turn.failed\",\"error\":{\"message\":\"stream error: {\\\"error\\\":{\\\"message\\\":\\\"reset\\\"}}\"}}\n"
                         "{\"type\":\"turn.failed\",\"error\":null}\n");
  EXPECT_EQ(out.error, "stream error: reset");
}

TEST(JsonlParser, CrLfAndBlankLinesAreTolerated) {
  const auto out = parse_jsonl(codex_spec(),
                         "\r\n\n{\"thread_id\":\"t\"}\r\n   \n\t\r\n"
                         "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"x\"}}\r\n");
  EXPECT_EQ(out.session_id, "t");
  EXPECT_EQ(out.text, "x");
  EXPECT_TRUE(out.warnings.empty());
}

TEST(JsonlParser, NonJsonLinesAreSkippedWithNumberedWarnings) {
  const auto out = parse_jsonl(codex_spec(), "\nnot json\n{\"thread_id\":\"t\"}\n{\"broken\":\n");
  EXPECT_EQ(out.session_id, "t");
  ASSERT_EQ(out.warnings.size(), 2u);
  EXPECT_EQ(out.warnings[0], "stdout line 2 is not JSON; skipped: not json");
  EXPECT_EQ(out.warnings[1], "stdout line 4 is not JSON; skipped: {\"broken\":");
}

TEST(JsonlParser, AtMostFiveLineWarningsThenASummary) {
  std::string input;
  for (int i = 1; i <= 12; ++i) input += "garbage " + std::to_string(i) + "\n";
  input += "{\"thread_id\":\"t\"}\n";
  const auto out = parse_jsonl(codex_spec(), input);
  ASSERT_EQ(out.warnings.size(), 6u);
  EXPECT_EQ(out.warnings[4], "stdout line 5 is not JSON; skipped: garbage 5");
  EXPECT_EQ(out.warnings[5], "skipped 7 more non-JSON stdout lines (12 in all)");
  EXPECT_TRUE(out.structured);
}

TEST(JsonlParser, WarningExcerptIsShortAndValidUtf8) {
  const std::string line = "\xff" + std::string(200, 'y');
  const auto out = parse_jsonl(codex_spec(), line + "\n");
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0], "stdout line 1 is not JSON; skipped: \xef\xbf\xbd" + std::string(79, 'y') +
                                 "\xe2\x80\xa6");
  EXPECT_FALSE(out.structured);
}

TEST(JsonlParser, OnlyGarbageIsNotStructuredAndNotAnError) {
  const auto out = parse_jsonl(codex_spec(), "Segmentation fault\n");
  EXPECT_FALSE(out.structured);
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.text, "");
}

TEST(JsonlParser, BareScalarLinesAreNotEvents) {
  const auto out = parse_jsonl(codex_spec(), "4\ntrue\n\"text\"\n");
  EXPECT_FALSE(out.structured) << "a plain-text answer must not pass for structured output";
  EXPECT_EQ(out.warnings.size(), 3u);
}

TEST(JsonlParser, FinalLineWithoutNewlineIsProcessedAtFinish) {
  const auto out = parse_jsonl(codex_spec(), "{\"thread_id\":\"a\"}\n{\"thread_id\":\"b\"}");
  EXPECT_EQ(out.session_id, "b");
}

TEST(JsonlParser, HugeCountsNeverOverflow) {
  std::string input;
  const std::string report =
      "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":9007199254740991}}\n";
  for (int i = 0; i < 2000; ++i) input += report;
  auto parser = parsers::make_parser(codex_spec());
  std::vector<Event> deltas;
  parser->feed(input, deltas);
  const auto out = parser->finish(deltas);
  ASSERT_TRUE(out.usage);
  EXPECT_GT(*out.usage->input_tokens, 0);
  EXPECT_FALSE(out.warnings.empty());
}

TEST(JsonlParser, WhereEqualsComparesNumbersAndStrings) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = jsonl_sel("t", "n", 2);
  EXPECT_EQ(parse_jsonl(spec, "{\"n\":1,\"t\":\"a\"}\n{\"n\":2,\"t\":\"b\"}\n{\"n\":\"2\",\"t\":\"c\"}\n").text, "b");
}

}  // namespace
}  // namespace drover::test
