// A configuration in ai-connect's layout (fixtures/config/ai-connect.jsonc, JSON with comments)
// loads unchanged and every route in it runs: the API routes against the mock gateway (key pools
// from account-level credentials, the account's system prompt and default response format on
// the wire), the print-mode and ACP routes on the fake harnesses (a route of one's own and a
// preset named in the transport), the strict and shortlist allowlists, and an unknown selector
// degrading to defaultRouteId.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "support/drover_cli.h"
#include "support/fixtures.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

using nlohmann::json;

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The log lines the gateway wrote (--log --verbose), once there are `n` (bounded: 10 s; a line
// is written when its answer is complete, which may be just after the client has it).
std::vector<json> logged(const std::string& path, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<json> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    if (out.size() >= n || std::chrono::steady_clock::now() > deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A stand-in `claude` for the claude-cli preset: skips the options before `--`, passing
// --model and --append-system-prompt on to the fake agent's json mode (one result line, which
// the preset's stream-json parser reads).
std::string fake_claude(const ScratchDir& dir) {
  const std::string script = dir.path() + "/claude";
  std::ofstream(script) << "#!/bin/sh\nmodel=none\nsystem=none\n"
                        << "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do\n"
                        << "  case \"$1\" in\n"
                        << "    --model) model=\"$2\"; shift ;;\n"
                        << "    --append-system-prompt) system=\"$2\"; shift ;;\n"
                        << "  esac\n  shift\ndone\n"
                        << "[ $# -eq 2 ] || exit 64\n"
                        << "exec " << fake_agent()
                        << " --mode json --model \"$model\" --system \"$system\" --prompt \"$2\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return script;
}

// The first try of each pool's first key fails, so a success proves the router moved on to the
// next key of the pool the credentials list made.
const char* kScript = R"({"rules": [
  {"match": {"apiKey": "sk-pool-1"}, "times": 1, "respond": {"status": 429, "message": "slow down"}},
  {"match": {"apiKey": "sk-ant-env-0003"}, "times": 1, "respond": {"status": 401, "message": "bad key"}}
]})";

class AiConnectLayout : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AI_CONNECT_TEST_KEYS", "sk-pool-1, sk-pool-2", 1);
    ::setenv("AI_CONNECT_TEST_ANTHROPIC", "sk-ant-env-0003", 1);
    const std::string script = dir_.write("script.json", kScript);
    log_ = dir_.path() + "/gateway.jsonl";
    gateway_.emplace(std::vector<std::string>{"--script", script, "--log", log_, "--verbose"});
    ASSERT_TRUE(gateway_->ok());
    std::string text = read_fixture("config/ai-connect.jsonc");
    replace_all(text, "@GATEWAY@", gateway_->url());
    replace_all(text, "@FAKE_AGENT@", fake_agent());
    replace_all(text, "@FAKE_ACP_AGENT@", fake_acp_agent());
    replace_all(text, "@FAKE_CLAUDE@", fake_claude(dir_));
    auto [config, error] = parse_config(text, "ai-connect.jsonc");
    ASSERT_TRUE(config) << error->message;
    client_.emplace(std::move(*config));
  }

  Result run(const std::string& route, const std::string& prompt = "hello there") {
    RunRequest request;
    request.route = route;
    request.prompt = prompt;
    return client_->run(request);
  }

  ScratchDir dir_;
  std::string log_;
  std::optional<MockGateway> gateway_;
  std::optional<Client> client_;
};

TEST_F(AiConnectLayout, OpenAiRouteUsesTheCredentialPoolSystemPromptAndResponseFormat) {
  Result r = run("openai:api:main:gpt-4.1");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "MOCK: hello there");
  ASSERT_EQ(r.attempts.size(), 2u);  // key 1 was told to slow down, key 2 answered
  ASSERT_TRUE(r.attempts[0].error);
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::rate_limit);
  const auto lines = logged(log_, 2);
  ASSERT_EQ(lines.size(), 2u);
  const json& body = lines[1]["request"];
  EXPECT_EQ(body["response_format"], json({{"type", "json_object"}}));
  ASSERT_TRUE(body["messages"].is_array());
  EXPECT_EQ(body["messages"][0]["content"], "Answer in one line.") << body.dump();
  EXPECT_EQ(to_json(r).dump().find("sk-pool"), std::string::npos);
}

