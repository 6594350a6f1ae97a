// Selectors with `*` and `{model}`, and the warning and progress selectors of jsonl parsers:
// whole, split at every byte boundary and in fixed chunks (split_feed.h).
#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"

namespace drover::test {
namespace {

using nlohmann::json;

Selector notice_sel(std::string path, std::string where_path = "",
             std::optional<json> where_equals = std::nullopt) {
  return Selector{std::move(path), std::move(where_path), std::move(where_equals)};
}

ParserFactory factory(const ParserSpec& spec, std::optional<std::string> model) {
  return [spec, model] {
    ParserContext context;
    context.model = model;
    return parsers::make_parser(spec, parsers::kDefaultMaxOutputBytes, context);
  };
}

FeedResult parse_notices(const ParserSpec& spec, std::string_view input,
                 std::optional<std::string> model = std::nullopt) {
  FeedResult r;
  EXPECT_TRUE(same_for_every_split(factory(spec, model), input, &r));
  return r;
}

std::vector<const Event*> of_kind(const FeedResult& r, Event::Kind kind) {
  std::vector<const Event*> out;
  for (const Event& e : r.events)
    if (e.kind == kind) out.push_back(&e);
  return out;
}

// gemini --output-format json: usage only under stats.models.<model>.tokens.
const char* const kGeminiJson = R"({
  "session_id": "s-1",
  "response": "MOCK: hi",
  "stats": {"models": {
    "gemini-2.5-pro": {"tokens": {"input": 100, "prompt": 100, "candidates": 5, "total": 105,
                                  "cached": 7, "thoughts": 2, "tool": 0}},
    "gemini-2.5-flash": {"tokens": {"input": 40, "prompt": 40, "candidates": 1, "total": 41,
                                    "cached": 0, "thoughts": 0, "tool": 0}}
  }}
})";

ParserSpec gemini_json(std::string usage_path) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = notice_sel("response");
  spec.usage = notice_sel(std::move(usage_path));
  spec.session_id = notice_sel("session_id");
  return spec;
}

TEST(WildcardUsage, IsSummedOverEveryModel) {
  const FeedResult r = parse_notices(gemini_json("stats.models.*.tokens"), kGeminiJson);
  const auto& out = r.output;
  ASSERT_TRUE(out.usage) << show(describe(out));
  EXPECT_EQ(out.usage->input_tokens, 140);
  EXPECT_EQ(out.usage->output_tokens, 6);
  EXPECT_EQ(out.usage->total_tokens, 146);
  EXPECT_EQ(out.usage->cache_read_tokens, 7);
  EXPECT_EQ(out.usage->reasoning_tokens, 2);
  EXPECT_EQ(out.usage->calls, 2);  // one per model that reported
  EXPECT_EQ(out.text, "MOCK: hi");
  // One usage event; its raw is what each match was.
  const auto usage = of_kind(r, Event::Kind::usage);
  ASSERT_EQ(usage.size(), 1u);
  ASSERT_TRUE(usage[0]->raw.is_array());
  EXPECT_EQ(usage[0]->raw.size(), 2u);
}

TEST(WildcardUsage, ModelPlaceholderPicksTheRunsModel) {
  const FeedResult r =
      parse_notices(gemini_json("stats.models.{model}.tokens"), kGeminiJson, "gemini-2.5-pro");
  ASSERT_TRUE(r.output.usage);
  EXPECT_EQ(r.output.usage->input_tokens, 100);
  EXPECT_EQ(r.output.usage->output_tokens, 5);
  EXPECT_EQ(r.output.usage->calls, 1);
  const auto usage = of_kind(r, Event::Kind::usage);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_TRUE(usage[0]->raw.is_object());  // one match: the object itself
}

TEST(WildcardUsage, ModelPlaceholderWithoutAModelSelectsNoUsage) {
  const FeedResult r = parse_notices(gemini_json("stats.models.{model}.tokens"), kGeminiJson);
  EXPECT_FALSE(r.output.usage.has_value());
  EXPECT_EQ(r.output.text, "MOCK: hi");
  EXPECT_TRUE(r.output.warnings.empty());
}

TEST(WildcardUsage, NonNumericAndMissingFieldsAreNotSummed) {
  const FeedResult r = parse_notices(gemini_json("stats.models.*.tokens"),
                             R"({"response":"x","stats":{"models":{
                                 "a":{"tokens":{"input":3,"candidates":"lots"}},
                                 "b":{"tokens":{"input":4}},
                                 "c":{"tokens":{"note":"none"}},
                                 "d":"not an object"}}})");
  ASSERT_TRUE(r.output.usage);
  EXPECT_EQ(r.output.usage->input_tokens, 7);
  EXPECT_FALSE(r.output.usage->output_tokens.has_value());
  EXPECT_EQ(r.output.usage->calls, 2);  // c and d reported nothing
}

