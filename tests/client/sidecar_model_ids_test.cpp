// Model discovery through an ACP sidecar whose agent advertises runtime ids
// (`$runtime|provider|model(provider)`): the print-mode route is shown what it can pass on, the
// ACP route itself the ids.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/client/discovery.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

Config sidecar_config(const json& acp) {
  json config = {
      {"providers",
       {{"cli",
         {{"accounts",
           {{{"id", "a"},
             {"transport",
              {{"kind", "cli"},
               {"command", "/bin/true"},
               {"cli", {{"argsTemplate", {"{prompt}"}}, {"discovery", {{"via", "acp"}, {"route", "side"}}}}}}}}}}}},
        {"side",
         {{"accounts",
           {{{"id", "a"},
             {"transport", {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", acp}}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

TEST(DiscoverySidecar, RuntimeIdsAreShownAsTheNamesThePrintRouteCanPass) {
  Config config = sidecar_config({{"args", {"--model-ids", "runtime"}}});
  ModelsReport cli = discover_route_models(config, *config.resolve("cli").first, {});
  ASSERT_FALSE(cli.error) << cli.error->message;
  ASSERT_EQ(cli.models.size(), 2u);
  EXPECT_EQ(cli.models[0].id, "fake-small");
  EXPECT_EQ(cli.models[1].id, "fake-large");
  EXPECT_EQ(cli.current, "fake-small");
  ModelsReport side = discover_route_models(config, *config.resolve("side").first, {});
  ASSERT_FALSE(side.error) << side.error->message;
  ASSERT_EQ(side.models.size(), 2u);
  EXPECT_EQ(side.models[1].id, "$runtime|fake|fake-large(fake)") << "the ACP route takes the ids";
}

TEST(DiscoverySidecar, AnAliasOfTheSidecarIsShownForTheIdItNames) {
  Config config = sidecar_config(
      {{"args", {"--model-ids", "runtime"}},
       {"modelAliases", {{"large", "$runtime|fake|fake-large(fake)"}}}});
  ModelsReport cli = discover_route_models(config, *config.resolve("cli").first, {});
  ASSERT_FALSE(cli.error) << cli.error->message;
  ASSERT_EQ(cli.models.size(), 2u);
  EXPECT_EQ(cli.models[0].id, "fake-small");
  EXPECT_EQ(cli.models[1].id, "large");
}

}  // namespace
}  // namespace drover::test
