// The parsers on REAL harness output: fixtures/harness/<harness>/ holds what Claude Code, Codex,
// opencode, pi and Gemini CLI printed in print mode against the mock gateway (scripts/record-harnesses.sh,
// fixtures/harness/README.md). Each recording goes through the ParserSpec a preset for that
// harness would use, fed whole, split at (many) byte boundaries, in fixed-size chunks and byte by
// byte, and must give the gateway's deterministic answer `MOCK: <prompt>`, usage, the session id,
// or, for the error cases, an error.
//
// The recordings are re-made by the script, so nothing here depends on ids, timestamps or token
// counts that change between runs; only on what the gateway makes deterministic (the answer, the
// words of the answer as output tokens, the scripted error messages).
//
// Where a spec cannot express what the harness needs, the test pins today's behaviour and says
// so (search for "GAP").
#include <algorithm>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/parsers/split_feed.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kHarnessDir = fs::path(DROVER_FIXTURES_DIR) / "harness";

Selector at(std::string path, std::string where_path = "",
            std::optional<json> where_equals = std::nullopt) {
  return Selector{std::move(path), std::move(where_path), std::move(where_equals)};
}

std::string recording(const std::string& relative) { return read_fixture("harness/" + relative); }

/// Words as the mock gateway counts output tokens: whitespace-separated.
std::int64_t words(const std::string& s) {
  std::istringstream in(s);
  std::int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Specs, one per harness output format, as a preset would configure them.
// ---------------------------------------------------------------------------------------------

ParserSpec text_spec() { return ParserSpec{}; }  // kind text, trim, strip ANSI

/// claude -p --output-format json: one result object.
ParserSpec claude_json() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = at("result", "is_error", false);
  spec.error = at("result", "is_error", true);
  spec.usage = at("");  // normalize_usage reads `usage` and the root's total_cost_usd
  spec.session_id = at("session_id");
  spec.stop_reason = at("stop_reason");
  return spec;
}

/// claude -p --output-format stream-json --verbose: the answer from the final result line only
/// (assistant lines also carry pre-tool text and, on API errors, a synthetic error "answer").
/// Only the result line has `is_error`, so gating on it alone selects that line.
ParserSpec claude_stream_json() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = at("result", "is_error", false);
  spec.error = at("result", "is_error", true);
  spec.usage = at("", "type", "result");
  spec.session_id = at("session_id");
  spec.stop_reason = at("stop_reason", "type", "result");
  spec.model = at("model", "subtype", "init");
  return spec;
}

/// The same with --include-partial-messages: streamed text deltas.
ParserSpec claude_stream_json_deltas() {
  ParserSpec spec = claude_stream_json();
  spec.text = at("event.delta.text", "event.type", "content_block_delta");
  return spec;
}

/// codex exec --json.
ParserSpec codex_jsonl() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = at("item.text", "item.type", "agent_message");
  spec.usage = at("usage", "type", "turn.completed");
  spec.error = at("error", "type", "turn.failed");
  spec.session_id = at("thread_id", "type", "thread.started");
  return spec;
}

/// opencode run --format json.
ParserSpec opencode_jsonl() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = at("part.text", "type", "text");
  spec.usage = at("part", "type", "step_finish");  // part.tokens + part.cost
  spec.error = at("error", "type", "error");
  spec.session_id = at("sessionID");
  spec.stop_reason = at("part.reason", "type", "step_finish");
  return spec;
}

/// pi -p --mode json, final answer: the last message of agent_end (the final assistant
/// message, after any tool turns); usage summed over turn_end (one per model call).
ParserSpec pi_jsonl() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = at("messages[-1].content", "type", "agent_end");
  spec.usage = at("message.usage", "type", "turn_end");
  spec.error = at("messages[-1].errorMessage", "type", "agent_end");
  spec.session_id = at("id", "type", "session");
  spec.stop_reason = at("messages[-1].stopReason", "type", "agent_end");
  spec.model = at("message.model", "type", "turn_end");
  return spec;
}

/// pi -p --mode json, streamed: the text deltas (`partial` snapshots run ahead of the deltas
/// in pi's output, so only `delta` is usable).
ParserSpec pi_jsonl_deltas() {
  ParserSpec spec = pi_jsonl();
  spec.text = at("assistantMessageEvent.delta", "assistantMessageEvent.type", "text_delta");
  return spec;
}