TEST(WildcardUsage, SumsThatWouldOverflowAreLeftOutWithAWarning) {
  const std::string big = std::to_string((std::int64_t{1} << 53) - 1);
  std::string doc = R"({"response":"x","m":{)";
  for (int i = 0; i < 1100; ++i)
    doc += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":{\"input\":" + big + "}";
  doc += "}}";
  const auto out = feed_whole(gemini_json("m.*"), doc).output;
  ASSERT_TRUE(out.usage);
  EXPECT_GT(*out.usage->input_tokens, 0);
  ASSERT_FALSE(out.warnings.empty());
  EXPECT_NE(out.warnings.back().find("too large to add up"), std::string::npos);
}

TEST(WildcardUsage, JsonlLinesSumTheirMatchesAndEachOther) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = notice_sel("content", "role", "assistant");
  spec.usage = notice_sel("stats.models.*", "type", "result");
  const FeedResult r = parse_notices(spec,
                             "{\"role\":\"assistant\",\"content\":\"ok\"}\n"
                             "{\"type\":\"result\",\"stats\":{\"models\":{\"a\":{\"input_tokens\":1},"
                             "\"b\":{\"input_tokens\":2}}}}\n"
                             "{\"type\":\"result\",\"stats\":{\"models\":{\"a\":{\"input_tokens\":4}}}}\n");
  ASSERT_TRUE(r.output.usage);
  EXPECT_EQ(r.output.usage->input_tokens, 7);
  EXPECT_EQ(r.output.usage->calls, 3);
  EXPECT_EQ(of_kind(r, Event::Kind::usage).size(), 2u);  // one per line
}

TEST(WildcardSelectors, TextAndIdsTakeTheFirstMatch) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = notice_sel("answers.*");
  spec.model = notice_sel("stats.models.*.name");
  const auto out = parse_notices(spec, R"({"answers":{"b":"second","a":"first"},
                                   "stats":{"models":{"z":{"name":"zm"},"y":{"name":"ym"}}}})")
                       .output;
  EXPECT_EQ(out.text, "first");  // key order
  EXPECT_EQ(out.model, "ym");
}

TEST(WildcardSelectors, AGateWithAStarPassesWhenAnyValueDoes) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = notice_sel("text", "flags[*]", "final");
  const auto out = parse_notices(spec,
                         "{\"flags\":[\"draft\"],\"text\":\"no \"}\n"
                         "{\"flags\":[\"x\",\"final\"],\"text\":\"yes\"}\n"
                         "{\"flags\":[],\"text\":\"empty\"}\n")
                       .output;
  EXPECT_EQ(out.text, "yes");
}

// A harness's JSONL with warning lines and retry notices (the shape of gemini's and pi's).
ParserSpec notices_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = notice_sel("content", "type", "message");
  spec.warning = notice_sel("message", "type", "warning");
  spec.progress = notice_sel("", "type", "retry");
  return spec;
}

const char* const kNotices =
    "{\"type\":\"warning\",\"message\":\"Ripgrep is not available. Falling back to GrepTool.\"}\n"
    "{\"type\":\"retry\",\"message\":\"Attempt 1 failed with status 429. Retrying in 30 s\","
    "\"attempt\":1}\n"
    "{\"type\":\"retry\",\"message\":\"Attempt 2 failed with status 429. Retrying in 60 s\","
    "\"attempt\":2}\n"
    "{\"type\":\"message\",\"content\":\"done\"}\n";

TEST(NoticeSelectors, WarningLinesBecomeWarningsAndEvents) {
  const FeedResult r = parse_notices(notices_spec(), kNotices);
  EXPECT_EQ(r.output.text, "done");
  EXPECT_EQ(r.output.warnings,
            std::vector<std::string>{"Ripgrep is not available. Falling back to GrepTool."});
  const auto warnings = of_kind(r, Event::Kind::warning);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0]->text, "Ripgrep is not available. Falling back to GrepTool.");
  EXPECT_EQ(to_json(*warnings[0]),
            json::parse(R"({"type":"warning","message":"Ripgrep is not available. Falling back to GrepTool."})"));
}

TEST(NoticeSelectors, ProgressLinesBecomeProgressEventsWithTheirLine) {
  const FeedResult r = parse_notices(notices_spec(), kNotices);
  const auto progress = of_kind(r, Event::Kind::progress);
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[0]->text, "Attempt 1 failed with status 429. Retrying in 30 s");
  EXPECT_EQ(progress[1]->raw.value("attempt", 0), 2);
  const json line = to_json(*progress[1]);
  EXPECT_EQ(line["type"], "progress");
  EXPECT_EQ(line["message"], "Attempt 2 failed with status 429. Retrying in 60 s");
  EXPECT_EQ(line["raw"]["type"], "retry");
  // Progress is never part of the answer nor a warning of the result.
  EXPECT_EQ(r.output.text, "done");
  EXPECT_EQ(r.output.warnings.size(), 1u);
}

