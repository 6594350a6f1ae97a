// Finding the prompt the way real harnesses send it (HARNESSES.md §2): markup lines dropped,
// content as strings or arrays of parts, tool results skipped.
#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

class GatewayPrompt : public ::testing::Test {
 protected:
  GatewayProcess gw{{}};

  std::string chat_answer(const json& messages) {
    auto r = post(gw.port(), "/v1/chat/completions", {{"model", "m"}, {"messages", messages}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json_body()["choices"][0]["message"]["content"];
  }
  std::string anthropic_answer(const json& messages) {
    auto r = post(gw.port(), "/v1/messages?beta=true",
                  {{"model", "claude-opus-5-5"}, {"max_tokens", 10}, {"messages", messages}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json_body()["content"][0]["text"];
  }
  std::string responses_answer(const json& input) {
    auto r = post(gw.port(), "/v1/responses", {{"model", "gpt-5.5"}, {"input", input}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json_body()["output_text"];
  }
};

TEST_F(GatewayPrompt, ClaudeCodeSystemRemindersAreDropped) {
  json messages = {{{"role", "user"},
                    {"content",
                     {{{"type", "text"},
                       {"text",
                        "<system-reminder>\nAs you answer the user's questions, use this context:\n"
                        "# claudeMd\nCodebase instructions\n</system-reminder>"}},
                      {{"type", "text"}, {"text", "write the marker file"}},
                      {{"type", "text"},
                       {"text", "<system-reminder>\nThe date is today.\n</system-reminder>\n"},
                       {"cache_control", {{"type", "ephemeral"}}}}}}}};
  EXPECT_EQ(anthropic_answer(messages), "MOCK: write the marker file");
}

TEST_F(GatewayPrompt, LinesStartingWithAngleBracketGoOthersStay) {
  json messages = {{{"role", "user"}, {"content", "<note>aside</note>\nfirst line\n<br>\nsecond line\n"}}};
  EXPECT_EQ(chat_answer(messages), "MOCK: first line\nsecond line");
}

TEST_F(GatewayPrompt, CodexEnvironmentContextAndDeveloperMessagesAreSkipped) {
  json input = {
      {{"type", "message"}, {"role", "developer"}, {"content", {{{"type", "input_text"}, {"text", "rules"}}}}},
      {{"type", "message"},
       {"role", "user"},
       {"content",
        {{{"type", "input_text"},
          {"text", "<environment_context>\n  <cwd>/tmp/x</cwd>\n  <shell>bash</shell>\n</environment_context>"}}}}},
      {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "list the files"}}}}}};
  EXPECT_EQ(responses_answer(input), "MOCK: list the files");
}

TEST_F(GatewayPrompt, AfterAToolResultTheLastUserTextIsStillThePrompt) {
  json input = {
      {{"role", "user"}, {"content", "run the tool"}},
      {{"type", "function_call"}, {"call_id", "c1"}, {"name", "exec_command"}, {"arguments", "{}"}},
      {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "Process exited with code 0"}}};
  EXPECT_EQ(responses_answer(input), "MOCK: run the tool");

  json messages = {{{"role", "user"}, {"content", "use bash"}},
                   {{"role", "assistant"},
                    {"content", {{{"type", "tool_use"}, {"id", "t1"}, {"name", "Bash"}, {"input", json::object()}}}}},
                   {{"role", "user"},
                    {"content", {{{"type", "tool_result"}, {"tool_use_id", "t1"}, {"content", "done"}}}}}};
  EXPECT_EQ(anthropic_answer(messages), "MOCK: use bash");

  json chat = {{{"role", "user"}, {"content", "call it"}},
               {{"role", "assistant"}, {"content", nullptr},
                {"tool_calls", {{{"id", "c"}, {"type", "function"}, {"function", {{"name", "bash"}, {"arguments", "{}"}}}}}}},
               {{"role", "tool"}, {"tool_call_id", "c"}, {"content", "ok"}}};
  EXPECT_EQ(chat_answer(chat), "MOCK: call it");
}

TEST_F(GatewayPrompt, ContentPartArraysAndStrings) {
  EXPECT_EQ(chat_answer({{{"role", "user"},
                          {"content", {{{"type", "text"}, {"text", "part one"}},
                                       {{"type", "image_url"}, {"image_url", {{"url", "data:x"}}}},
                                       {{"type", "input_text"}, {"text", "part two"}}}}}}),
            "MOCK: part one\npart two");
  EXPECT_EQ(responses_answer("plain string input"), "MOCK: plain string input");
  EXPECT_EQ(responses_answer(json::array({{{"role", "user"}, {"content", "easy message"}}})),
            "MOCK: easy message");
  EXPECT_EQ(chat_answer({{{"role", "user"}, {"content", "older"}},
                         {{"role", "assistant"}, {"content", "reply"}},
                         {{"role", "user"}, {"content", "  newest  \n"}}}),
            "MOCK: newest");
}

TEST_F(GatewayPrompt, GeminiSkipsModelTurnsAndThoughts) {
  json user = {{"role", "user"},
               {"parts", json::array({{{"text", "<ctx>\nhidden\n</ctx>"}}, {{"text", "gemini prompt"}}})}};
  json model = {{"role", "model"}, {"parts", json::array({{{"text", "thinking"}, {"thought", true}}})}};
  json body = {{"systemInstruction", {{"parts", json::array({{{"text", "sys"}}})}}},
               {"contents", json::array({user, model})}};
  auto r = post(gw.port(), "/v1beta/models/gemini-2.5-flash:generateContent", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(gemini_chunk_text(r.json_body()), "MOCK: gemini prompt");
}

}  // namespace
}  // namespace drover::test::gateway