/// gemini --output-format stream-json (the gemini-cli preset): the assistant's `message` lines
/// are deltas (the user's prompt comes back as a message with role user), the closing `result`
/// line has the token totals over all models in `stats` and, on failure, `error`.
ParserSpec gemini_stream_json() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  spec.text = at("content", "role", "assistant");
  spec.usage = at("stats", "type", "result");
  spec.error = at("error.message", "type", "result");
  spec.session_id = at("session_id", "type", "init");
  spec.model = at("model", "type", "init");
  return spec;
}

/// gemini --output-format json: one object {session_id, response, stats, error?}. Its usage
/// sits only under stats.models.<model name>.tokens (prompt, candidates, cached, thoughts, ...):
/// `*` sums it over every model the turn used.
ParserSpec gemini_json() {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  spec.text = at("response");
  spec.usage = at("stats.models.*.tokens");
  spec.error = at("error.message");
  spec.session_id = at("session_id");
  return spec;
}

// ---------------------------------------------------------------------------------------------
// The recordings.
// ---------------------------------------------------------------------------------------------

struct Case {
  std::string label;  // test name
  std::string file;   // under fixtures/harness
  ParserSpec spec;
  std::string text;   // the exact answer ("" for errors)
  bool usage = true;
  /// Output tokens: exactly the words of `text` (the gateway's count for one plain answer), or
  /// only positive (tool loops sum several calls; resumed codex threads report cumulative usage).
  bool exact_output_tokens = true;
  std::string session_pattern;  // regex the session id must match; "" = none expected
  std::string error_contains;   // "" = no error expected
  std::string stop_reason;      // "" = not checked
  std::string model;            // "" = not checked

  Case& no_usage() { usage = false; return *this; }
  Case& some_output_tokens() { exact_output_tokens = false; return *this; }
  Case& session(std::string pattern) { session_pattern = std::move(pattern); return *this; }
  Case& error(std::string contains) { error_contains = std::move(contains); return *this; }
  Case& stop(std::string reason) { stop_reason = std::move(reason); return *this; }
  Case& with_model(std::string m) { model = std::move(m); return *this; }
};

