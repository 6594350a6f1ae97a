// The output writers (text, json, jsonl) and the pinned event line shapes.
#include <cerrno>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/output.h"

namespace drover::test {
namespace {

using nlohmann::json;

struct Captured {
  std::string text;
  std::size_t writes = 0;
  std::size_t fail_after = SIZE_MAX;  // writes that succeed before every write fails
  OutputSink sink() {
    return [this](std::string_view piece) {
      if (writes++ >= fail_after) return false;
      text.append(piece);
      return true;
    };
  }
};

Result sample_result(std::string text) {
  Result r;
  r.text = std::move(text);
  r.route = "p:cli:a:m";
  r.model = "m";
  r.warnings = {"w1"};
  return r;
}

TEST(EventJson, DeltaThinkingAndWarningLinesKeepTheirPinnedBytes) {
  EXPECT_EQ(dump_json_line(to_json(Event::make_text(Event::Kind::delta, "a\"b"))),
            R"({"text":"a\"b","type":"delta"})");
  EXPECT_EQ(dump_json_line(to_json(Event::make_text(Event::Kind::thinking, "hm"))),
            R"({"text":"hm","type":"thinking"})");
  EXPECT_EQ(dump_json_line(to_json(Event::make_text(Event::Kind::warning, "careful"))),
            R"({"message":"careful","type":"warning"})");
}

TEST(EventJson, ToolPermissionAndUsageShapes) {
  ToolCall call{"c1", "bash", "execute", "completed", {{"command", "ls"}}, "a\nb"};
  EXPECT_EQ(to_json(Event::make_tool(call, {{"x", 1}})),
            (json{{"type", "tool"},
                  {"tool",
                   {{"id", "c1"}, {"name", "bash"}, {"kind", "execute"}, {"status", "completed"},
                    {"arguments", {{"command", "ls"}}}, {"result", "a\nb"}}},
                  {"raw", {{"x", 1}}}}));
  PermissionEvent p;
  p.tool_call_id = "c1";
  p.title = "Run ls";
  p.kind = "execute";
  p.decision = "allowed";
  p.option_id = "ok";
  p.rule = "approve-all";
  p.options = {{"ok", "Allow", "allow_once"}};
  EXPECT_EQ(to_json(Event::make_permission(p)),
            (json{{"type", "permission"},
                  {"permission",
                   {{"toolCallId", "c1"}, {"title", "Run ls"}, {"kind", "execute"},
                    {"decision", "allowed"}, {"optionId", "ok"}, {"rule", "approve-all"},
                    {"options", {{{"optionId", "ok"}, {"name", "Allow"}, {"kind", "allow_once"}}}}}},
                  {"raw", nullptr}}));
  Usage u;
  u.output_tokens = 4;
  u.calls = 1;
  EXPECT_EQ(to_json(Event::make_usage(u, {{"completion_tokens", 4}})),
            (json{{"type", "usage"},
                  {"usage", {{"outputTokens", 4}, {"calls", 1}}},
                  {"raw", {{"completion_tokens", 4}}}}));
  EXPECT_EQ(to_json(Event::make_usage(std::nullopt)),
            (json{{"type", "usage"}, {"usage", nullptr}, {"raw", nullptr}}));
}

TEST(OutputWriter, TextWritesTheAnswerWithANewlineAndNothingPerEvent) {
  Captured out;
  OutputWriter writer(OutputFormat::text, out.sink());
  EXPECT_TRUE(writer.on_event(Event::make_text(Event::Kind::delta, "ans")));
  EXPECT_EQ(out.text, "");
  Result r = sample_result("ans");
  EXPECT_TRUE(writer.on_result(r));
  EXPECT_EQ(out.text, "ans\n");
  EXPECT_EQ(r.text, "ans") << "text keeps the Result whole";

  Captured nl;
  OutputWriter keeps(OutputFormat::text, nl.sink());
  Result ends = sample_result("x\n");
  keeps.on_result(ends);
  EXPECT_EQ(nl.text, "x\n") << "no second newline";

  Captured failed;
  OutputWriter quiet(OutputFormat::text, failed.sink());
  Result error = sample_result("partial");
  error.error = Error::make(ErrorCode::timeout, "slow");
  EXPECT_TRUE(quiet.on_result(error));
  EXPECT_EQ(failed.text, "") << "a failed run writes no answer";
}

TEST(OutputWriter, JsonWritesTheResultOnceAndNoEvents) {
  Captured out;
  OutputWriter writer(OutputFormat::json, out.sink());
  writer.on_event(Event::make_text(Event::Kind::delta, "ans"));
  EXPECT_EQ(out.text, "");
  Result r = sample_result("the \"answer\" \xc3\xa9");
  const json expected = to_json(r);
  EXPECT_TRUE(writer.on_result(r));
  ASSERT_FALSE(out.text.empty());
  EXPECT_EQ(out.text.back(), '\n');
  EXPECT_EQ(out.text, dump_json_line(expected) + "\n") << "byte-identical to one dump";
  EXPECT_TRUE(r.error == std::nullopt && r.route == "p:cli:a:m") << "the rest of the Result stays";
}

TEST(OutputWriter, JsonlWritesOneLinePerEventThenTheResult) {
  Captured out;
  OutputWriter writer(OutputFormat::jsonl, out.sink());
  writer.on_event(Event::make_text(Event::Kind::delta, "an"));
  writer.on_event(Event::make_tool(ToolCall{"c", "bash", "execute", "pending", nullptr, nullptr}));
  Result r = sample_result("an");
  json expected = to_json(r);
  expected["type"] = "result";
  writer.on_result(r);
  EXPECT_EQ(out.text, R"({"text":"an","type":"delta"})"
                      "\n" +
                          dump_json_line(to_json(Event::make_tool(
                              ToolCall{"c", "bash", "execute", "pending", nullptr, nullptr}))) +
                          "\n" + dump_json_line(expected) + "\n");
}

TEST(OutputWriter, ALongAnswerIsWrittenPiecewiseAndIdentically) {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "line \xe2\x82\xac \"q\" " + std::to_string(i) + "\n";
  Captured out;
  Result r = sample_result(text);
  json expected = to_json(r);
  OutputWriter writer(OutputFormat::json, out.sink());
  ASSERT_TRUE(writer.on_result(r));
  EXPECT_GT(out.writes, 2u) << "more than one piece";
  EXPECT_EQ(out.text, dump_json_line(expected) + "\n");
}

TEST(OutputWriter, AFailedWriteStopsTheOutput) {
  std::string text(1 << 20, 'x');
  Captured out;
  out.fail_after = 1;
  OutputWriter writer(OutputFormat::json, out.sink());
  Result r = sample_result(text);
  EXPECT_FALSE(writer.on_result(r));
  EXPECT_EQ(out.writes, 2u) << "nothing tried after the failed piece";
  Captured events;
  events.fail_after = 0;
  OutputWriter lines(OutputFormat::jsonl, events.sink());
  EXPECT_FALSE(lines.on_event(Event::make_text(Event::Kind::delta, "x")));
}

TEST(FileOutput, RemembersTheFirstErrorAndRefusesLaterWrites) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    OutputWriter writer(OutputFormat::jsonl, file);
    EXPECT_TRUE(writer.on_event(Event::make_text(Event::Kind::warning, "w")));
    EXPECT_EQ(writer.error(), 0);
  }
  std::rewind(file);
  char buf[64] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, file), nullptr);
  EXPECT_EQ(std::string(buf), "{\"message\":\"w\",\"type\":\"warning\"}\n");
  std::fclose(file);

  std::FILE* full = std::fopen("/dev/full", "w");
  if (full == nullptr) GTEST_SKIP() << "no /dev/full";
  FileOutput output(full);
  EXPECT_FALSE(output.write("x"));
  EXPECT_EQ(output.error(), ENOSPC);
  EXPECT_FALSE(output.write("y"));
  std::fclose(full);

  FileOutput gone(stdout);
  gone.fail(EPIPE);
  EXPECT_FALSE(gone.write("never")) << "a failure noticed elsewhere stops writes too";
  EXPECT_EQ(gone.error(), EPIPE);
}

}  // namespace
}  // namespace drover::test