TEST_F(AiConnectLayout, AnthropicRouteRotatesFromTheEnvKeyToTheLiteralOne) {
  Result r = run("anthropic:api:main:claude-sonnet-4-5");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "MOCK: hello there");
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].error->code, ErrorCode::auth_error);
  const std::string shown = to_json(r).dump();
  EXPECT_EQ(shown.find("sk-ant-literal-0001"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("sk-ant-env-0003"), std::string::npos) << shown;
}

TEST_F(AiConnectLayout, GeminiRouteSendsTheDefaultJsonSchema) {
  Result r = run("gemini");
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.text, "MOCK: hello there");
  const auto lines = logged(log_, 1);
  ASSERT_EQ(lines.size(), 1u);
  const json& config = lines[0]["request"]["generationConfig"];
  EXPECT_EQ(config["responseMimeType"], "application/json") << config.dump();
  EXPECT_EQ(config["responseJsonSchema"]["properties"]["answer"]["type"], "string");
}

TEST_F(AiConnectLayout, PrintModeRoutesOwnAndPresetGetTheAccountsSystemPrompt) {
  Result own = run("acme:cli:own:acme-1");
  ASSERT_TRUE(own.ok()) << own.error->message;
  EXPECT_EQ(own.text, "echo: hello there [model=acme-1] [system=Be brief.]");
  Result preset = run("acme:claude-cli:preset");
  ASSERT_TRUE(preset.ok()) << preset.error->message;
  EXPECT_EQ(preset.text, "echo: hello there [model=sonnet] [system=Use the preset.]");
  // The request's own system prompt wins over the account's.
  RunRequest request;
  request.route = "acme:cli:own";
  request.prompt = "hi";
  request.system_prompt = "Mine.";
  Result mine = client_->run(request);
  ASSERT_TRUE(mine.ok()) << mine.error->message;
  EXPECT_EQ(mine.text, "echo: hi [model=acme-1] [system=Mine.]");
}

TEST_F(AiConnectLayout, AcpRoutesOwnAndPresetAnswer) {
  Result own = run("agents:acp:acp:fake-large");
  ASSERT_TRUE(own.ok()) << own.error->message;
  EXPECT_EQ(own.text, "FAKE(fake-large): hello there");
  Result preset = run("agents:pi-acp:preset");
  ASSERT_TRUE(preset.ok()) << preset.error->message;
  EXPECT_EQ(preset.text, "FAKE(fake-small): hello there");
}

TEST_F(AiConnectLayout, AllowlistsAndTheUnknownSelectorPolicy) {
  // strict: a model the account does not list never reaches the gateway.
  Result refused = run("openai:api:main:gpt-9");
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, ErrorCode::validation_error);
  EXPECT_NE(refused.error->message.find("modelAllowlistMode is strict"), std::string::npos)
      << refused.error->message;
  RunRequest with_model;
  with_model.route = "openai";
  with_model.model = "gpt-9";
  with_model.prompt = "hello";
  Result also_refused = client_->run(with_model);
  ASSERT_TRUE(also_refused.error);
  EXPECT_EQ(also_refused.error->code, ErrorCode::validation_error);
  // shortlist: another model is passed on.
  Result other = run("anthropic:api:main:claude-opus-5-5");
  ASSERT_TRUE(other.ok()) << other.error->message;
  EXPECT_EQ(other.model, "claude-opus-5-5");
  // An unknown selector runs on defaultRouteId, and the result says so.
  Result degraded = run("no-such-provider:api");
  ASSERT_TRUE(degraded.ok()) << degraded.error->message;
  EXPECT_EQ(degraded.route, "openai:api:main:gpt-4.1");
  ASSERT_FALSE(degraded.warnings.empty());
  EXPECT_NE(degraded.warnings.front().find("no route matches \"no-such-provider:api\""),
            std::string::npos)
      << degraded.warnings.front();
  // Only the shortlist run and the degraded one reached the gateway (two tries each).
  EXPECT_EQ(logged(log_, 4).size(), 4u);
}

}  // namespace
}  // namespace drover::test