TEST(NoticeSelectors, NoticeValuesAreOnePrintableBoundedLine) {
  ParserSpec spec = notices_spec();
  spec.warning = notice_sel("w", "type", "warning");
  const std::string long_text(2000, 'x');
  const FeedResult r = parse_notices(spec,
                             "{\"type\":\"warning\",\"w\":\"two\\nlines\\u001b[31m red\"}\n"
                             "{\"type\":\"warning\",\"w\":{\"message\":\"from an object\"}}\n"
                             "{\"type\":\"warning\",\"w\":{\"error\":{\"message\":\"nested\"}}}\n"
                             "{\"type\":\"warning\",\"w\":42}\n"
                             "{\"type\":\"warning\",\"w\":\"  \"}\n"
                             "{\"type\":\"warning\",\"w\":null}\n"
                             "{\"type\":\"warning\",\"w\":\"" + long_text + "\"}\n");
  const auto& w = r.output.warnings;
  ASSERT_EQ(w.size(), 5u) << show(describe(r.output));
  EXPECT_EQ(w[0], "two lines red");
  EXPECT_EQ(w[1], "from an object");
  EXPECT_EQ(w[2], "nested");
  EXPECT_EQ(w[3], "42");
  EXPECT_LT(w[4].size(), 600u);
  EXPECT_EQ(w[4].substr(0, 10), "xxxxxxxxxx");
}

TEST(NoticeSelectors, HarnessWarningsAreBounded) {
  std::string input;
  for (int i = 0; i < 30; ++i)
    input += "{\"type\":\"warning\",\"message\":\"w" + std::to_string(i) + "\"}\n";
  input += "{\"type\":\"message\",\"content\":\"ok\"}\n";
  const FeedResult r = parse_notices(notices_spec(), input);
  ASSERT_EQ(r.output.warnings.size(), 21u);
  EXPECT_EQ(r.output.warnings[19], "w19");
  EXPECT_EQ(r.output.warnings[20], "10 more harness warnings left out (30 in all)");
  EXPECT_EQ(of_kind(r, Event::Kind::warning).size(), 20u);
}

// Whether the output fed so far showed the harness at work (the idle watchdog's question).
std::vector<bool> activity_per_chunk(const ParserSpec& spec, const std::vector<std::string>& chunks) {
  auto parser = parsers::make_parser(spec);
  std::vector<Event> events;
  std::vector<bool> out;
  for (const auto& chunk : chunks) {
    parser->feed(chunk, events);
    out.push_back(parser->take_activity());
  }
  return out;
}

const std::string kRetry = "{\"type\":\"retry\",\"message\":\"Retrying in 30 s\"}\n";
const std::string kWarning = "{\"type\":\"warning\",\"message\":\"careful\"}\n";
const std::string kText = "{\"type\":\"message\",\"content\":\"hi\"}\n";

TEST(ProgressActivity, ProgressLinesAreNotActivity) {
  EXPECT_EQ(activity_per_chunk(notices_spec(), {kRetry, kRetry, kText, kRetry, kWarning, "\n"}),
            (std::vector<bool>{false, false, true, false, true, true}));
  // Non-JSON output is the harness at work too.
  EXPECT_EQ(activity_per_chunk(notices_spec(), {"not json\n", kRetry}),
            (std::vector<bool>{true, false}));
}

TEST(ProgressActivity, ALineCountsWhenItsNewlineArrives) {
  const std::string both = kRetry + kText;
  // Every split of a progress line followed by another line: nothing until the second one ends.
  for (std::size_t cut = 0; cut <= both.size(); ++cut) {
    const auto got = activity_per_chunk(notices_spec(), {both.substr(0, cut), both.substr(cut)});
    EXPECT_EQ(got[0], cut == both.size()) << cut;
    EXPECT_EQ(got[1], cut < both.size()) << cut;
  }
  for (std::size_t cut = 0; cut <= kRetry.size(); ++cut) {
    const auto got = activity_per_chunk(notices_spec(), {kRetry.substr(0, cut), kRetry.substr(cut)});
    EXPECT_EQ(got, (std::vector<bool>{false, false})) << cut;
  }
}

TEST(ProgressActivity, ActivityIsTakenOnce) {
  auto parser = parsers::make_parser(notices_spec());
  std::vector<Event> events;
  parser->feed(kText, events);
  EXPECT_TRUE(parser->take_activity());
  EXPECT_FALSE(parser->take_activity());
  parser->feed(kRetry, events);
  EXPECT_FALSE(parser->take_activity());
}

TEST(ProgressActivity, EveryByteCountsWhenTheRouteSaysProgressResetsIdle) {
  ParserSpec spec = notices_spec();
  spec.progress_resets_idle = true;
  EXPECT_EQ(activity_per_chunk(spec, {kRetry, "{\"partial"}), (std::vector<bool>{true, true}));
  // And without a progress selector at all.
  ParserSpec plain = notices_spec();
  plain.progress.reset();
  EXPECT_EQ(activity_per_chunk(plain, {kRetry, "{"}), (std::vector<bool>{true, true}));
  ParserSpec text;
  EXPECT_EQ(activity_per_chunk(text, {"x"}), (std::vector<bool>{true}));
}

}  // namespace
}  // namespace drover::test
