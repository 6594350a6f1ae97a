// The public parsing entry point (drover/parse.h) is the print-mode transport's parser.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "drover/parse.h"
#include "parsers/output_parser.h"

namespace drover::test {
namespace {

ParserSpec jsonl_spec() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = Selector{"item.text", "item.type", "agent_message"};
  spec.usage = Selector{"usage", "type", "turn.completed"};
  spec.session_id = Selector{"thread_id", "", std::nullopt};
  return spec;
}

const std::string kOutput =
    "{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}\n"
    "not json\n"
    "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"caf\xc3\xa9 one\"}}\n"
    "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\" two\"}}\n"
    "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}";

TEST(PublicParse, GivesWhatThePrintModeParserGivesWhateverTheChunks) {
  std::vector<Event> expected_deltas;
  auto internal = parsers::make_parser(jsonl_spec());
  internal->feed(kOutput, expected_deltas);
  const parsers::ParsedOutput expected = internal->finish(expected_deltas);

  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, kOutput.size()}) {
    HarnessOutputParser parser(jsonl_spec());
    std::vector<Event> deltas;
    for (std::size_t i = 0; i < kOutput.size(); i += chunk)
      parser.feed(std::string_view(kOutput).substr(i, chunk), deltas);
    const ParsedHarnessOutput out = parser.finish(deltas);
    EXPECT_EQ(out.text, "caf\xc3\xa9 one two");
    EXPECT_EQ(out.text, expected.text);
    EXPECT_EQ(out.session_id, expected.session_id);
    ASSERT_TRUE(out.usage.has_value());
    EXPECT_EQ(out.usage->input_tokens, 7);
    EXPECT_EQ(out.usage->output_tokens, 3);
    EXPECT_EQ(out.warnings, expected.warnings);
    EXPECT_FALSE(out.warnings.empty());  // the line that is not JSON
    EXPECT_TRUE(out.structured);
    std::string joined;
    for (const auto& d : deltas) joined += d.text;
    EXPECT_EQ(joined, out.text);
  }
}

TEST(PublicParse, AFinishedParserRefusesMore) {
  HarnessOutputParser parser(ParserSpec{});
  std::vector<Event> deltas;
  parser.feed("\x1b[32mhello\x1b[0m\n", deltas);
  EXPECT_EQ(parser.finish(deltas).text, "hello");
  EXPECT_THROW(parser.feed("more", deltas), std::logic_error);
  EXPECT_THROW(parser.finish(deltas), std::logic_error);
}

TEST(PublicParse, StripAnsiIsTheTextParsersCleaning) {
  EXPECT_EQ(strip_ansi("\x1b[1mbold\x1b[0m"), "bold");
  const std::string spinner = "\x1b[32m\xe2\xa0\x8b Thinking\r\x1b[2Kdone\n";
  EXPECT_EQ(strip_ansi(spinner), parsers::strip_ansi(spinner));
}

}  // namespace
}  // namespace drover::test
