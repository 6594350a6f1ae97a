// RunRequest::json_schema over the API against the mock gateway: each wire format sends the
// schema as the provider's structured-output format, as the gateway's request log recorded it.
#include <chrono>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "support/drover_cli.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

using nlohmann::json;

const json kSchema = {{"$schema", "http://json-schema.org/draft-07/schema#"},
                      {"type", "object"},
                      {"properties", {{"title", {{"type", "string"}}}}},
                      {"required", {"title"}},
                      {"additionalProperties", false}};

// The request bodies the gateway logged (--verbose), once there are `n` (bounded: 10 s; a
// stream's line is written after its last event).
std::vector<json> logged_requests(const std::string& path, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<json> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line).value("request", json()));
    if (out.size() >= n || std::chrono::steady_clock::now() > deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct Wire {
  std::string provider;
  std::string format;
  std::string model;
  bool v1;
};
void PrintTo(const Wire& w, std::ostream* os) { *os << w.provider; }

class JsonSchemaOverTheApi : public ::testing::TestWithParam<Wire> {};

TEST_P(JsonSchemaOverTheApi, IsSentAsTheProvidersResponseFormat) {
  const Wire& w = GetParam();
  ScratchDir dir;
  const std::string log = dir.path() + "/log.jsonl";
  MockGateway gateway({"--log", log, "--verbose"});
  ASSERT_TRUE(gateway.ok());
  ::setenv("DROVER_SCHEMA_KEY", "sk-schema-test", 1);
  json api = {{"format", w.format},
              {"baseUrl", gateway.url() + (w.v1 ? "/v1" : "")},
              {"apiKeyEnv", "DROVER_SCHEMA_KEY"},
              {"parameters", {{"stream", false}, {"systemPrompt", "Be brief."}}}};
  json doc = {{"providers",
               {{w.provider,
                 {{"accounts",
                   {{{"id", "main"}, {"transport", {{"kind", "api"}, {"api", api}}}, {"models", {w.model}}}}}}}}},
              {"routing", {{"fallback", {{"on", json::object()}}}}}};
  auto [config, error] = parse_config(doc.dump(), "test.json");
  ASSERT_TRUE(config) << error->message;
  Client client(std::move(*config));
  RunRequest request;
  request.prompt = "extract the title";
  request.json_schema = kSchema;
  Result r = client.run(request);
  ASSERT_TRUE(r.ok()) << r.error->message;

  // Without a schema the body carries no response format at all.
  RunRequest plain;
  plain.prompt = "no schema";
  ASSERT_TRUE(client.run(plain).ok());

  const auto bodies = logged_requests(log, 2);
  ASSERT_EQ(bodies.size(), 2u);
  json body = bodies[0];  // not const: a missing key reads as null
  ASSERT_TRUE(body.is_object()) << body.dump();
  json none = bodies[1];
  if (w.format == "openai-chat") {
    EXPECT_EQ(body["response_format"],
              (json{{"type", "json_schema"},
                    {"json_schema", {{"name", "answer"}, {"schema", kSchema}, {"strict", false}}}}))
        << body.dump();
    EXPECT_FALSE(none.contains("response_format"));
  } else if (w.format == "openai-responses") {
    EXPECT_EQ(body["text"]["format"],
              (json{{"type", "json_schema"}, {"name", "answer"}, {"schema", kSchema}, {"strict", false}}))
        << body.dump();
    EXPECT_FALSE(none.contains("text") && none["text"].contains("format"));
  } else if (w.format == "gemini") {
    EXPECT_EQ(body["generationConfig"]["responseMimeType"], "application/json") << body.dump();
    EXPECT_EQ(body["generationConfig"]["responseJsonSchema"], kSchema)
        << "responseJsonSchema takes JSON Schema as it is, $schema and additionalProperties too";
    EXPECT_FALSE(none.contains("generationConfig") &&
                 none["generationConfig"].contains("responseJsonSchema"));
  } else {
    // The Messages API has no response format: the system prompt asks for the JSON, schema
    // printed, after the configured system prompt.
    ASSERT_TRUE(body.contains("system")) << body.dump();
    const std::string system = body["system"].is_string() ? body["system"].get<std::string>()
                                                          : body["system"].dump();
    EXPECT_EQ(system.rfind("Be brief.", 0), 0u) << system;
    EXPECT_NE(system.find("conforms to the JSON Schema below"), std::string::npos) << system;
    EXPECT_NE(system.find(kSchema.dump()), std::string::npos) << system;
    const std::string plain_system = none.value("system", json("")).dump();
    EXPECT_EQ(plain_system.find("JSON Schema"), std::string::npos) << plain_system;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryWireFormat, JsonSchemaOverTheApi,
    ::testing::Values(Wire{"openai", "openai-chat", "gpt-4.1", true},
                      Wire{"responses", "openai-responses", "gpt-5.5", true},
                      Wire{"anthropic", "anthropic", "claude-sonnet-4-5", false},
                      Wire{"gemini", "gemini", "gemini-2.5-flash", false}),
    [](const auto& info) { return info.param.provider; });

}  // namespace
}  // namespace drover::test
