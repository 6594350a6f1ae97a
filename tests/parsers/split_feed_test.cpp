// The chunking harness must itself catch chunk-dependent parsers, or every other test is hollow.
#include <algorithm>

#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"

namespace drover::test {
namespace {

/// Answers with the number of feed() calls: depends on chunking by construction.
class CountsChunks final : public parsers::OutputParser {
 public:
  void feed(std::string_view, std::vector<Event>&) override { ++chunks_; }
  parsers::ParsedOutput finish(std::vector<Event>& deltas) override {
    parsers::ParsedOutput out;
    out.text = std::to_string(chunks_);
    deltas.push_back(Event::make_text(Event::Kind::delta, out.text));
    return out;
  }

 private:
  int chunks_ = 0;
};

/// Keeps the right text but loses the last delta.
class DropsADelta final : public parsers::OutputParser {
 public:
  void feed(std::string_view chunk, std::vector<Event>&) override { text_ += chunk; }
  parsers::ParsedOutput finish(std::vector<Event>&) override {
    parsers::ParsedOutput out;
    out.text = text_;
    return out;
  }

 private:
  std::string text_;
};

TEST(SplitFeed, CatchesChunkDependentOutput) {
  EXPECT_FALSE(same_for_every_split([] { return std::make_unique<CountsChunks>(); }, "abc"));
}

TEST(SplitFeed, CatchesDeltasThatDoNotAddUpToTheText) {
  EXPECT_FALSE(same_for_every_split([] { return std::make_unique<DropsADelta>(); }, "abc"));
}

TEST(SplitFeed, SmallInputsAreCutAtEveryBoundary) {
  const auto cuts = two_chunk_cuts("hello");
  EXPECT_EQ(cuts, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(SplitFeed, LargeInputsKeepTheInterestingCutsWithinBudget) {
  std::string big;
  while (big.size() < 100 * 1024) big += "{\"type\":\"x\",\"text\":\"caf\xc3\xa9\"}\r\n";
  const auto cuts = two_chunk_cuts(big);
  EXPECT_LE(cuts.size() * big.size(), kSplitBudgetBytes + 2 * big.size());
  EXPECT_EQ(cuts.front(), 0u);
  EXPECT_EQ(cuts.back(), big.size());
  const auto newline_cuts = std::count_if(cuts.begin(), cuts.end(), [&](std::size_t cut) {
    return cut > 0 && cut < big.size() && big[cut] == '\n';
  });
  EXPECT_GT(newline_cuts, 10) << "cuts right before line ends must be among those kept";
}

}  // namespace
}  // namespace drover::test
