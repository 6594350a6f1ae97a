// Bounds on untrusted output: JSON nesting depth (parse_untrusted) and maxOutputBytes in every
// parser.
#include <gtest/gtest.h>

#include "parsers/json_limits.h"
#include "parsers/output_parser.h"
#include "tests/parsers/split_feed.h"

namespace drover::test {
namespace {

using nlohmann::json;

std::string nested(std::size_t depth, std::string_view open = "[", std::string_view close = "]") {
  std::string s;
  s.reserve(depth * (open.size() + close.size()));
  for (std::size_t i = 0; i < depth; ++i) s += open;
  for (std::size_t i = 0; i < depth; ++i) s += close;
  return s;
}

ParserSpec error_jsonl_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = Selector{"text", "type", json("text")};
  spec.error = Selector{"message", "type", json("error")};
  return spec;
}

parsers::ParsedOutput run(const ParserSpec& spec, std::string_view output, std::size_t max_bytes,
                          std::string* deltas = nullptr) {
  auto parser = parsers::make_parser(spec, max_bytes);
  std::vector<Event> events;
  for (std::size_t at = 0; at < output.size(); at += 65536)
    parser->feed(output.substr(at, 65536), events);
  auto out = parser->finish(events);
  if (deltas)
    for (const auto& e : events) *deltas += e.text;
  return out;
}

bool any_contains(const std::vector<std::string>& list, std::string_view what) {
  for (const auto& s : list)
    if (s.find(what) != std::string::npos) return true;
  return false;
}

TEST(JsonDepth, CountsBracketsOutsideStringsAndComments) {
  EXPECT_FALSE(parsers::json_too_deep(nested(512)));
  EXPECT_TRUE(parsers::json_too_deep(nested(513)));
  EXPECT_TRUE(parsers::json_too_deep(nested(513, "{\"a\":", "}")));
  EXPECT_FALSE(parsers::json_too_deep("\"" + std::string(2000, '[') + "\""));
  EXPECT_FALSE(parsers::json_too_deep("[\"\\\"" + std::string(2000, '{') + "\"]"));
  EXPECT_FALSE(parsers::json_too_deep("// " + std::string(2000, '[') + "\n{}", 512, true));
  EXPECT_FALSE(parsers::json_too_deep("/* " + std::string(2000, '{') + " */ {}", 512, true));
  EXPECT_TRUE(parsers::json_too_deep("// x\n" + nested(600), 512, true));
}

TEST(JsonDepth, ParseUntrustedRefusesAMillionLevelsWithoutBuildingThem) {
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    parsers::JsonLimit limit = parsers::JsonLimit::none;
    json doc = parsers::parse_untrusted("{\"error\":" + nested(depth) + "}", &limit);
    EXPECT_TRUE(doc.is_discarded());
    EXPECT_EQ(limit, parsers::JsonLimit::too_deep);
  }
  parsers::JsonLimit limit = parsers::JsonLimit::too_deep;
  EXPECT_EQ(parsers::parse_untrusted("{\"a\":[1]}", &limit)["a"][0], 1);
  EXPECT_EQ(limit, parsers::JsonLimit::none);
  EXPECT_EQ(parsers::json_depth_problem(), "nested deeper than 512 levels");
}

TEST(JsonDepth, PruneKeepsTheShallowPart) {
  const std::string text = R"({"id":7,"s":"[[{","deep":)" + nested(100000) + R"(,"after":true})";
  json doc = json::parse(parsers::prune_json_depth(text, 3));
  EXPECT_EQ(doc["id"], 7);
  EXPECT_EQ(doc["s"], "[[{");
  EXPECT_EQ(doc["deep"], json::parse("[[null]]"));
  EXPECT_EQ(doc["after"], true);
}

TEST(JsonDepth, JsonlErrorNestedTooDeeplyIsAnErrorNamingTheLimit) {
  // Once a SIGSEGV: unwrapping the error payload dumped it recursively.
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    auto out = run(error_jsonl_spec(),
                   "{\"type\":\"error\",\"message\":" + nested(depth) + "}\n", 16u << 20);
    ASSERT_TRUE(out.error) << depth;
    EXPECT_NE(out.error->find("stdout line 1 is JSON nested deeper than 512 levels"),
              std::string::npos)
        << *out.error;
  }
}

TEST(JsonDepth, ErrorStringHoldingDeepJsonIsNotParsedDeeply) {
  const std::string payload = "API Error: 500 {\"error\":" + nested(1000000) + "}";
  std::string message = parsers::unwrap_error_message(json(payload));
  EXPECT_EQ(message.substr(0, 15), "API Error: 500 ");
}

TEST(JsonDepth, JsonDocumentNestedTooDeeplyIsAnError) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.error = Selector{"error", "", std::nullopt};
  auto out = run(spec, "{\"error\":" + nested(1000000) + "}", 16u << 20);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->find("nested deeper than 512 levels"), std::string::npos) << *out.error;
}

