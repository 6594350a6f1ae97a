// One event model whichever transport answers: a tool-using turn through ACP (the fake agent's
// permission-asking tool), the API (the mock gateway's scripted tool call) and print mode (a
// recorded pi stream, replayed by cat) gives tool and usage events with the same fields.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"
#include "support/fixtures.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

using nlohmann::json;

Config shapes_config(const json& j) {
  auto [config, error] = parse_config(j.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

std::vector<Event> run_events(const Config& config, const std::string& route,
                              const std::string& prompt, Result& result) {
  std::vector<Event> events;
  RunRequest request;
  request.prompt = prompt;
  request.route = route;
  request.stream = true;
  if (route == "acp") request.permissions = PermissionPolicy::approve_all;
  Loop loop;
  start_run(loop, config, builtin_transports(), request, [&](const Event& e) { events.push_back(e); },
            [&](Result&& r) { result = std::move(r); });
  loop.run();
  return events;
}

/// The keys of an event's JSON form, those of its tool / permission object as "tool.key" (raw's
/// and the usage object's are left out: the producer's own, and the pinned Usage form that omits
/// counts nobody reported).
std::set<std::string> keys_of(const json& j, const std::string& prefix = "") {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (prefix.empty() && it.key() == "raw") {
      keys.insert("raw");
      continue;
    }
    keys.insert(prefix + it.key());
    if (prefix.empty() && (it.key() == "tool" || it.key() == "permission"))
      for (const auto& k : keys_of(*it, prefix + it.key() + ".")) keys.insert(k);
  }
  return keys;
}

const Event* last_of(const std::vector<Event>& events, Event::Kind kind) {
  const Event* found = nullptr;
  for (const auto& e : events)
    if (e.kind == kind) found = &e;
  return found;
}

/// The last usage event that reports token counts (ACP's usage_update carries only a cost).
const Event* last_usage_with_tokens(const std::vector<Event>& events) {
  const Event* found = nullptr;
  for (const auto& e : events)
    if (e.kind == Event::Kind::usage && e.usage && e.usage->output_tokens) found = &e;
  return found;
}

// A gateway script whose model answers a prompt naming "marker" with text and one bash call.
std::string tool_call_script(ScratchDir& dir) {
  return dir.write(
      "script.json",
      json{{"rules",
            {{{"match", {{"text", "marker"}}},
              {"respond",
               {{"text", "Creating it."},
                {"toolCall", {{"name", "bash"}, {"arguments", {{"command", "touch marker.txt"}}}}}}}}}}}
          .dump());
}

TEST(EventShapes, ToolAndUsageEventsHaveTheSameFieldsFromEveryTransport) {
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  ScratchDir dir;
  MockGateway gateway({"--script", tool_call_script(dir)});
  ASSERT_TRUE(gateway.ok());
  const json pi_parser = {
      {"kind", "jsonl"},
      {"text", {{"path", "message.content"}, {"wherePath", "type"}, {"whereEquals", "turn_end"}}},
      {"usage", {{"path", "message.usage"}, {"wherePath", "type"}, {"whereEquals", "turn_end"}}}};
  const json no_fallback = {{"fallback", {{"on", json::object()}}}};
  const Config config = shapes_config(
      {{"routing", no_fallback},
       {"providers",
        {{"acp",
          {{"accounts",
            {{{"id", "a"},
              {"transport",
               {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", {{"args", {"--tool", "execute"}}}}}},
              {"models", {"fake-large"}}}}}}},
         {"api",
          {{"accounts",
            {{{"id", "a"},
              {"transport",
               {{"kind", "api"},
                {"api",
                 {{"format", "openai-chat"},
                  {"baseUrl", gateway.url() + "/v1"},
                  {"apiKeyEnv", "DROVER_TEST_KEY"},
                  {"parameters", {{"stream", true}}}}}}},
              {"models", {"gpt-4.1"}}}}}}},
         {"cli",
          {{"accounts",
            {{{"id", "a"},
              {"transport",
               {{"kind", "cli"},
                {"command", "cat"},
                {"cli", {{"argsTemplate", {"{prompt}"}}, {"parser", pi_parser}}}}},
              {"models", {"mock-model"}}}}}}}}}});

  struct Run {
    std::string route, prompt;
    std::vector<Event> events;
    Result result;
  };
  std::vector<Run> runs = {{"acp", "marker", {}, {}},
                           {"api", "Create a marker file", {}, {}},
                           {"cli", std::string(DROVER_FIXTURES_DIR) + "/harness/pi/tool-json.jsonl", {}, {}}};
  for (auto& run : runs) {
    run.events = run_events(config, run.route, run.prompt, run.result);
    ASSERT_TRUE(run.result.ok()) << run.route << ": " << run.result.error->message;
  }

  std::set<std::string> tool_keys, usage_keys;
  for (const auto& run : runs) {
    SCOPED_TRACE(run.route);
    const Event* tool = last_of(run.events, Event::Kind::tool);
    ASSERT_NE(tool, nullptr) << "a tool event";
    ASSERT_TRUE(tool->tool);
    EXPECT_FALSE(tool->tool->id.empty());
    EXPECT_FALSE(tool->tool->kind.empty());
    EXPECT_FALSE(tool->tool->status.empty());
    EXPECT_FALSE(tool->raw.is_null()) << "the producer's JSON";
    const Event* usage = last_usage_with_tokens(run.events);
    ASSERT_NE(usage, nullptr) << "a usage event with token counts";
    EXPECT_GT(*usage->usage->output_tokens, 0);
    EXPECT_FALSE(usage->raw.is_null());
    for (const auto& e : run.events)
      EXPECT_FALSE(e.kind == Event::Kind::tool && e.raw.contains("permission")) << "no permission as tool";

    const auto tk = keys_of(to_json(*tool));
    const auto uk = keys_of(to_json(*usage));
    if (tool_keys.empty()) tool_keys = tk;
    if (usage_keys.empty()) usage_keys = uk;
    EXPECT_EQ(tk, tool_keys) << to_json(*tool).dump();
    EXPECT_EQ(uk, usage_keys) << to_json(*usage).dump();
  }
  EXPECT_EQ(usage_keys, (std::set<std::string>{"type", "usage", "raw"}));
  EXPECT_EQ(tool_keys, (std::set<std::string>{"type", "tool", "tool.id", "tool.name", "tool.kind",
                                              "tool.status", "tool.arguments", "tool.result", "raw"}));
  // Field values mapped from each producer.
  const Event* acp_tool = last_of(runs[0].events, Event::Kind::tool);
  EXPECT_EQ(acp_tool->tool->kind, "execute");
  EXPECT_EQ(acp_tool->tool->status, "completed") << "tool_call_update merged into the call";
  EXPECT_EQ(acp_tool->tool->name, "Fake execute tool") << "the tool_call's title kept";
  EXPECT_EQ(acp_tool->tool->result, "fake tool output");
  const Event* acp_permission = last_of(runs[0].events, Event::Kind::permission);
  ASSERT_NE(acp_permission, nullptr);
  EXPECT_EQ(acp_permission->permission->decision, "allowed");
  const Event* api_tool = last_of(runs[1].events, Event::Kind::tool);
  EXPECT_EQ(api_tool->tool->name, "bash");
  EXPECT_EQ(api_tool->tool->arguments, (json{{"command", "touch marker.txt"}}));
  EXPECT_EQ(api_tool->tool->status, "pending");
  const Event* cli_tool = last_of(runs[2].events, Event::Kind::tool);
  EXPECT_EQ(cli_tool->tool->name, "bash");
  EXPECT_EQ(cli_tool->tool->kind, "execute");
  EXPECT_EQ(cli_tool->tool->status, "completed");
  EXPECT_EQ(cli_tool->tool->arguments, (json{{"command", "touch marker.txt"}}));
  EXPECT_EQ(cli_tool->tool->result, "(no output)");
}

TEST(EventShapes, AWholeApiBodyGivesTheEventsAStreamWould) {
  ::setenv("DROVER_TEST_KEY", "sk-test-one", 1);
  ScratchDir dir;
  MockGateway gateway({"--script", tool_call_script(dir)});
  ASSERT_TRUE(gateway.ok());
  const Config config = shapes_config(
      {{"providers",
        {{"api",
          {{"accounts",
            {{{"id", "a"},
              {"transport",
               {{"kind", "api"},
                {"api",
                 {{"format", "anthropic"},
                  {"baseUrl", gateway.url()},
                  {"apiKeyEnv", "DROVER_TEST_KEY"},
                  {"parameters", {{"stream", false}}}}}}},
              {"models", {"claude-sonnet-4-5"}}}}}}}}}});
  Result result;
  auto events = run_events(config, "api", "Create a marker file", result);
  ASSERT_TRUE(result.ok()) << result.error->message;
  const Event* tool = last_of(events, Event::Kind::tool);
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ(tool->tool->name, "bash");
  EXPECT_EQ(tool->tool->status, "pending");
  EXPECT_EQ(tool->tool->arguments, (json{{"command", "touch marker.txt"}}));
  const Event* usage = last_of(events, Event::Kind::usage);
  ASSERT_NE(usage, nullptr);
  ASSERT_TRUE(usage->usage);
  EXPECT_EQ(to_json(*usage->usage), to_json(*result.usage));
}

}  // namespace
}  // namespace drover::test