Case make(std::string label, std::string file, ParserSpec spec, std::string text) {
  Case c;
  c.label = std::move(label);
  c.file = std::move(file);
  c.spec = std::move(spec);
  c.text = std::move(text);
  return c;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

const char* const kUuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const char* const kOpencodeSession = "ses_[0-9A-Za-z]+";

// GAP texts: what the current parsers give when a harness talks before a tool call.
const std::string kPreamble = "Creating the marker file.";
const std::string kToolAnswer = "MOCK: Create a marker file";

std::vector<Case> cases() {
  std::vector<Case> c;
  // --- Claude Code ---------------------------------------------------------------------------
  c.push_back(make("claude_json", "claude/json.json", claude_json(), "MOCK: Say the word: tangerine")
                  .session(kUuid).stop("end_turn"));
  c.push_back(make("claude_resume_json", "claude/resume-json.json", claude_json(),
                   "MOCK: Say the word: nectarine")
                  .session(kUuid).stop("end_turn"));
  c.push_back(make("claude_text", "claude/text.txt", text_spec(), "MOCK: Say the word: apricot")
                  .no_usage());
  c.push_back(make("claude_stream_json", "claude/stream-json.jsonl", claude_stream_json(),
                   "MOCK: Say the word: papaya")
                  .session(kUuid).stop("end_turn").with_model("claude-opus-5-5"));
  c.push_back(make("claude_stream_json_partial_final", "claude/stream-json-partial.jsonl",
                   claude_stream_json(), "MOCK: Say the word: kumquat")
                  .session(kUuid).stop("end_turn").with_model("claude-opus-5-5"));
  c.push_back(make("claude_stream_json_partial_deltas", "claude/stream-json-partial.jsonl",
                   claude_stream_json_deltas(), "MOCK: Say the word: kumquat")
                  .session(kUuid).stop("end_turn").with_model("claude-opus-5-5"));
  c.push_back(make("claude_error_rate_limit", "claude/error-rate-limit.json", claude_json(), "")
                  .session(kUuid).error("Rate limit reached (scripted)"));
  c.push_back(make("claude_error_overloaded", "claude/error-overloaded.json", claude_json(), "")
                  .session(kUuid).error("529 Overloaded (scripted)"));
  c.push_back(make("claude_error_overloaded_stream", "claude/error-overloaded-stream.jsonl",
                   claude_stream_json(), "")
                  .session(kUuid).error("529 Overloaded (scripted)"));
  // The denied Bash call: the answer is the text after the (refused) tool result.
  c.push_back(make("claude_tool_denied", "claude/tool-denied.json", claude_json(), kToolAnswer)
                  .some_output_tokens().session(kUuid).stop("end_turn"));
  c.push_back(make("claude_tool_denied_stream", "claude/tool-denied-stream.jsonl",
                   claude_stream_json(), kToolAnswer)
                  .some_output_tokens().session(kUuid).stop("end_turn"));
  // --- Codex ---------------------------------------------------------------------------------
  c.push_back(make("codex_exec_json", "codex/exec-json.jsonl", codex_jsonl(),
                   "MOCK: Say the word: tangerine")
                  .session(kUuid));
  c.push_back(make("codex_exec_resume_json", "codex/exec-resume-json.jsonl", codex_jsonl(),
                   "MOCK: Say the word: nectarine")
                  .some_output_tokens().session(kUuid));
  c.push_back(make("codex_exec_text", "codex/exec-text.txt", text_spec(),
                   "MOCK: Say the word: apricot")
                  .no_usage());
  c.push_back(make("codex_error_rate_limit", "codex/error-rate-limit.jsonl", codex_jsonl(), "")
                  .no_usage().session(kUuid).error("429 Too Many Requests"));
  // GAP: only the LAST agent_message is the answer, but the jsonl parser appends every match.
  // drover gets the right answer only through `-o {output_file}` (see CodexOutputFile below).
  c.push_back(make("codex_tool_read_only", "codex/tool-read-only.jsonl", codex_jsonl(),
                   kPreamble + kToolAnswer)
                  .some_output_tokens().session(kUuid));
  // --- opencode ------------------------------------------------------------------------------
  c.push_back(make("opencode_run_json", "opencode/run-json.jsonl", opencode_jsonl(),
                   "MOCK: Say the word: tangerine")
                  .session(kOpencodeSession).stop("stop"));
  c.push_back(make("opencode_run_default", "opencode/run-default.txt", text_spec(),
                   "MOCK: Say the word: apricot")
                  .no_usage());
  c.push_back(make("opencode_error_rate_limit", "opencode/error-rate-limit.jsonl",
                   opencode_jsonl(), "")
                  .no_usage().session(kOpencodeSession).error("Rate limit reached (scripted)"));
  // GAP: the answer is the text of the LAST step only; the parser appends every text event.
  c.push_back(make("opencode_tool_json", "opencode/tool-json.jsonl", opencode_jsonl(),
                   kPreamble + kToolAnswer)
                  .some_output_tokens().session(kOpencodeSession).stop("stop"));
  // --- pi ------------------------------------------------------------------------------------
  c.push_back(make("pi_mode_json", "pi/mode-json.jsonl", pi_jsonl(), "MOCK: Say the word: tangerine")
                  .session(kUuid).stop("stop").with_model("mock-model"));
  c.push_back(make("pi_mode_json_deltas", "pi/mode-json.jsonl", pi_jsonl_deltas(),
                   "MOCK: Say the word: tangerine")
                  .session(kUuid).stop("stop").with_model("mock-model"));
  c.push_back(make("pi_print_text", "pi/print-text.txt", text_spec(), "MOCK: Say the word: apricot")
                  .no_usage());
  c.push_back(make("pi_anthropic_mode_json", "pi/anthropic-mode-json.jsonl", pi_jsonl(),
                   "MOCK: Say the word: papaya")
                  .session(kUuid).stop("stop").with_model("mock-claude"));
  c.push_back(make("pi_anthropic_print_text", "pi/anthropic-print-text.txt", text_spec(),
                   "MOCK: Say the word: kumquat")
                  .no_usage());
  // pi exits 0 here: the parsed error is the only failure signal. Its auto-retry repeats the
  // agent_start..agent_end block per attempt; every attempt failed, so the last error stands.
  c.push_back(make("pi_error_rate_limit", "pi/error-rate-limit.jsonl", pi_jsonl(), "")
                  .session(kUuid).error("Rate limit reached (scripted)").stop("error")
                  .with_model("mock-model"));
  c.push_back(make("pi_tool_json", "pi/tool-json.jsonl", pi_jsonl(), kToolAnswer)
                  .some_output_tokens().session(kUuid).stop("stop").with_model("mock-model"));
  // GAP: streamed, the deltas of the pre-tool message are part of the text.
  c.push_back(make("pi_tool_json_deltas", "pi/tool-json.jsonl", pi_jsonl_deltas(),
                   kPreamble + kToolAnswer)
                  .some_output_tokens().session(kUuid).stop("stop").with_model("mock-model"));
  // --- Gemini CLI ----------------------------------------------------------------------------
  c.push_back(make("gemini_stream_json", "gemini/stream-json.jsonl", gemini_stream_json(),
                   "MOCK: Say the word: tangerine")
                  .session(kUuid).with_model("gemini-2.5-pro"));
  c.push_back(make("gemini_json", "gemini/json.json", gemini_json(), "MOCK: Say the word: apricot")
                  .session(kUuid));
  // The prompt "--version" on stdin is a prompt, not gemini's option.
  c.push_back(make("gemini_dash_prompt", "gemini/dash-prompt.jsonl", gemini_stream_json(),
                   "MOCK: --version")
                  .session(kUuid).with_model("gemini-2.5-pro"));
  c.push_back(make("gemini_resume_stream_json", "gemini/resume-stream-json.jsonl",
                   gemini_stream_json(), "MOCK: Say the word: nectarine")
                  .session(kUuid).with_model("gemini-2.5-pro"));
  c.push_back(make("gemini_error_rate_limit", "gemini/error-rate-limit.jsonl", gemini_stream_json(),
                   "")
                  .session(kUuid).error("Rate limit reached (scripted)").with_model("gemini-2.5-pro"));
  // GAP: the text before the tool call is part of the answer (as for codex, opencode and pi).
  // Approval mode default: the shell tool is not offered, the model's call of it fails.
  c.push_back(make("gemini_tool_default", "gemini/tool-default.jsonl", gemini_stream_json(),
                   kPreamble + kToolAnswer)
                  .some_output_tokens().session(kUuid).with_model("gemini-2.5-pro"));
  // Approval mode yolo: the shell tool runs.
  c.push_back(make("gemini_tool_yolo", "gemini/tool-yolo.jsonl", gemini_stream_json(),
                   kPreamble + kToolAnswer)
                  .some_output_tokens().session(kUuid).with_model("gemini-2.5-pro"));
  return c;
}

class HarnessRecording : public ::testing::TestWithParam<Case> {};

TEST_P(HarnessRecording, ParsesTheSameWhateverTheChunking) {
  const Case& c = GetParam();
  ASSERT_TRUE(fs::exists(kHarnessDir / c.file)) << "missing recording " << c.file
                                                << " (scripts/record-harnesses.sh)";
  const std::string input = recording(c.file);
  ASSERT_FALSE(input.empty()) << c.file;

  FeedResult whole;
  ASSERT_TRUE(same_for_every_split(c.spec, input, &whole)) << c.file;
  const parsers::ParsedOutput& out = whole.output;
  const std::string got = show(describe(out));

  EXPECT_EQ(out.text, c.text) << got;
  EXPECT_TRUE(out.warnings.empty()) << got;
  EXPECT_EQ(out.structured, c.spec.kind != ParserSpec::Kind::text) << got;

  if (c.error_contains.empty()) {
    EXPECT_FALSE(out.error.has_value()) << got;
  } else {
    ASSERT_TRUE(out.error.has_value()) << got;
    EXPECT_NE(out.error->find(c.error_contains), std::string::npos) << got;
  }

  if (c.usage) {
    ASSERT_TRUE(out.usage.has_value()) << got;
    EXPECT_GE(out.usage->calls, 1) << got;
    if (c.error_contains.empty()) {
      ASSERT_TRUE(out.usage->input_tokens.has_value()) << got;
      EXPECT_GT(*out.usage->input_tokens, 0) << got;
      ASSERT_TRUE(out.usage->output_tokens.has_value()) << got;
      if (c.exact_output_tokens) {
        EXPECT_EQ(*out.usage->output_tokens, words(c.text)) << got;
      } else {
        EXPECT_GT(*out.usage->output_tokens, 0) << got;
      }
    }
  } else {
    EXPECT_FALSE(out.usage.has_value()) << got;
  }

  if (c.session_pattern.empty()) {
    EXPECT_FALSE(out.session_id.has_value()) << got;
  } else {
    ASSERT_TRUE(out.session_id.has_value()) << got;
    EXPECT_TRUE(std::regex_match(*out.session_id, std::regex(c.session_pattern))) << got;
  }
  if (!c.stop_reason.empty()) {
    EXPECT_EQ(out.stop_reason.value_or(""), c.stop_reason) << got;
  }
  if (!c.model.empty()) {
    EXPECT_EQ(out.model.value_or(""), c.model) << got;
  }
}

INSTANTIATE_TEST_SUITE_P(HarnessRecordings, HarnessRecording, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.label; });