TEST(OutputBounds, TextKeepsTheTailItSaysItKeeps) {
  ParserSpec spec;  // text, trimmed
  std::string output;
  for (int i = 0; i < 2000; ++i) output += "line " + std::to_string(i) + "\n";
  std::string deltas;
  auto out = run(spec, output, 1000, &deltas);
  EXPECT_LE(out.text.size(), 1000u);
  EXPECT_GT(out.text.size(), 900u);
  EXPECT_EQ(output.substr(output.size() - 1 - out.text.size(), out.text.size()), out.text);
  EXPECT_TRUE(any_contains(out.warnings, "the answer exceeded 1000 bytes (maxOutputBytes); only its last " +
                                             std::to_string(out.text.size()) + " bytes were kept"))
      << "the warning says what was kept";
  EXPECT_EQ(deltas.size(), output.size() - 1) << "the stream itself is not cut";
}

TEST(OutputBounds, TextTailNeverSplitsACharacter) {
  ParserSpec spec;
  spec.trim = false;
  std::string output;
  for (int i = 0; i < 3000; ++i) output += "\xC3\xA9";  // é
  auto out = run(spec, output, 1001);
  EXPECT_EQ(out.text.size(), 1000u);
  EXPECT_EQ(static_cast<unsigned char>(out.text[0]), 0xC3);
}

TEST(OutputBounds, OneEndlessTextLineIsPassedOnInPieces) {
  ParserSpec spec;
  spec.trim = false;
  auto parser = parsers::make_parser(spec, 4u << 20);
  std::vector<Event> events;
  const std::string chunk(65536, 'x');
  std::size_t streamed = 0;
  for (int i = 0; i < 64; ++i) {  // 4 MiB without a newline
    parser->feed(chunk, events);
    for (const auto& e : events) streamed += e.text.size();
    events.clear();
  }
  EXPECT_GE(streamed, 3u << 20) << "the line is not held whole until it ends";
  auto out = parser->finish(events);
  EXPECT_EQ(out.text.size(), 4u << 20);
}

TEST(OutputBounds, LongLinePiecesDoNotDependOnTheChunking) {
  ParserSpec spec;
  spec.trim = false;
  // Lines longer than the bound (16 bytes here), with spinner resets and a character across a cut.
  const std::string input =
      "0123456789abcdefghij\rXY\n" "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9x\xC3\xA9\xC3\xA9\n" +
      std::string(40, 'z') + "\x1b[2Kend\n";
  const ParserFactory make = [&] { return parsers::make_parser(spec, 16); };
  const FeedResult whole = feed_chunks(make, {input});
  for (std::size_t size = 1; size < input.size(); ++size) {
    const FeedResult split = feed_chunks(make, fixed_chunks(input, size));
    EXPECT_EQ(describe(split.output), describe(whole.output)) << size;
    EXPECT_EQ(split.joined_deltas, whole.joined_deltas) << size;
  }
  EXPECT_EQ(whole.output.warnings.size(), 1u) << "only the tail warning, no invalid UTF-8";
}

TEST(OutputBounds, JsonlLineLongerThanTheCapIsAnErrorNamingIt) {
  const std::string big = "{\"type\":\"text\",\"text\":\"" + std::string(5000, 'a') + "\"}\n";
  auto out = run(error_jsonl_spec(), "{\"type\":\"text\",\"text\":\"ok\"}\n" + big, 4096);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(*out.error, "stdout line 2 is longer than 4096 bytes (maxOutputBytes); skipped");
}

TEST(OutputBounds, JsonlAnswerKeepsItsTail) {
  std::string output;
  for (int i = 0; i < 1000; ++i) output += "{\"type\":\"text\",\"text\":\"0123456789\"}\n";
  auto out = run(error_jsonl_spec(), output, 2000);
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.text.size(), 2000u);
  EXPECT_TRUE(any_contains(out.warnings, "only its last 2000 bytes were kept"));
}

TEST(OutputBounds, JsonDocumentLongerThanTheCapIsAnErrorNamingIt) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = Selector{"result", "", std::nullopt};
  auto out = run(spec, "{\"result\":\"" + std::string(300000, 'a') + "\"}", 100000);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->find("longer than 100000 bytes (maxOutputBytes)"), std::string::npos)
      << *out.error;
  EXPECT_TRUE(out.text.empty());
}

TEST(JsonlParser, ATextThatIsNotAStringIsAWarning) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = Selector{"delta", "", std::nullopt};
  auto out = run(spec, "{\"delta\":{\"text\":\"a\"}}\n{\"delta\":{\"text\":42}}\n", 1u << 20);
  EXPECT_EQ(out.text, "a");
  EXPECT_TRUE(any_contains(out.warnings, "stdout line 2: the selected text is not a string"));
}

}  // namespace
}  // namespace drover::test
