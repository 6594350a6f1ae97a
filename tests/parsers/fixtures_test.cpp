// Data-driven: every fixtures/parsers/<name>.expect.json names an input recording and lists parser
// specs with the ParsedOutput each must produce. Each case is fed whole, split at every byte, in
// fixed-size chunks and byte by byte. Every recording in the folder also goes through each parser
// kind for the chunking invariants, expectation file or not.
//
// To add a recording: drop `<harness>-<case>.<ext>` next to the others, and add
// `<harness>-<case>.expect.json`:
//   {"input": "<harness>-<case>.<ext>",
//    "cases": [{"name": "jsonl",
//               "parser": {"kind": "jsonl", "trim": true, "stripAnsi": true,
//                          "text": {"path": "item.text", "wherePath": "item.type",
//                                   "whereEquals": "agent_message"},
//                          "usage": {...}, "error": {...}, "sessionId": {...},
//                          "stopReason": {...}, "model": {...}},
//               "expected": {"text": "...", "usage": {"inputTokens": 1, ..., "calls": 1},
//                            "sessionId": "...", "stopReason": null, "model": null,
//                            "error": null, "warnings": [], "structured": true}}]}
// Keys left out of "expected" mean empty (null, "", [], false).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kFixtureDir = fs::path(DROVER_FIXTURES_DIR) / "parsers";
constexpr std::string_view kExpectSuffix = ".expect.json";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> fixture_files(bool expectations) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kFixtureDir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (ends_with(name, kExpectSuffix) == expectations) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<Selector> selector_from(const json& spec, const char* key) {
  auto it = spec.find(key);
  if (it == spec.end()) return std::nullopt;
  Selector selector;
  selector.path = it->value("path", "");
  selector.where_path = it->value("wherePath", "");
  if (auto eq = it->find("whereEquals"); eq != it->end()) selector.where_equals = *eq;
  return selector;
}

ParserSpec spec_from(const json& j) {
  ParserSpec spec;
  const std::string kind = j.value("kind", "text");
  spec.kind = kind == "json"    ? ParserSpec::Kind::json
              : kind == "jsonl" ? ParserSpec::Kind::jsonl
                                : ParserSpec::Kind::text;
  spec.trim = j.value("trim", true);
  spec.strip_ansi = j.value("stripAnsi", true);
  spec.text = selector_from(j, "text");
  spec.usage = selector_from(j, "usage");
  spec.error = selector_from(j, "error");
  spec.session_id = selector_from(j, "sessionId");
  spec.stop_reason = selector_from(j, "stopReason");
  spec.model = selector_from(j, "model");
  return spec;
}

std::string test_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

struct ExpectCase {
  std::string label;  // "<expect file stem>/<case name>"
  std::string input;  // file name under fixtures/parsers
  json parser;
  json expected;
};

void PrintTo(const ExpectCase& c, std::ostream* os) { *os << c.label; }

std::vector<ExpectCase> load_cases() {
  std::vector<ExpectCase> cases;
  for (const std::string& file : fixture_files(/*expectations=*/true)) {
    const json doc = json::parse(read_fixture("parsers/" + file), nullptr, false);
    const std::string stem = file.substr(0, file.size() - kExpectSuffix.size());
    if (doc.is_discarded() || !doc.contains("cases")) {
      // Surfaces as a failing case rather than silently dropping the file.
      cases.push_back({stem + "/unreadable", "", json(), json()});
      continue;
    }
    for (const json& c : doc["cases"])
      cases.push_back({stem + "/" + c.value("name", "case"), doc.value("input", ""),
                       c.value("parser", json::object()), c.value("expected", json::object())});
  }
  return cases;
}

json complete_expectation(const json& partial) {
  json full = {{"text", ""},     {"usage", nullptr}, {"sessionId", nullptr}, {"stopReason", nullptr},
               {"model", nullptr}, {"error", nullptr}, {"warnings", json::array()},
               {"structured", false}};
  for (const auto& [key, value] : partial.items()) full[key] = value;
  return full;
}

class ParserFixture : public ::testing::TestWithParam<ExpectCase> {};

TEST_P(ParserFixture, ProducesExpectedOutputWhateverTheChunking) {
  const ExpectCase& c = GetParam();
  ASSERT_FALSE(c.input.empty()) << c.label << ": expectation file is not valid JSON with cases";
  ASSERT_TRUE(fs::exists(kFixtureDir / c.input)) << c.label << ": missing input " << c.input;
  const std::string input = read_fixture("parsers/" + c.input);
  const ParserSpec spec = spec_from(c.parser);

  FeedResult whole;
  ASSERT_TRUE(same_for_every_split(spec, input, &whole)) << c.label;
  const json got = describe(whole.output);
  const json want = complete_expectation(c.expected);
  EXPECT_EQ(got, want) << c.label << "\n got: " << show(got) << "\nwant: " << show(want);
}

INSTANTIATE_TEST_SUITE_P(Recordings, ParserFixture, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<ExpectCase>& info) {
                           return test_name(info.param.label);
                         });

TEST(ParserFixtures, EveryHarnessShapeIsCovered) {
  const auto inputs = fixture_files(/*expectations=*/false);
  for (const char* name :
       {"claude-json-success.json", "claude-json-api-error.json", "claude-json-warning-first.json",
        "claude-stream-json.jsonl", "codex-exec-json.jsonl", "codex-exec-json-noise.jsonl",
        "pi-mode-json.jsonl", "opencode-run-json.jsonl", "generic-text-ansi-spinner.txt"}) {
    EXPECT_NE(std::find(inputs.begin(), inputs.end(), name), inputs.end()) << name;
    // These hand-made shapes must stay small enough to be split at every byte boundary.
    const std::size_t size = read_fixture(std::string("parsers/") + name).size();
    EXPECT_EQ(two_chunk_cuts(std::string(size, 'x')).size(), size + 1) << name;
  }
  EXPECT_GE(load_cases().size(), 15u);
}

// Any recording is valid input for any parser: none may crash or depend on chunking.
class AnyParserOnAnyRecording : public ::testing::TestWithParam<std::string> {};

TEST_P(AnyParserOnAnyRecording, IsChunkingInvariant) {
  const std::string input = read_fixture("parsers/" + GetParam());
  ASSERT_FALSE(input.empty());
  ParserSpec text;
  ParserSpec raw_text;
  raw_text.trim = false;
  raw_text.strip_ansi = false;
  ParserSpec json_spec;
  json_spec.kind = ParserSpec::Kind::json;
  json_spec.text = Selector{"result", "", std::nullopt};
  json_spec.usage = Selector{"", "", std::nullopt};
  ParserSpec jsonl_spec = json_spec;
  jsonl_spec.kind = ParserSpec::Kind::jsonl;
  jsonl_spec.text = Selector{"item.text", "", std::nullopt};
  jsonl_spec.session_id = Selector{"session_id", "", std::nullopt};
  for (const ParserSpec* spec : {&text, &raw_text, &json_spec, &jsonl_spec})
    EXPECT_TRUE(same_for_every_split(*spec, input)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Recordings, AnyParserOnAnyRecording,
                         ::testing::ValuesIn(fixture_files(/*expectations=*/false)),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return test_name(info.param);
                         });

}  // namespace
}  // namespace drover::test