/// The session id a spec finds in a recording.
std::string session_of(const ParserSpec& spec, const std::string& file) {
  return feed_whole(spec, recording(file)).output.session_id.value_or("");
}

TEST(HarnessRecordingResume, ClaudeResumeKeepsTheSessionId) {
  const std::string first = session_of(claude_json(), "claude/json.json");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(session_of(claude_json(), "claude/resume-json.json"), first);
  // The resume command line names it.
  EXPECT_NE(recording("claude/resume-json.cmd.txt").find(first), std::string::npos);
}

TEST(HarnessRecordingResume, GeminiResumeKeepsTheSessionId) {
  const std::string first = session_of(gemini_stream_json(), "gemini/stream-json.jsonl");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(session_of(gemini_stream_json(), "gemini/resume-stream-json.jsonl"), first);
  EXPECT_NE(recording("gemini/resume-stream-json.cmd.txt").find(first), std::string::npos);
}

// {model}: the run's model picks its own entry of stats.models (gemini-2.5-pro, dots and all).
TEST(HarnessRecordingGemini, JsonUsageOfTheRunsModel) {
  ParserSpec spec = gemini_json();
  spec.usage = at("stats.models.{model}.tokens");
  const std::string input = recording("gemini/json.json");
  ParserContext context;
  context.model = "gemini-2.5-pro";
  auto parser = parsers::make_parser(spec, parsers::kDefaultMaxOutputBytes, context);
  std::vector<Event> events;
  parser->feed(input, events);
  const auto out = parser->finish(events);
  ASSERT_TRUE(out.usage) << show(describe(out));
  EXPECT_GT(out.usage->input_tokens.value_or(0), 0);
  EXPECT_EQ(out.usage->output_tokens, words("MOCK: Say the word: apricot"));
  EXPECT_EQ(out.usage->cache_read_tokens, 0);
  EXPECT_EQ(out.usage->reasoning_tokens, 0);
  EXPECT_EQ(out.usage->calls, 1);
  // Another model's run finds none.
  context.model = "gemini-2.5-flash";
  auto other = parsers::make_parser(spec, parsers::kDefaultMaxOutputBytes, context);
  other->feed(input, events);
  EXPECT_FALSE(other->finish(events).usage.has_value());
}

