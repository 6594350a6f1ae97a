// strip_ansi: the whole-string form of the terminal cleaner the text parser uses.
#include <gtest/gtest.h>

#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

TEST(StripAnsi, RemovesSgrColours) {
  EXPECT_EQ(strip_ansi("\x1b[1;31mred\x1b[0m plain \x1b[38;5;208morange\x1b[m"), "red plain orange");
}

TEST(StripAnsi, RemovesCsiWithPrivateParametersAndIntermediates) {
  EXPECT_EQ(strip_ansi("\x1b[?25lhidden cursor\x1b[?25h"), "hidden cursor");
  EXPECT_EQ(strip_ansi("a\x1b[2 qb"), "ab");  // DECSCUSR has an intermediate byte
}

TEST(StripAnsi, RemovesOscTerminatedByBelOrSt) {
  EXPECT_EQ(strip_ansi("\x1b]0;window title\x07text"), "text");
  EXPECT_EQ(strip_ansi("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\!"), "link!");
}

TEST(StripAnsi, RemovesOtherEscapeSequences) {
  EXPECT_EQ(strip_ansi("\x1b(Bx\x1b" "7y\x1b" "8z\x1b=w"), "xyzw");
}

TEST(StripAnsi, UnterminatedOscEndsAtTheLineEnd) {
  EXPECT_EQ(strip_ansi("\x1b]0;title never closed\nanswer"), "\nanswer");
}

TEST(StripAnsi, AbortedSequenceKeepsTheFollowingByte) {
  EXPECT_EQ(strip_ansi("a\x1b\nb"), "a\nb");
  EXPECT_EQ(strip_ansi("a\x1b[12\nb"), "a\nb");
  EXPECT_EQ(strip_ansi("a\x1b\x1b[31mb"), "ab");
}

TEST(StripAnsi, CarriageReturnDiscardsTheLineSoFar) {
  EXPECT_EQ(strip_ansi("\xe2\xa0\x8b working\r\xe2\xa0\x99 working\rdone\n"), "done\n");
  EXPECT_EQ(strip_ansi("10%\r55%\r100%"), "100%");
}

TEST(StripAnsi, CrLfIsANewline) {
  EXPECT_EQ(strip_ansi("one\r\ntwo\r\n"), "one\ntwo\n");
  EXPECT_EQ(strip_ansi("one\r\r\ntwo"), "one\ntwo");
}

TEST(StripAnsi, TrailingCarriageReturnKeepsTheLine) {
  EXPECT_EQ(strip_ansi("final answer\r"), "final answer");
}

TEST(StripAnsi, EraseLineAndColumnOneResetTheLine) {
  EXPECT_EQ(strip_ansi("spinner\x1b[2Kanswer"), "answer");
  EXPECT_EQ(strip_ansi("spinner\x1b[1Ganswer"), "answer");
  EXPECT_EQ(strip_ansi("spinner\x1b[Ganswer"), "answer");
  // Erase to end of line and other columns leave the text alone.
  EXPECT_EQ(strip_ansi("keep\x1b[K this\x1b[5G too"), "keep this too");
}

TEST(StripAnsi, LeavesUtf8ContinuationBytesAlone) {
  // U+00DB is C3 9B: 0x9B must not be read as a C1 CSI introducer.
  EXPECT_EQ(strip_ansi("\xc3\x9b[31m ok"), "\xc3\x9b[31m ok");
  EXPECT_EQ(strip_ansi("caf\xc3\xa9 \xe2\x98\x95"), "caf\xc3\xa9 \xe2\x98\x95");
}

TEST(StripAnsi, PassesPlainTextThrough) {
  EXPECT_EQ(strip_ansi(""), "");
  EXPECT_EQ(strip_ansi("plain\ttext\n\nwith lines\n"), "plain\ttext\n\nwith lines\n");
}

}  // namespace
}  // namespace drover::parsers
