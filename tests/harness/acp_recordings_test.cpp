// The JSON-RPC connection and the session/update reader on REAL ACP agent output:
// fixtures/acp/<agent>/<scenario>.stdout is what claude-agent-acp, codex-acp, opencode acp,
// pi-acp and gemini --acp wrote to a client against the mock gateway (scripts/record-acp.py). Fed whole, byte by
// byte and split in two at every line end (and every 101st byte), each recording must give the
// answer the recorder saw (summary.json), the prompt's stop reason and its usage.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/acp_updates.h"
#include "parsers/output_parser.h"
#include "src/rpc/jsonrpc.h"
#include "support/fixtures.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Replay {
  std::string answer;  // message text after the last response that preceded the prompt's
  json prompt_result;
  std::vector<std::string> update_kinds;
  size_t invalid = 0;
  size_t agent_requests = 0;
};

// Feeds `chunks` of one recording into a Connection that has requests 0..max_id pending (the
// recorder's ids), and reads every session/update.
Replay replay(const std::vector<std::string_view>& chunks, int64_t max_id, int64_t prompt_id) {
  Replay out;
  struct Step {
    bool response;
    int64_t id;
    std::string text;
  };
  std::vector<Step> steps;
  rpc::Connection::Handlers handlers;
  handlers.on_notification = [&](const std::string& method, json& params) {
    if (method != "session/update") return;
    AcpUpdate u = read_session_update(params["update"]);
    out.update_kinds.push_back(u.name);
    if (u.kind == AcpUpdate::Kind::message) steps.push_back({false, 0, u.text});
  };
  handlers.on_request = [&](const json&, const std::string&, json&) {
    ++out.agent_requests;
    return false;
  };
  handlers.on_invalid = [&](std::string_view, const std::string&) { ++out.invalid; };
  rpc::Connection connection([](std::string_view) { return true; }, handlers);
  for (int64_t id = 0; id <= max_id; ++id)
    connection.request("recorded", json::object(),
                       [&steps, &out, id, prompt_id](json result,
                                                     std::optional<rpc::RpcError> error) {
                         // Ids the recorder never used fail at close: not a response.
                         if (error && error->code == rpc::code::connection_closed) return;
                         steps.push_back({true, id, {}});
                         if (id == prompt_id) out.prompt_result = std::move(result);
                       });
  for (auto chunk : chunks) connection.feed(chunk);
  connection.close("end of recording");
  size_t start = 0;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].response && steps[i].id < prompt_id) start = i + 1;
  for (size_t i = start; i < steps.size(); ++i)
    if (!steps[i].response) out.answer += steps[i].text;
  return out;
}

struct Recording {
  std::string name;
  std::string stdout_bytes;
  int64_t max_id = 0;
  int64_t prompt_id = -1;
  json summary;  // summary.json's entry for the scenario
};

std::vector<Recording> recordings() {
  std::vector<Recording> all;
  const fs::path root = fs::path(DROVER_FIXTURES_DIR) / "acp";
  for (const auto& agent : fs::directory_iterator(root)) {
    if (!agent.is_directory()) continue;
    json summary = json::parse(read_file((agent.path() / "summary.json").string()));
    for (const auto& [scenario, entry] : summary["scenarios"].items()) {
      if (!entry.contains("answer")) continue;
      const fs::path out = agent.path() / (scenario + ".stdout");
      const fs::path transcript = agent.path() / (scenario + ".transcript.ndjson");
      if (!fs::exists(out) || !fs::exists(transcript)) continue;
      Recording r;
      r.name = agent.path().filename().string() + "/" + scenario;
      r.stdout_bytes = read_file(out.string());
      r.summary = entry;
      std::ifstream in(transcript);
      for (std::string line; std::getline(in, line);) {
        json e = json::parse(line);
        if (e["dir"] != "out" || !e.contains("msg") || !e["msg"].contains("id")) continue;
        if (!e["msg"].contains("method")) continue;
        r.max_id = std::max(r.max_id, e["msg"]["id"].get<int64_t>());
        if (e["msg"]["method"] == "session/prompt") r.prompt_id = e["msg"]["id"].get<int64_t>();
      }
      all.push_back(std::move(r));
    }
  }
  return all;
}

TEST(AcpRecordings, EveryAgentAndScenarioIsPresent) {
  std::set<std::string> names;
  for (const auto& r : recordings()) names.insert(r.name);
  for (const char* agent : {"claude-acp", "codex-acp", "opencode-acp", "pi-acp", "gemini-acp"})
    for (const char* scenario : {"plain", "tool", "cancel"})
      EXPECT_TRUE(names.count(std::string(agent) + "/" + scenario)) << agent << "/" << scenario;
  EXPECT_GE(names.size(), 18u);
}