// The 429's result line states the error itself: without an error selector it is still found,
// its brackets taken off.
TEST(HarnessRecordingGemini, RateLimitErrorIsStatedOnStdout) {
  const auto stated = parsers::structured_error(recording("gemini/error-rate-limit.jsonl"));
  ASSERT_TRUE(stated.has_value());
  EXPECT_EQ(stated->rfind("API Error: Rate limit reached (scripted)\nPlease wait", 0), 0u) << *stated;
  // The successful run's result line states none.
  EXPECT_FALSE(parsers::structured_error(recording("gemini/stream-json.jsonl")).has_value());
  // And the preset's error selector gives the same message.
  const auto out = feed_whole(gemini_stream_json(), recording("gemini/error-rate-limit.jsonl")).output;
  ASSERT_TRUE(out.error);
  EXPECT_EQ(*out.error, *stated);
}

TEST(HarnessRecordingResume, CodexResumeKeepsTheThreadId) {
  const std::string first = session_of(codex_jsonl(), "codex/exec-json.jsonl");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(session_of(codex_jsonl(), "codex/exec-resume-json.jsonl"), first);
  EXPECT_NE(recording("codex/exec-resume-json.cmd.txt").find(first), std::string::npos);
}

// What drover reads through `-o {output_file}`: only the final message, without a newline; an
// empty file when the turn failed.
TEST(HarnessRecordingCodexOutputFile, HoldsOnlyTheLastMessage) {
  EXPECT_EQ(recording("codex/exec-json.last-message.txt"), "MOCK: Say the word: tangerine");
  EXPECT_EQ(recording("codex/exec-resume-json.last-message.txt"), "MOCK: Say the word: nectarine");
  EXPECT_EQ(recording("codex/tool-read-only.last-message.txt"), kToolAnswer);
  EXPECT_EQ(recording("codex/error-rate-limit.last-message.txt"), "");
}

