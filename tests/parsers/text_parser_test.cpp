#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"

namespace drover::test {
namespace {

ParserSpec text_parser_spec(bool trim = true, bool strip_ansi = true) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::text;
  spec.trim = trim;
  spec.strip_ansi = strip_ansi;
  return spec;
}

std::string text_of(std::string_view input, const ParserSpec& spec = text_parser_spec()) {
  FeedResult r;
  EXPECT_TRUE(same_for_every_split(spec, input, &r)) << input;
  return r.output.text;
}

TEST(TextParser, TrimsAndStripsByDefault) {
  EXPECT_EQ(text_of("\n\n  \x1b[32mHello\x1b[0m world  \n\n"), "Hello world");
}

TEST(TextParser, KeepsInnerBlankLinesAndIndentation) {
  EXPECT_EQ(text_of("one\n\n  two\n"), "one\n\n  two");
}

TEST(TextParser, UntrimmedKeepsEverything) {
  EXPECT_EQ(text_of("\n  hi \n\n", text_parser_spec(false)), "\n  hi \n\n");
}

TEST(TextParser, RawModeKeepsEscapesAndCarriageReturns) {
  EXPECT_EQ(text_of("\x1b[1mbold\x1b[0m\r\n10%\r20%\n", text_parser_spec(true, false)),
            "\x1b[1mbold\x1b[0m\r\n10%\r20%");
}

TEST(TextParser, SpinnerFramesAreDiscarded) {
  EXPECT_EQ(text_of("\xe2\xa0\x8b Working\r\xe2\xa0\x99 Working\r\x1b[2KAnswer\r\n"), "Answer");
}

TEST(TextParser, EscapeSequenceSplitAcrossChunksIsStillRemoved) {
  const auto r = feed_chunks(text_parser_spec(), {"a\x1b", "[3", "1mb\x1b]0;t", "itle\x1b", "\\c\r", "\nd"});
  EXPECT_EQ(r.output.text, "abc\nd");
}

TEST(TextParser, CarriageReturnSplitFromLineFeedIsStillANewline) {
  const auto r = feed_chunks(text_parser_spec(), {"first\r", "\nsecond"});
  EXPECT_EQ(r.output.text, "first\nsecond");
}

TEST(TextParser, Utf8IsKeptAndInvalidBytesReplaced) {
  // U+00DB ends in 0x9B, which a C1-aware stripper would take for CSI.
  EXPECT_EQ(text_of("\xc3\x9b caf\xc3\xa9 \xff end"), "\xc3\x9b caf\xc3\xa9 \xef\xbf\xbd end");
}

TEST(TextParser, DeltasArriveAsLinesComplete) {
  auto parser = parsers::make_parser(text_parser_spec());
  std::vector<Event> deltas;
  parser->feed("  first line", deltas);
  EXPECT_TRUE(deltas.empty()) << "an unfinished line may still be overwritten by '\\r'";
  parser->feed("\nsecond", deltas);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].text, "first line");  // leading blanks trimmed, the newline held back
  parser->feed(" line\n\n", deltas);
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[1].text, "\nsecond line");
  const auto out = parser->finish(deltas);
  EXPECT_EQ(deltas.size(), 2u) << "trailing blank lines are trimmed, never sent";
  EXPECT_EQ(out.text, "first line\nsecond line");
}

TEST(TextParser, UntrimmedReleasesHeldWhitespaceAtFinish) {
  auto parser = parsers::make_parser(text_parser_spec(false));
  std::vector<Event> deltas;
  parser->feed("a\n\n", deltas);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].text, "a");
  const auto out = parser->finish(deltas);
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[1].text, "\n\n");
  EXPECT_EQ(out.text, "a\n\n");
}

TEST(TextParser, EmptyAndBlankOutputs) {
  EXPECT_EQ(text_of(""), "");
  EXPECT_EQ(text_of(" \n\t\r\n \x1b[0m\n"), "");
  const auto r = feed_whole(text_parser_spec(), "");
  EXPECT_TRUE(r.events.empty());
  EXPECT_FALSE(r.output.structured);
  EXPECT_FALSE(r.output.error);
}

TEST(TextParser, LastLineWithoutNewlineIsKept) {
  EXPECT_EQ(text_of("one\ntwo"), "one\ntwo");
  EXPECT_EQ(text_of("answer\r"), "answer");
}

}  // namespace
}  // namespace drover::test
