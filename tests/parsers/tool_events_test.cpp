// Tool and permission events read from the recorded harness streams (fixtures/harness/), the
// same whole and split at every byte boundary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "parsers/tool_events.h"
#include "tests/parsers/split_feed.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

using nlohmann::json;

/// A jsonl spec with no selector but usage: tool events need none.
ParserSpec jsonl_spec(const std::string& usage_path = "", const std::string& usage_type = "") {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::jsonl;
  if (!usage_type.empty()) {
    Selector s;
    s.path = usage_path;
    s.where_path = "type";
    s.where_equals = usage_type;
    spec.usage = s;
  }
  return spec;
}

std::vector<Event> events_of(const FeedResult& r, Event::Kind kind) {
  std::vector<Event> out;
  for (const auto& e : r.events)
    if (e.kind == kind) out.push_back(e);
  return out;
}

FeedResult feed_recording(const ParserSpec& spec, const std::string& file) {
  const std::string input = read_fixture("harness/" + file);
  FeedResult whole;
  EXPECT_TRUE(same_for_every_split(spec, input, &whole)) << file;
  return whole;
}

TEST(ToolEvents, ClaudeStreamJsonToolUseDenialAndResult) {
  FeedResult r = feed_recording(jsonl_spec("", "result"), "claude/tool-denied-stream.jsonl");
  auto tools = events_of(r, Event::Kind::tool);
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].tool->id, "toolu_mock_000011_1");
  EXPECT_EQ(tools[0].tool->name, "Bash");
  EXPECT_EQ(tools[0].tool->kind, "execute");
  EXPECT_EQ(tools[0].tool->status, "pending");
  EXPECT_EQ(tools[0].tool->arguments["command"], "touch marker.txt");
  EXPECT_TRUE(tools[0].tool->result.is_null());
  EXPECT_EQ(tools[0].raw["type"], "tool_use");
  EXPECT_EQ(tools[1].tool->id, "toolu_mock_000011_1");
  EXPECT_EQ(tools[1].tool->name, "Bash") << "the result event keeps what the call said";
  EXPECT_EQ(tools[1].tool->arguments["command"], "touch marker.txt");
  EXPECT_EQ(tools[1].tool->status, "failed");
  ASSERT_TRUE(tools[1].tool->result.is_string());
  EXPECT_NE(tools[1].tool->result.get<std::string>().find("needs approval"), std::string::npos);

  auto permissions = events_of(r, Event::Kind::permission);
  ASSERT_EQ(permissions.size(), 1u);
  EXPECT_EQ(permissions[0].permission->tool_call_id, "toolu_mock_000011_1");
  EXPECT_EQ(permissions[0].permission->title, "Bash");
  EXPECT_EQ(permissions[0].permission->kind, "execute");
  EXPECT_EQ(permissions[0].permission->decision, "denied");
  EXPECT_EQ(permissions[0].permission->rule, "harness");
  EXPECT_EQ(permissions[0].raw["subtype"], "permission_denied");

  auto usage = events_of(r, Event::Kind::usage);
  ASSERT_EQ(usage.size(), 1u) << "the result line's usage";
  ASSERT_TRUE(usage[0].usage);
  EXPECT_EQ(usage[0].usage->input_tokens, 5204);
  EXPECT_EQ(usage[0].raw["type"], "result");
}

TEST(ToolEvents, PiToolExecutionStartAndEnd) {
  FeedResult r = feed_recording(jsonl_spec("message.usage", "turn_end"), "pi/tool-json.jsonl");
  auto tools = events_of(r, Event::Kind::tool);
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].tool->id, "call_mock_000017_1");
  EXPECT_EQ(tools[0].tool->name, "bash");
  EXPECT_EQ(tools[0].tool->kind, "execute");
  EXPECT_EQ(tools[0].tool->status, "in_progress");
  EXPECT_EQ(tools[0].tool->arguments, (json{{"command", "touch marker.txt"}}));
  EXPECT_EQ(tools[1].tool->status, "completed");
  EXPECT_EQ(tools[1].tool->arguments, (json{{"command", "touch marker.txt"}}));
  EXPECT_EQ(tools[1].tool->result, "(no output)");
  EXPECT_EQ(tools[1].raw["type"], "tool_execution_end");
  auto usage = events_of(r, Event::Kind::usage);
  ASSERT_EQ(usage.size(), 2u) << "one per turn_end, as reported";
  EXPECT_EQ(usage[0].usage->output_tokens, 7);
  EXPECT_EQ(usage[1].usage->output_tokens, 5);
  EXPECT_EQ(r.output.usage->output_tokens, 12) << "the result sums them";
}

TEST(ToolEvents, OpencodeToolUsePart) {
  FeedResult r = feed_recording(jsonl_spec("part", "step_finish"), "opencode/tool-json.jsonl");
  auto tools = events_of(r, Event::Kind::tool);
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].tool->id, "call_mock_000015_1");
  EXPECT_EQ(tools[0].tool->name, "bash");
  EXPECT_EQ(tools[0].tool->kind, "execute");
  EXPECT_EQ(tools[0].tool->status, "completed");
  EXPECT_EQ(tools[0].tool->arguments, (json{{"command", "touch marker.txt"}}));
  EXPECT_EQ(tools[0].tool->result, "(no output)");
  EXPECT_EQ(events_of(r, Event::Kind::usage).size(), 2u);
}

TEST(ToolEvents, CodexRecordingHasNoToolItems) {
  FeedResult r = feed_recording(jsonl_spec("usage", "turn.completed"), "codex/tool-read-only.jsonl");
  EXPECT_TRUE(events_of(r, Event::Kind::tool).empty()) << "codex printed no command_execution item";
  EXPECT_EQ(events_of(r, Event::Kind::usage).size(), 1u);
}

TEST(ToolEvents, JsonDocumentReportsItsUsageOnce) {
  ParserSpec spec;
  spec.kind = ParserSpec::Kind::json;
  Selector usage;
  usage.path = "";
  spec.usage = usage;
  FeedResult r = feed_recording(spec, "claude/json.json");
  auto events = events_of(r, Event::Kind::usage);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(to_json(*events[0].usage), to_json(*r.output.usage));
}

TEST(ToolEvents, OpenCallsAreBounded) {
  parsers::ToolEventReader reader;
  std::vector<Event> out;
  for (int i = 0; i < 1000; ++i)
    reader.read({{"type", "tool_execution_start"}, {"toolCallId", "c" + std::to_string(i)}, {"toolName", "read"}}, out);
  reader.read({{"type", "tool_execution_end"}, {"toolCallId", "c0"}, {"result", "r"}}, out);
  ASSERT_EQ(out.size(), 1001u);
  EXPECT_EQ(out.back().tool->name, "") << "c0 was forgotten; its end still makes an event";
  EXPECT_EQ(out.back().tool->status, "completed");
  reader.read({{"type", "tool_execution_end"}, {"toolCallId", "c999"}, {"result", "r"}}, out);
  EXPECT_EQ(out.back().tool->name, "read");
  EXPECT_EQ(out.back().tool->kind, "read");
}

TEST(ToolEvents, UnrelatedShapesGiveNothing) {
  parsers::ToolEventReader reader;
  std::vector<Event> out;
  for (const char* line : {R"({"type":"assistant","message":"x"})", R"({"type":"user"})",
                           R"({"type":"tool_use","part":{"state":3}})", R"([1,2])",
                           R"({"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}})"})
    reader.read(json::parse(line), out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace drover::test
