#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "parsers/sse_parser.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

json describe(const std::vector<SseEvent>& events) {
  json out = json::array();
  for (const SseEvent& e : events) {
    json j{{"event", e.event}, {"data", e.data}, {"id", e.id}};
    j["retry"] = e.retry_ms ? json(*e.retry_ms) : json(nullptr);
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<SseEvent> parse_chunks(const std::vector<std::string_view>& chunks, bool finish = true) {
  SseParser parser;
  std::vector<SseEvent> events;
  for (std::string_view chunk : chunks) parser.feed(chunk, events);
  if (finish) parser.finish(events);
  return events;
}

std::vector<SseEvent> parse(std::string_view input, bool finish = true) {
  return parse_chunks({input}, finish);
}

std::vector<std::string> datas(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const SseEvent& e : events) out.push_back(e.data);
  return out;
}

using Strings = std::vector<std::string>;

/// Whole, split in two at every byte, in three around every pair of bytes near line ends, and
/// byte by byte: the same events.
::testing::AssertionResult same_for_every_split(std::string_view input) {
  const json expected = describe(parse(input));
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const json got = describe(parse_chunks({input.substr(0, cut), input.substr(cut)}));
    if (got != expected)
      return ::testing::AssertionFailure() << "split at " << cut << ": " << got.dump() << " != "
                                           << expected.dump();
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  if (const json got = describe(parse_chunks(bytes)); got != expected)
    return ::testing::AssertionFailure() << "byte by byte: " << got.dump();
  // Empty chunks in between change nothing either (a read of zero bytes).
  std::vector<std::string_view> with_empty;
  for (std::string_view b : bytes) {
    with_empty.push_back(b);
    with_empty.push_back({});
  }
  if (const json got = describe(parse_chunks(with_empty)); got != expected)
    return ::testing::AssertionFailure() << "with empty chunks: " << got.dump();
  return ::testing::AssertionSuccess();
}

// ---- the HTML standard's examples --------------------------------------------------------------

TEST(SseParser, StandardStockTickerExample) {
  const auto events = parse("data: YHOO\ndata: +2\ndata: 10\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "YHOO\n+2\n10");
  EXPECT_EQ(events[0].event, "");
}

TEST(SseParser, StandardCommentsAndIdsExample) {
  const auto events = parse(
      ": test stream\n"
      "\n"
      "data: first event\n"
      "id: 1\n"
      "\n"
      "data:second event\n"
      "id\n"
      "\n"
      "data:  third event\n"
      "\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "first event");
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[1].data, "second event");
  EXPECT_EQ(events[1].id, "");  // `id` without a value resets the last event id
  EXPECT_EQ(events[2].data, " third event");  // only one space is stripped
  EXPECT_EQ(events[2].id, "");
}

TEST(SseParser, StandardEmptyDataExample) {
  // "data" without a colon is a data line with an empty value.
  const std::string_view input = "data\n\ndata\ndata\n\ndata:";
  EXPECT_EQ(datas(parse(input, /*finish=*/false)), (Strings{"", "\n"}));
  // At the end of the stream the last block has data but no blank line: finish() dispatches it.
  EXPECT_EQ(datas(parse(input)), (Strings{"", "\n", ""}));
}

TEST(SseParser, StandardSpaceAfterColonExample) {
  EXPECT_EQ(datas(parse("data:test\n\ndata: test\n\n")), (Strings{"test", "test"}));
}

TEST(SseParser, StandardEventNames) {
  const auto events =
      parse("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event, "add");
  EXPECT_EQ(events[1].event, "remove");
  EXPECT_EQ(events[1].data, "2153");
  EXPECT_EQ(events[2].event, "add");
}

// ---- fields ------------------------------------------------------------------------------------

TEST(SseParser, BlockWithoutDataIsNotDispatchedButResetsTheEventName) {
  const auto events = parse("event: ping\n\ndata: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[0].data, "x");
  EXPECT_TRUE(parse("event: only\nid: 3\n\n").empty());
}

TEST(SseParser, CommentsAndUnknownFieldsAreIgnored) {
  const auto events = parse(":comment\n: another\nfoo: bar\nDATA: upper\ndata: x\n:tail\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(SseParser, OnlyOneLeadingSpaceIsStrippedAndOnlyASpace) {
  EXPECT_EQ(datas(parse("data:  two\n\n")), (Strings{" two"}));
  EXPECT_EQ(datas(parse("data:\tx\n\n")), (Strings{"\tx"}));
  EXPECT_EQ(datas(parse("data: a: b\n\n")), (Strings{"a: b"}));  // only the first colon splits
  EXPECT_EQ(datas(parse("data: trailing  \n\n")), (Strings{"trailing  "}));
}

TEST(SseParser, MultiLineDataJoinsWithLineFeeds) {
  EXPECT_EQ(datas(parse("data: {\ndata: \"a\": 1\ndata: }\n\n")), (Strings{"{\n\"a\": 1\n}"}));
  EXPECT_EQ(datas(parse("data:\ndata:\n\n")), (Strings{"\n"}));
}

TEST(SseParser, LastEventIdPersistsAcrossEvents) {
  const auto events = parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[1].id, "7");
  EXPECT_EQ(events[2].id, "8");
}

TEST(SseParser, IdContainingNulIsIgnored) {
  using namespace std::string_literals;
  const std::string input = "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"s;
  ASSERT_EQ(input.find('\0'), 20u);
  const auto events = parse(input);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "1");
}

TEST(SseParser, RetryOnlyWhenAllDigits) {
  auto events = parse("retry: 1500\ndata: a\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].retry_ms, 1500);
  for (std::string_view bad : {"retry: 1.5\n", "retry: -1\n", "retry: \n", "retry: 10s\n",
                               "retry:  10\n", "retry: 99999999999999999999999\n"}) {
    events = parse(std::string(bad) + "data: a\n\n");
    ASSERT_EQ(events.size(), 1u) << bad;
    EXPECT_FALSE(events[0].retry_ms.has_value()) << bad;
  }
  // A retry in a block without data is kept for the next event, then used up.
  events = parse("retry: 3000\n\ndata: a\n\ndata: b\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].retry_ms, 3000);
  EXPECT_FALSE(events[1].retry_ms.has_value());
}

// ---- line ends ---------------------------------------------------------------------------------

TEST(SseParser, LfCrlfAndCrLineEndsGiveTheSameEvents) {
  const std::string lf = "event: e\ndata: one\ndata: two\nid: 5\n\n: c\ndata: three\n\n";
  std::string crlf, cr;
  for (char c : lf) {
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    cr += c == '\n' ? '\r' : c;
  }
  const json expected = describe(parse(lf));
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_EQ(expected[0]["data"], "one\ntwo");
  EXPECT_EQ(describe(parse(crlf)), expected);
  EXPECT_EQ(describe(parse(cr)), expected);
  EXPECT_TRUE(same_for_every_split(crlf));
  EXPECT_TRUE(same_for_every_split(cr));
}

TEST(SseParser, CrAtChunkEndFollowedByLfIsOneLineEnd) {
  // Were the CR and the LF two line ends, the empty line between them would dispatch "a" alone.
  const auto events = parse_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  EXPECT_EQ(datas(events), (Strings{"a\nb"}));
}

TEST(SseParser, CrThenCrIsAnEmptyLine) {
  EXPECT_EQ(datas(parse_chunks({"data: a\r", "\r", "data: b\r\r"})), (Strings{"a", "b"}));
  EXPECT_EQ(datas(parse("data: a\n\r\ndata: b\r\n\n")), (Strings{"a", "b"}));
}

// ---- BOM ---------------------------------------------------------------------------------------

TEST(SseParser, LeadingBomIsIgnoredOnce) {
  EXPECT_EQ(datas(parse("\xEF\xBB\xBF" "data: x\n\n")), (Strings{"x"}));
  EXPECT_EQ(datas(parse_chunks({"\xEF", "\xBB", "\xBF", "data: x\n\n"})), (Strings{"x"}));
  // A second BOM is part of the first field's name, which is then not "data".
  EXPECT_TRUE(parse("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n").empty());
  // A BOM later in the stream is data.
  EXPECT_EQ(datas(parse("data: a\n\n\xEF\xBB\xBF" "data: b\n\n")), (Strings{"a"}));
}

TEST(SseParser, PartialBomIsOrdinaryBytes) {
  // "\xEF\xBB" followed by something else is not a BOM: those bytes start the first line.
  EXPECT_TRUE(parse("\xEF\xBB" "data: x\n\n").empty());
  EXPECT_TRUE(parse_chunks({"\xEF", "\xBB", "data: x\n\n"}).empty());
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed("\xEF\xBB", events);
  EXPECT_EQ(parser.buffered(), 2u);
  parser.feed("\n", events);  // the held bytes formed a line of their own
  EXPECT_EQ(parser.buffered(), 0u);
  parser.feed("data: y\n\n", events);
  EXPECT_EQ(datas(events), (Strings{"y"}));
  // A stream shorter than a BOM.
  EXPECT_TRUE(parse("\xEF").empty());
}

// ---- end of stream -----------------------------------------------------------------------------

TEST(SseParser, FinishDispatchesAPendingEventWithData) {
  EXPECT_EQ(datas(parse("data: last")), (Strings{"last"}));
  EXPECT_EQ(datas(parse("data: a\ndata: b\n")), (Strings{"a\nb"}));
  EXPECT_EQ(datas(parse("data: x\r")), (Strings{"x"}));
  EXPECT_TRUE(parse("event: e\n").empty());
  EXPECT_TRUE(parse(": only a comment").empty());
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("data: x\n", /*finish=*/false).empty());
}

TEST(SseParser, FinishDispatchesNothingTwice) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed("data: a\n\ndata: b", events);
  ASSERT_EQ(events.size(), 1u);
  parser.finish(events);
  ASSERT_EQ(events.size(), 2u);
  parser.finish(events);
  EXPECT_EQ(events.size(), 2u);
}

TEST(SseParser, BufferedCountsThePartialLine) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed("data: abc", events);
  EXPECT_EQ(parser.buffered(), 9u);
  parser.feed("def\n", events);
  EXPECT_EQ(parser.buffered(), 0u);
  EXPECT_TRUE(events.empty());
}

// ---- chunking ----------------------------------------------------------------------------------

TEST(SseParser, EverySplitGivesTheSameEvents) {
  const std::string input =
      "\xEF\xBB\xBF: hello\r\n"
      "retry: 2500\r\n"
      "event: message_start\r\n"
      "data: {\"type\":\"message_start\"}\r\n"
      "\r\n"
      "id: 42\n"
      "data: line one\n"
      "data:line two\n"
      "data\n"
      "\n"
      "event: skipped\r"
      "\r"
      "data: caf\xC3\xA9 \xF0\x9F\x91\x8B\r"
      "\r\n"
      "data: [DONE]\n"
      "\n"
      "data: unterminated";
  const json expected = describe(parse(input));
  const json want = json::parse(R"([
    {"event":"message_start","data":"{\"type\":\"message_start\"}","id":"","retry":2500},
    {"event":"","data":"line one\nline two\n","id":"42","retry":null},
    {"event":"","data":"caf\u00e9 \ud83d\udc4b","id":"42","retry":null},
    {"event":"","data":"[DONE]","id":"42","retry":null},
    {"event":"","data":"unterminated","id":"42","retry":null}
  ])");
  EXPECT_EQ(expected, want) << expected.dump(2);
  EXPECT_TRUE(same_for_every_split(input));
}

TEST(SseParser, LongLinesAcrossManyChunks) {
  const std::string payload(100000, 'x');
  const std::string input = "data: " + payload + "\n\n";
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < input.size(); i += 997) chunks.push_back(std::string_view(input).substr(i, 997));
  const auto events = parse_chunks(chunks);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, payload);
}

}  // namespace
}  // namespace drover::parsers