// Claude's refused tool call is reported in permission_denials (not something ParserSpec can
// select into ParsedOutput today; checked here so the recording keeps showing it).
TEST(HarnessRecordingClaude, DeniedBashShowsUpInPermissionDenials) {
  const json doc = json::parse(recording("claude/tool-denied.json"));
  ASSERT_TRUE(doc.contains("permission_denials"));
  ASSERT_EQ(doc["permission_denials"].size(), 1u) << doc["permission_denials"].dump();
  EXPECT_EQ(doc["permission_denials"][0].value("tool_name", ""), "Bash");
  EXPECT_EQ(doc["permission_denials"][0]["tool_input"].value("command", ""), "touch marker.txt");
  EXPECT_FALSE(doc.value("is_error", true));
}

// Claude's API errors come with subtype "success": only is_error tells them apart.
TEST(HarnessRecordingClaude, ApiErrorsAreFlaggedByIsErrorNotSubtype) {
  for (const char* file : {"claude/error-rate-limit.json", "claude/error-overloaded.json"}) {
    const json doc = json::parse(recording(file));
    EXPECT_TRUE(doc.value("is_error", false)) << file;
    EXPECT_EQ(doc.value("subtype", ""), "success") << file;
  }
}

// Every stdout recording in fixtures/harness has a case above, a .cmd.txt and a .stderr.txt.
TEST(HarnessRecordingFiles, EveryRecordingIsCovered) {
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.file);
  const auto ends_with = [](const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::size_t recordings = 0;
  for (const char* harness : {"claude", "codex", "opencode", "pi", "gemini"}) {
    ASSERT_TRUE(fs::is_directory(kHarnessDir / harness)) << harness;
    for (const auto& entry : fs::directory_iterator(kHarnessDir / harness)) {
      const std::string name = entry.path().filename().string();
      if (ends_with(name, ".cmd.txt") || ends_with(name, ".stderr.txt") ||
          ends_with(name, ".last-message.txt") || name == "gateway.log.jsonl")
        continue;
      ++recordings;
      const std::string rel = std::string(harness) + "/" + name;
      EXPECT_TRUE(covered.count(rel)) << rel << " has no test case";
      const std::string stem = name.substr(0, name.rfind('.'));
      EXPECT_TRUE(fs::exists(entry.path().parent_path() / (stem + ".cmd.txt"))) << rel;
      EXPECT_TRUE(fs::exists(entry.path().parent_path() / (stem + ".stderr.txt"))) << rel;
      // Only the dummy key, and the random port written PORT.
      const std::string cmd = recording(std::string(harness) + "/" + stem + ".cmd.txt");
      for (std::size_t at = cmd.find("sk-"); at != std::string::npos; at = cmd.find("sk-", at + 1))
        EXPECT_EQ(cmd.compare(at, 8, "sk-dummy"), 0) << rel << ": " << cmd.substr(at, 20);
      EXPECT_FALSE(std::regex_search(cmd, std::regex("127\\.0\\.0\\.1:[0-9]"))) << rel;
      EXPECT_NE(cmd.find("127.0.0.1:PORT"), std::string::npos) << rel;
    }
  }
  EXPECT_GE(recordings, 27u);
}

}  // namespace
}  // namespace drover::test
