// Secrets of a route (secret-looking env values, API keys, URL credentials) never reach drover's
// output: not the error, the attempts, the evidence, the warnings, stderr or `routes`/`models`.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

constexpr const char* kCanary = "sk-canary-12345";

void expect_no_canary(const CliRun& run, const std::string& what) {
  EXPECT_EQ(run.out.find(kCanary), std::string::npos) << what << " stdout: " << run.out;
  EXPECT_EQ(run.err.find(kCanary), std::string::npos) << what << " stderr: " << run.err;
}

json one_route(const json& transport, const std::string& model = "m") {
  return {{"routing", {{"fallback", {{"on", {{"harness_error", {"retry"}}}}}}}},
          {"providers",
           {{"t", {{"accounts", {{{"id", "a"}, {"transport", transport}, {"models", {model}}}}}}}}}};
}

TEST(CliSecrets, PrintModeFailureDoesNotEchoSecretEnvValues) {
  ScratchDir dir;
  // The harness prints its whole environment and fails; drover retries once (a warning) and
  // reports the failure with its output as evidence.
  json cli = {{"argsTemplate", {"--mode", "env", "--exit", "1", "--prompt", "{prompt}"}},
              {"parser", {{"kind", "text"}}},
              {"env", {{"CANARY_KEY", kCanary}, {"PLAIN_SETTING", "visible-value"}}}};
  auto config = dir.write("drover.json",
                          one_route({{"kind", "cli"}, {"command", fake_agent()}, {"cli", cli}}).dump());
  for (const std::string output : {"json", "text"}) {
    CliRun run = run_drover({"run", "-c", config, "-o", output, "x"});
    EXPECT_NE(run.exit_code, 0) << output;
    expect_no_canary(run, output);
    if (output == "json") {
      // The evidence is still there, with the secret replaced and the rest intact.
      const std::string dump = run.out;
      EXPECT_NE(dump.find("[redacted]"), std::string::npos) << dump;
      EXPECT_NE(dump.find("visible-value"), std::string::npos) << dump;
    }
  }
}

TEST(CliSecrets, AcpFailureDoesNotEchoSecretEnvValues) {
  ScratchDir dir;
  // The agent rejects its arguments, quoting the bad value (the secret) on stderr, and exits.
  json acp = {{"args", {"--chunks", kCanary}}, {"env", {{"ACME_TOKEN", kCanary}}}};
  auto config = dir.write(
      "drover.json", one_route({{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", acp}}).dump());
  for (const std::string output : {"json", "text"}) {
    CliRun run = run_drover({"run", "-c", config, "-o", output, "x"});
    EXPECT_NE(run.exit_code, 0) << output;
    expect_no_canary(run, output);
    if (output == "json") {
      EXPECT_NE(run.out.find("[redacted]"), std::string::npos) << run.out;
    }
  }
}

TEST(CliSecrets, AcpTranscriptAndAnswerDoNotCarrySecretEnvValues) {
  ScratchDir dir;
  json acp = {{"args", {"--chunks", "1"}}, {"env", {{"ACME_TOKEN", kCanary}}}};
  auto config = dir.write(
      "drover.json",
      one_route({{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", acp}}, "fake-large").dump());
  const std::string transcript = dir.path() + "/t.ndjson";
  CliRun run = run_drover({"run", "-c", config, "--transcript", transcript, "-o", "json",
                           std::string("repeat ") + kCanary});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  expect_no_canary(run, "run");
  EXPECT_NE(run.out.find("repeat [redacted]"), std::string::npos) << run.out;
  const std::string lines = read_file(transcript);
  EXPECT_NE(lines.find("session/prompt"), std::string::npos);
  EXPECT_EQ(lines.find(kCanary), std::string::npos) << lines;
}

TEST(CliSecrets, UrlCredentialsAreRedactedFromRoutesAndModels) {
  ScratchDir dir;
  json api = {{"format", "openai-chat"},
              {"baseUrl", std::string("http://user:") + kCanary + "@127.0.0.1:1/v1"}};
  auto config = dir.write("drover.json", one_route({{"kind", "api"}, {"api", api}}).dump());
  CliOptions options;
  options.env["XDG_CACHE_HOME"] = dir.path() + "/cache";
  CliRun text = run_drover({"routes", "-c", config}, options);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("127.0.0.1:1/v1"), std::string::npos) << text.out;
  expect_no_canary(text, "routes");
  CliRun js = run_drover({"routes", "-c", config, "--json"}, options);
  EXPECT_EQ(js.exit_code, 0) << js.err;
  expect_no_canary(js, "routes --json");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"models", "-c", config, "--json", "--refresh"},
        std::vector<std::string>{"models", "-c", config, "--refresh"}}) {
    CliRun models = run_drover(args, options);
    EXPECT_NE(models.out + models.err, "");
    expect_no_canary(models, "models");
  }
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"}, options);
  EXPECT_NE(run.exit_code, 0);
  expect_no_canary(run, "run");
}

TEST(CliSecrets, AnApiKeyPastedAsApiKeyEnvIsAConfigErrorThatDoesNotEchoIt) {
  ScratchDir dir;
  json api = {{"format", "openai-chat"}, {"apiKeyEnv", kCanary}};
  auto config = dir.write("drover.json", one_route({{"kind", "api"}, {"api", api}}).dump());
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("apiKeyEnv"), std::string::npos) << run.err;
  expect_no_canary(run, "run");
  CliRun routes = run_drover({"routes", "-c", config});
  EXPECT_EQ(routes.exit_code, 2);
  expect_no_canary(routes, "routes");
}

TEST(CliSecrets, ABaseUrlWithCredentialsButNoSchemeIsRejectedWithoutEchoingIt) {
  ScratchDir dir;
  json api = {{"format", "openai-chat"}, {"baseUrl", std::string("user:") + kCanary + "@host/v1"}};
  auto config = dir.write("drover.json", one_route({{"kind", "api"}, {"api", api}}).dump());
  CliRun run = run_drover({"routes", "-c", config});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("baseUrl"), std::string::npos) << run.err;
  expect_no_canary(run, "routes");
}

TEST(CliSecrets, KeysFromApiKeyEnvAreRedactedFromWhatTheServerEchoes) {
  ScratchDir dir;
  // Nothing listens on port 1: the error names the endpoint, which carries the key as userinfo
  // too; the pool's keys are secrets of the run wherever they turn up.
  json api = {{"format", "openai-chat"},
              {"apiKeyEnv", "CANARY_POOL"},
              {"apiKeyDelimiter", ","},
              {"baseUrl", std::string("http://") + kCanary + "@127.0.0.1:1/v1"}};
  auto config = dir.write("drover.json", one_route({{"kind", "api"}, {"api", api}}).dump());
  CliOptions options;
  options.env["CANARY_POOL"] = std::string("other-key-1,") + kCanary;
  CliRun run = run_drover({"run", "-c", config, "-o", "json", "x"}, options);
  EXPECT_NE(run.exit_code, 0);
  expect_no_canary(run, "run");
}

}  // namespace
}  // namespace drover::test
