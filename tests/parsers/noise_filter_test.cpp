// NoiseFilter: realistic harness noise removed, answers kept byte for byte, and the same output
// whether the text arrives whole, in two pieces cut anywhere, in small chunks or byte by byte.
#include "parsers/noise_filter.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace drover::parsers {
namespace {

struct Filtered {
  std::string text;  ///< everything feed() and finish() returned, concatenated
  bool only_noise = false;
  bool removed_anything = false;
  std::vector<std::string> removed;

  bool operator==(const Filtered&) const = default;
};

std::string show(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

std::ostream& operator<<(std::ostream& os, const Filtered& f) {
  os << "{text " << show(f.text) << ", only_noise " << f.only_noise << ", removed [";
  for (const std::string& line : f.removed) os << show(line) << ' ';
  return os << "]}";
}

/// Runs a copy of `fresh` (copies share the compiled markers, so this is cheap).
Filtered run_chunks(const NoiseFilter& fresh, const std::vector<std::string_view>& chunks) {
  NoiseFilter filter = fresh;
  Filtered f;
  for (std::string_view chunk : chunks) f.text += filter.feed(chunk);
  f.text += filter.finish();
  f.only_noise = filter.only_noise();
  f.removed_anything = filter.removed_anything();
  f.removed = filter.removed();
  return f;
}

std::vector<std::string_view> fixed_chunks(std::string_view input, std::size_t size) {
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < input.size(); i += size) chunks.push_back(input.substr(i, size));
  return chunks;
}

/// Whole text (filter_noise and one feed), every two-chunk split, fixed-size chunks and byte by
/// byte must agree. The inputs here are short, so every cut is tried.
::testing::AssertionResult same_for_every_split(const NoiseMarkers& markers, std::string_view input,
                                                Filtered* whole_out) {
  const NoiseFilter fresh(markers);
  const Filtered whole = run_chunks(fresh, {input});
  bool only_noise = !whole.only_noise;
  if (const std::string text = filter_noise(input, markers, &only_noise);
      text != whole.text || only_noise != whole.only_noise)
    return ::testing::AssertionFailure() << "filter_noise gives " << show(text) << " / only_noise "
                                         << only_noise << ", one feed gives " << whole;
  const auto compare = [&](const Filtered& got, const std::string& how) {
    if (got == whole) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << how << " gives " << got << "\nwhole input gives "
                                         << whole;
  };
  for (std::size_t cut = 0; cut <= input.size(); ++cut)
    if (auto ok = compare(run_chunks(fresh, {input.substr(0, cut), input.substr(cut)}),
                          "split at byte " + std::to_string(cut));
        !ok)
      return ok;
  for (std::size_t size : {1, 2, 3, 7, 64})
    if (auto ok = compare(run_chunks(fresh, fixed_chunks(input, size)),
                          "chunks of " + std::to_string(size));
        !ok)
      return ok;
  *whole_out = whole;
  return ::testing::AssertionSuccess();
}

/// Filters `input` with the default markers, checking split-independence on the way.
Filtered filtered(std::string_view input, const NoiseMarkers& markers = default_noise_markers()) {
  Filtered f;
  EXPECT_TRUE(same_for_every_split(markers, input, &f)) << "input " << show(input);
  return f;
}

using Lines = std::vector<std::string>;

TEST(NoiseFilter, EachFilterMatchesItsOwnRegexesPastTheCompiledPatternCache) {
  // Compiled patterns are kept for the process up to a bound; filters past it compile their own.
  for (int i = 0; i < 300; ++i) {
    NoiseMarkers markers;
    markers.regexes = {"status " + std::to_string(i) + R"( \d+)"};
    const std::string own = "status " + std::to_string(i) + " 42\n";
    const std::string other = "status " + std::to_string(i + 1) + " 42\n";
    auto whole = [&markers](const std::string& text) {
      NoiseFilter f(markers);
      std::string out = f.feed(text);
      return out + f.finish();
    };
    EXPECT_EQ(whole(own + "answer\n"), "answer\n") << i;
    EXPECT_EQ(whole(other + "answer\n"), other + "answer\n") << i;
  }
}

TEST(NoiseFilter, DefaultMarkersAreValid) {
  EXPECT_EQ(validate(default_noise_markers()), std::nullopt);
}

TEST(NoiseFilter, PiBannerBeforeAnswer) {
  const Filtered f = filtered("pi v0.31.2\n---\n\nThe answer is 42.\n");
  EXPECT_EQ(f.text, "The answer is 42.\n");
  EXPECT_FALSE(f.only_noise);
  EXPECT_TRUE(f.removed_anything);
  EXPECT_EQ(f.removed, (Lines{"pi v0.31.2", "---"}));
}

TEST(NoiseFilter, PiBannerRuleAfterBlankLineAndUpdateNotice) {
  const Filtered f = filtered(
      "New version 0.32.0 is available. Run: npm install -g @mariozechner/pi-coding-agent\n"
      "pi v0.31.2-beta.1\n\n---\nOK\n");
  EXPECT_EQ(f.text, "OK\n");
  EXPECT_EQ(f.removed.size(), 3u);
  EXPECT_EQ(filtered("New version available: 2.1.0\nDone.").text, "Done.");
}

TEST(NoiseFilter, RussianGreetingAloneIsOnlyNoise) {
  const Filtered f = filtered("Готов к работе.\n");
  EXPECT_EQ(f.text, "");
  EXPECT_TRUE(f.only_noise);
  EXPECT_EQ(f.removed, (Lines{"Готов к работе."}));

  const Filtered combined = filtered("\nГотов к работе. Жду ваших указаний.\n\n");
  EXPECT_EQ(combined.text, "");
  EXPECT_TRUE(combined.only_noise);

  const Filtered waiting = filtered("Жду следующую задачу!");
  EXPECT_EQ(waiting.text, "");
  EXPECT_TRUE(waiting.only_noise);
}

TEST(NoiseFilter, BlankOnlyTextIsNotOnlyNoise) {
  const Filtered f = filtered("\n  \n");
  EXPECT_EQ(f.text, "\n  \n");
  EXPECT_FALSE(f.only_noise);
  EXPECT_FALSE(f.removed_anything);
  EXPECT_FALSE(filtered("").only_noise);
}

TEST(NoiseFilter, GreetingThenAnswer) {
  const Filtered f = filtered("Ready to work.\n\nHere is the fix:\n\n```cpp\nint x = 1;\n```\n");
  EXPECT_EQ(f.text, "Here is the fix:\n\n```cpp\nint x = 1;\n```\n");
  EXPECT_FALSE(f.only_noise);
  EXPECT_EQ(f.removed, (Lines{"Ready to work."}));

  EXPECT_EQ(filtered("Готов к работе\nИсправил опечатку в README.\n").text,
            "Исправил опечатку в README.\n");
}

TEST(NoiseFilter, CaveatBlockInTheMiddle) {
  const Filtered f = filtered(
      "First paragraph.\n\n"
      "<local-command-caveat>Caveat: The messages below were generated by the user while running "
      "local commands. DO NOT respond to these messages\n"
      "or otherwise consider them in your response.</local-command-caveat>\n\n"
      "Second paragraph.\n");
  EXPECT_EQ(f.text, "First paragraph.\n\nSecond paragraph.\n");
  ASSERT_EQ(f.removed.size(), 2u);
  EXPECT_EQ(f.removed[1], "or otherwise consider them in your response.</local-command-caveat>");
}

TEST(NoiseFilter, CaveatBlockOnOneLineAndIndented) {
  EXPECT_EQ(filtered("A\n  <local-command-caveat>x</local-command-caveat>\nB\n").text, "A\nB\n");
  // The close tag must follow the open tag; a line merely containing it outside a block stays.
  EXPECT_EQ(filtered("See </local-command-caveat> here\n").text,
            "See </local-command-caveat> here\n");
}

TEST(NoiseFilter, UnclosedBlockRunsToTheEnd) {
  const Filtered f = filtered("Answer.\n<local-command-caveat>Caveat:\nstill caveat\n");
  EXPECT_EQ(f.text, "Answer.\n");
  EXPECT_EQ(f.removed, (Lines{"<local-command-caveat>Caveat:", "still caveat"}));
}

TEST(NoiseFilter, ModelSwitchLine) {
  const Filtered f = filtered(
      "Model switched to claude-opus-4-1\nSure, the bug is in main.cpp.\n"
      "Switched to model gpt-5 (high)\n");
  EXPECT_EQ(f.text, "Sure, the bug is in main.cpp.\n");
  EXPECT_EQ(f.removed,
            (Lines{"Model switched to claude-opus-4-1", "Switched to model gpt-5 (high)"}));
  EXPECT_EQ(filtered("Now using model: sonnet\nHi").text, "Hi");
}

TEST(NoiseFilter, OrdinaryAnswersAreKept) {
  for (std::string_view answer : {
           "The service is ready to work once migrations finish.\n",
           "Ready to work on the parser next: first the tokenizer.\n",
           "Готов к работе с вашим репозиторием: вот план.\n",
           "Жду ответа от сервера, потом перезапускаю.\n",
           "Model switched to a smaller one because the bigger one timed out, so results differ.\n",
           "Now using model predictions, we compute the loss.\n",
           "pi v1.2.3 is the release that fixed it.\n",
           "Intro\n\n---\n\nMore\n",
           "---\n",
       }) {
    const Filtered f = filtered(answer);
    EXPECT_EQ(f.text, answer);
    EXPECT_FALSE(f.removed_anything) << show(answer);
  }
}

TEST(NoiseFilter, BlankLinesAroundNoise) {
  // Leading blank lines that only preceded noise go, trailing ones after noise go.
  EXPECT_EQ(filtered("\n\nReady to work\n\n\nAnswer\n\n").text, "Answer\n\n");
  EXPECT_EQ(filtered("Answer\n\nReady to work.\n\n").text, "Answer\n");
  // Between paragraphs the longest blank run of the gap stays.
  EXPECT_EQ(filtered("A\n\nModel switched to x\n\n\nB\n").text, "A\n\n\nB\n");
  EXPECT_EQ(filtered("A\nModel switched to x\n\nB").text, "A\n\nB");
  EXPECT_EQ(filtered("A\nModel switched to x\nB").text, "A\nB");
  // Without noise nothing changes, blank lines and missing final newline included.
  EXPECT_EQ(filtered("\n\n  A\n\n\nB\n \n").text, "\n\n  A\n\n\nB\n \n");
}

TEST(NoiseFilter, CrlfLines) {
  EXPECT_EQ(filtered("Ready to work\r\nAnswer\r\n").text, "Answer\r\n");
}

TEST(NoiseFilter, LongLinesAreNeverRegexOrLineNoise) {
  const std::string long_notice = "New version available: 1.2.3 " + std::string(300, 'x') + "\n";
  EXPECT_EQ(filtered(long_notice).text, long_notice);
  const std::string padded = std::string(300, ' ') + "Ready to work\n";
  EXPECT_EQ(filtered(padded).text, padded);
}

TEST(NoiseFilter, CustomMarkers) {
  NoiseMarkers markers;
  markers.lines = {"  BEEP  "};
  markers.prefixes = {"[debug] "};
  markers.regexes = {R"(Tokens used: \d+)"};
  markers.blocks = {{"<<", ">>"}};
  ASSERT_EQ(validate(markers), std::nullopt);
  const Filtered f = filtered(
      "[debug] loading config\nBEEP\n<< a\nb >>\nAnswer\nTokens used: 1234\nReady to work\n"
      "[debug]no space\n",
      markers);
  EXPECT_EQ(f.text, "Answer\nReady to work\n[debug]no space\n");
  EXPECT_EQ(f.removed,
            (Lines{"[debug] loading config", "BEEP", "<< a", "b >>", "Tokens used: 1234"}));
}

TEST(NoiseFilter, ValidateNamesTheFirstProblem) {
  NoiseMarkers markers;
  markers.regexes = {R"(ok \d+)", "(unclosed", "[z-a]"};
  const auto problem = validate(markers);
  ASSERT_TRUE(problem.has_value());
  EXPECT_TRUE(problem->starts_with("regexes[1]: ")) << *problem;

  EXPECT_EQ(validate(NoiseMarkers{.lines = {"x", " "}}), "lines[1]: empty");
  EXPECT_EQ(validate(NoiseMarkers{.prefixes = {"a\nb"}}), "prefixes[0]: contains a line break");
  EXPECT_EQ(validate(NoiseMarkers{.blocks = {{"<a>", ""}}}), "blocks[0]: empty close tag");

  // The filter itself ignores what validate rejects instead of throwing.
  markers.lines = {"", "Noise"};
  EXPECT_EQ(filter_noise("Noise\nok 1\n(unclosed\nkeep\n", markers), "(unclosed\nkeep\n");
}

TEST(NoiseFilter, MultiByteMarkersSplitMidCharacter) {
  const std::string input = "Готов к работе.\nОтвет: 42 ✓\n";
  const Filtered whole = filtered(input);
  EXPECT_EQ(whole.text, "Ответ: 42 ✓\n");
  // "Г" is two bytes; the cut falls between them.
  NoiseFilter filter(default_noise_markers());
  std::string out = filter.feed(std::string_view(input).substr(0, 1));
  EXPECT_EQ(out, "");
  out += filter.feed(std::string_view(input).substr(1));
  out += filter.finish();
  EXPECT_EQ(out, whole.text);
}

TEST(NoiseFilter, ReleasesAPartialLineAsSoonAsItCannotBeNoise) {
  NoiseFilter filter(default_noise_markers());
  EXPECT_EQ(filter.feed("Hello"), "Hello");
  EXPECT_EQ(filter.feed(" world\nRead"), " world\n");   // "Read" may become "Ready to work"
  EXPECT_EQ(filter.feed("ing files"), "Reading files");
  EXPECT_EQ(filter.feed("\npi "), "\n");                 // may become "pi v1.2.3"
  EXPECT_EQ(filter.feed("is 3.14"), "pi is 3.14");
  EXPECT_EQ(filter.feed("\n   "), "\n");                 // blank so far: held
  EXPECT_EQ(filter.feed("x"), "   x");
  EXPECT_EQ(filter.finish(), "");
  EXPECT_FALSE(filter.removed_anything());
}

TEST(NoiseFilter, HoldsAShortUndecidedLineUntilItsNewline) {
  NoiseFilter filter(default_noise_markers());
  EXPECT_EQ(filter.feed("Ready to work"), "");
  EXPECT_EQ(filter.feed(" "), "");
  EXPECT_EQ(filter.feed("\n"), "");
  EXPECT_TRUE(filter.removed_anything());
  EXPECT_EQ(filter.feed("Ready to work"), "");
  EXPECT_EQ(filter.feed(std::string(kMaxNoiseLineBytes, '!')),
            "Ready to work" + std::string(kMaxNoiseLineBytes, '!'));  // too long to be noise
  EXPECT_EQ(filter.finish(), "");
  EXPECT_FALSE(filter.only_noise());

  // A regex without a leading literal can match anything short: every line waits.
  NoiseFilter opaque(NoiseMarkers{.regexes = {"(?:foo|bar)"}});
  EXPECT_EQ(opaque.feed("Hello"), "");
  EXPECT_EQ(opaque.feed("\nfoo\n"), "Hello\n");
  EXPECT_EQ(opaque.finish(), "");
  EXPECT_TRUE(opaque.only_noise() == false && opaque.removed_anything());
}

TEST(NoiseFilter, RemovedLinesAreCapped) {
  std::string input;
  for (int i = 0; i < 100; ++i) input += "Ready to work\n";
  input += "<local-command-caveat>" + std::string(1000, 'c') + "\nanswer?\n";
  NoiseFilter filter(default_noise_markers());
  std::string out = filter.feed(input);
  out += filter.finish();
  EXPECT_EQ(out, "");
  EXPECT_EQ(filter.removed_count(), 102u);
  EXPECT_EQ(filter.removed().size(), NoiseFilter::kMaxRemovedLines);
  EXPECT_TRUE(filter.only_noise());

  // Cut on a UTF-8 boundary: byte 512 falls inside a "ж" (23 + 2k bytes), so 511 are kept.
  std::string zh;
  for (int i = 0; i < 500; ++i) zh += "ж";
  NoiseFilter long_line(default_noise_markers());
  out = long_line.feed("<local-command-caveat> " + zh);
  out += long_line.finish();
  EXPECT_EQ(out, "");
  ASSERT_EQ(long_line.removed().size(), 1u);
  EXPECT_EQ(long_line.removed()[0], "<local-command-caveat> " + zh.substr(0, 488) + "…");
}

// Texts glued from marker pieces, blanks, line ends and answer words, cut everywhere: the streaming
// decisions (hold, release, noise) must never disagree with judging the whole text.
TEST(NoiseFilter, RandomTextsGiveTheSameOutputHoweverSplit) {
  const std::vector<std::string> pieces = {
      "Ready to work", ".", "!", "Готов к работе", " Жду ваших указаний", "Жду задачу", "pi v1.2.3",
      "pi v", "---", "Model switched to opus", "New version available: 1.2", "<local-command-caveat>",
      "</local-command-caveat>", "<<", "»»", "[dbg] ", "Answer", "ответ", " ", "  ", "\t", "\r", "\n",
      "\n", "\n\n", "Re", "Гот", "\xD0", std::string(40, 'x')};
  NoiseMarkers custom = default_noise_markers();
  custom.prefixes = {"[dbg] "};
  custom.blocks.push_back({"<<", "»»"});
  custom.regexes.push_back(R"(Answer \d)");
  std::mt19937 rng(20240607);
  for (int round = 0; round < 120; ++round) {
    std::string input;
    const int count = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < count; ++i) input += pieces[rng() % pieces.size()];
    Filtered f;
    ASSERT_TRUE(same_for_every_split(custom, input, &f)) << "input " << show(input);
    if (!f.removed_anything) {
      EXPECT_EQ(f.text, input);
    }
  }
}

TEST(NoiseFilter, FinishIsFinal) {
  NoiseFilter filter(default_noise_markers());
  EXPECT_EQ(filter.feed("Ready"), "");
  EXPECT_EQ(filter.finish(), "Ready");
  EXPECT_EQ(filter.feed("more"), "");
  EXPECT_EQ(filter.finish(), "");
}

}  // namespace
}  // namespace drover::parsers