// One test per agent, so that each gets its own process and timeout: the splits are many.
class AcpRecordingSplits : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Agents, AcpRecordingSplits,
                         ::testing::Values("claude-acp", "codex-acp", "opencode-acp", "pi-acp",
                                           "gemini-acp"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST_P(AcpRecordingSplits, AnswerStopReasonAndUsageWholeAndSplit) {
  size_t replayed = 0;
  for (const auto& r : recordings()) {
    if (r.name.rfind(GetParam() + "/", 0) != 0) continue;
    ++replayed;
    SCOPED_TRACE(r.name);
    ASSERT_GE(r.prompt_id, 0) << "no session/prompt in the transcript";
    const std::string_view bytes = r.stdout_bytes;
    Replay whole = replay({bytes}, r.max_id, r.prompt_id);
    EXPECT_EQ(whole.answer, r.summary["answer"].get<std::string>());
    EXPECT_EQ(whole.invalid, 0u) << "every line of a real agent is a message";
    const json& expected = r.summary["prompt_result"];
    EXPECT_EQ(whole.prompt_result.value("stopReason", ""), expected.value("stopReason", "?"));
    if (expected.contains("usage") && expected["usage"].is_object() &&
        expected["usage"].contains("outputTokens")) {
      auto usage = parsers::normalize_usage(whole.prompt_result["usage"]);
      ASSERT_TRUE(usage);
      EXPECT_EQ(usage->output_tokens, expected["usage"]["outputTokens"].get<int64_t>());
      EXPECT_EQ(usage->input_tokens, expected["usage"]["inputTokens"].get<int64_t>());
    }
    auto same = [&](const Replay& other, const std::string& how) {
      EXPECT_EQ(other.answer, whole.answer) << how;
      EXPECT_EQ(other.update_kinds, whole.update_kinds) << how;
      EXPECT_EQ(other.prompt_result, whole.prompt_result) << how;
      EXPECT_EQ(other.agent_requests, whole.agent_requests) << how;
    };
    std::vector<std::string_view> bytewise;
    for (size_t i = 0; i < bytes.size(); ++i) bytewise.push_back(bytes.substr(i, 1));
    same(replay(bytewise, r.max_id, r.prompt_id), "byte by byte");
    for (size_t at = 1; at < bytes.size(); ++at) {
      const bool near_line_end = bytes[at - 1] == '\n' || bytes[at] == '\n' ||
                                 (at + 1 < bytes.size() && bytes[at + 1] == '\n');
      if (!near_line_end && at % 101 != 0) continue;
      same(replay({bytes.substr(0, at), bytes.substr(at)}, r.max_id, r.prompt_id),
           "split at " + std::to_string(at));
    }
  }
  EXPECT_GT(replayed, 0u) << "no recording of " << GetParam();
}

TEST(AcpRecordings, ToolScenariosCarryToolUpdatesAndClaudeAsksPermission) {
  for (const auto& r : recordings()) {
    if (r.name.find("/tool") == std::string::npos) continue;
    SCOPED_TRACE(r.name);
    Replay whole = replay({r.stdout_bytes}, r.max_id, r.prompt_id);
    const bool tool_updates =
        std::count(whole.update_kinds.begin(), whole.update_kinds.end(), "tool_call") +
            std::count(whole.update_kinds.begin(), whole.update_kinds.end(), "tool_call_update") >
        0;
    EXPECT_TRUE(tool_updates);
    if (r.name.rfind("claude-acp/", 0) == 0) {
      EXPECT_EQ(whole.agent_requests, 1u);
    }
  }
}

TEST(AcpUpdates, ReadsEveryKind) {
  auto message = read_session_update(
      json::parse(R"({"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hi"}})"));
  EXPECT_EQ(message.kind, AcpUpdate::Kind::message);
  EXPECT_EQ(message.text, "hi");
  auto image = read_session_update(json::parse(
      R"({"sessionUpdate":"agent_message_chunk","content":{"type":"image","data":"AA==","mimeType":"image/png"}})"));
  EXPECT_EQ(image.kind, AcpUpdate::Kind::message);
  EXPECT_EQ(image.text, "");
  auto tool = read_session_update(
      json::parse(R"({"sessionUpdate":"tool_call","toolCallId":"t1","kind":"execute","title":"ls"})"));
  EXPECT_EQ(tool.kind, AcpUpdate::Kind::tool);
  EXPECT_EQ(tool.tool_call_id, "t1");
  EXPECT_EQ(tool.tool_kind, "execute");
  auto usage = read_session_update(json::parse(
      R"({"sessionUpdate":"usage_update","used":5,"size":10,"cost":{"amount":0.5,"currency":"USD"}})"));
  EXPECT_EQ(usage.cost_usd, 0.5);
  auto euro = read_session_update(json::parse(
      R"({"sessionUpdate":"usage_update","used":5,"size":10,"cost":{"amount":0.5,"currency":"EUR"}})"));
  EXPECT_FALSE(euro.cost_usd);
  auto other = read_session_update(json::parse(R"({"sessionUpdate":"future_thing","entries":[]})"));
  EXPECT_EQ(other.kind, AcpUpdate::Kind::other);
  EXPECT_EQ(other.name, "future_thing");
  EXPECT_EQ(read_session_update(json::parse("[1]")).kind, AcpUpdate::Kind::other);
}

}  // namespace
}  // namespace drover::test
