// The ACP block's options for what an agent needs told another way: systemPrompt, usage
// selectors, modelAliases, configOptions, elicitation, and the placeholders of args.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drover/config.h"

namespace drover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string with_acp(const std::string& acp) {
  return R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"kind": "acp", "command": "agent", "acp": )" +
         acp + "}}]}}}";
}

AcpSpec acp_ok(const std::string& acp) {
  auto [config, error] = parse_config(with_acp(acp), "drover.json");
  EXPECT_FALSE(error) << (error ? error->message : "");
  if (!config) return AcpSpec{};
  return config->providers[0].accounts[0].transport.acp();
}

std::string acp_error(const std::string& acp) {
  auto [config, error] = parse_config(with_acp(acp), "drover.json");
  EXPECT_FALSE(config);
  return error ? error->message : "<no error>";
}

constexpr const char* kAcp = "drover.json: providers.p.accounts[0].transport.acp";

TEST(ConfigAcpOptions, DefaultsSayNothingIsConfigured) {
  AcpSpec spec = acp_ok("{}");
  EXPECT_EQ(spec.system_prompt, AcpSpec::SystemPrompt::none);
  EXPECT_FALSE(spec.usage_result);
  EXPECT_FALSE(spec.usage_update);
  EXPECT_TRUE(spec.model_aliases.empty());
  EXPECT_TRUE(spec.config_options.empty());
  EXPECT_FALSE(spec.elicitation);
}

TEST(ConfigAcpOptions, EveryOptionParsed) {
  AcpSpec spec = acp_ok(R"js({
    "systemPrompt": "leadingBlock",
    "usage": {"result": "_meta.stats", "update": {"path": "counts", "wherePath": "sessionUpdate", "whereEquals": "x"}},
    "modelAliases": {"gpt-4.1": "$runtime|openai|gpt-4.1(openai)"},
    "configOptions": {"fast": true, "thought_level": "high"},
    "elicitation": "cancel"})js");
  EXPECT_EQ(spec.system_prompt, AcpSpec::SystemPrompt::leading_block);
  ASSERT_TRUE(spec.usage_result);
  EXPECT_EQ(spec.usage_result->path, "_meta.stats");
  ASSERT_TRUE(spec.usage_update);
  EXPECT_EQ(spec.usage_update->where_path, "sessionUpdate");
  EXPECT_EQ(spec.usage_update->where_equals, nlohmann::json("x"));
  EXPECT_THAT(spec.model_aliases, ElementsAre(Pair("gpt-4.1", "$runtime|openai|gpt-4.1(openai)")));
  ASSERT_EQ(spec.config_options.size(), 2u);
  EXPECT_EQ(spec.config_options[0].first, "fast") << "in the order written";
  EXPECT_EQ(spec.config_options[0].second, nlohmann::json(true));
  EXPECT_EQ(spec.config_options[1].second, nlohmann::json("high"));
  EXPECT_EQ(spec.elicitation, AcpSpec::Elicitation::cancel);
  EXPECT_EQ(acp_ok(R"({"elicitation": "decline"})").elicitation, AcpSpec::Elicitation::decline);
}

TEST(ConfigAcpOptions, BadValuesNameTheirPath) {
  const std::string acp = kAcp;
  EXPECT_THAT(acp_error(R"({"systemPrompt": "system"})"),
              HasSubstr(acp + ".systemPrompt: expected \"leadingBlock\" or \"none\""));
  EXPECT_THAT(acp_error(R"({"usage": {"prompt": "x"}})"), HasSubstr(acp + ".usage"));
  EXPECT_THAT(acp_error(R"({"usage": "x"})"), HasSubstr(acp + ".usage"));
  EXPECT_THAT(acp_error(R"({"modelAliases": {"a": 3}})"),
              HasSubstr(acp + ".modelAliases.a: expected a model id"));
  EXPECT_THAT(acp_error(R"({"configOptions": {"fast": 1}})"),
              HasSubstr(acp + ".configOptions.fast: expected a value id (string) or a boolean"));
  EXPECT_THAT(acp_error(R"({"elicitation": "accept"})"),
              HasSubstr(acp + ".elicitation: expected \"decline\" or \"cancel\""));
}

TEST(ConfigAcpOptions, ArgsTakeModelSystemAndSessionIdPlaceholders) {
  AcpSpec spec = acp_ok(R"({"args": ["--model={model}", {"when": "resume", "args": ["--resume", "{session_id}"]}, "{{x}}"]})");
  EXPECT_THAT(spec.args, ElementsAre("--model={model}", "--resume", "{session_id}", "{{x}}"));
  EXPECT_THAT(spec.args_group, ElementsAre(0u, 1u, 1u, 2u)) << "a group's tokens share its index";
  const std::string acp = kAcp;
  EXPECT_THAT(acp_error(R"({"args": ["{prompt}"]})"),
              HasSubstr(acp + ".args[0]: placeholder {prompt} is not available in ACP args"));
  EXPECT_THAT(acp_error(R"({"args": ["{nope}"]})"), HasSubstr(acp + ".args[0]: unknown placeholder {nope}"));
  EXPECT_THAT(acp_error(R"({"args": [{"when": "fresh", "args": ["-x", "{files}"]}]})"),
              HasSubstr(acp + ".args[0].args[1]: placeholder {files}"));
  EXPECT_THAT(acp_error(R"({"args": ["a}b"]})"), HasSubstr(acp + ".args[0]: unbalanced"));
}

}  // namespace
}  // namespace drover
