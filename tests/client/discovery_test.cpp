// Model discovery (src/client/discovery.cpp): ACP sidecars, list commands, configured models, the
// fallback between them, and the cache.
#include "src/client/discovery.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

Config parse(const json& j) {
  auto [config, error] = parse_config(j.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

json cli_account(const json& discovery, const std::string& command = "/bin/true") {
  return {{"id", "a"},
          {"transport",
           {{"kind", "cli"},
            {"command", command},
            {"cli", {{"argsTemplate", {"{prompt}"}}, {"discovery", discovery}}}}},
          {"models", {{{"id", "m1"}, {"contextWindow", 1000}}, "fake-large"}}};
}

Config with_sidecar(const json& discovery, const std::string& sidecar_command) {
  return parse({{"providers",
                 {{"cli", {{"accounts", {cli_account(discovery)}}}},
                  {"side",
                   {{"accounts",
                     {{{"id", "a"},
                       {"transport", {{"kind", "acp"}, {"command", sidecar_command}}}}}}}}}}});
}

TEST(Discovery, AcpSidecarListsTheAgentsModelsWithConfiguredWindows) {
  Config config = with_sidecar({{"via", "acp"}, {"route", "side"}}, fake_acp_agent());
  ModelsReport r = discover_route_models(config, *config.resolve("cli").first, {});
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.source, "acp");
  EXPECT_EQ(r.current, "fake-small");
  ASSERT_EQ(r.models.size(), 2u);
  EXPECT_EQ(r.models[1].id, "fake-large");
  EXPECT_FALSE(r.models[1].context_window);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Discovery, AFailedSidecarFallsBackToTheConfiguredModels) {
  Config config = with_sidecar({{"via", "acp"}, {"route", "side"}}, "/nonexistent/agent");
  ModelsReport r = discover_route_models(config, *config.resolve("cli").first, {});
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.source, "configured");
  ASSERT_EQ(r.models.size(), 2u);
  EXPECT_EQ(r.models[0].context_window, 1000);
  EXPECT_EQ(r.models[0].context_window_source, "configured");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("ACP discovery failed"), std::string::npos) << r.warnings[0];
}

TEST(Discovery, ListCommandTextAndFallback) {
  Config config = parse({{"providers",
                          {{"p",
                            {{"accounts",
                              {cli_account({{"via", "command"}, {"args", {"m1 (default)\\nother\\n\\n"}}},
                                           "/usr/bin/printf")}}}}}}});
  ModelsReport r = discover_route_models(config, *config.resolve("").first, {});
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.source, "command");
  ASSERT_EQ(r.models.size(), 2u);
  EXPECT_EQ(r.models[0].id, "m1");
  EXPECT_EQ(r.models[0].context_window, 1000) << "configured window for a discovered model";
  EXPECT_EQ(r.models[1].id, "other");

  Config failing = parse({{"providers",
                           {{"p", {{"accounts", {cli_account({{"via", "command"}}, "/bin/false")}}}}}}});
  ModelsReport f = discover_route_models(failing, *failing.resolve("").first, {});
  EXPECT_EQ(f.source, "configured");
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("command discovery failed"), std::string::npos);
}

TEST(Discovery, ListingParsers) {
  DiscoverySpec json_spec;
  json_spec.kind = ParserSpec::Kind::json;
  json_spec.models_path = "data";
  json_spec.context_window_path = "context_length";
  std::string problem;
  auto models = parse_model_listing(
      json_spec, R"({"data":[{"id":"a","context_length":8192},"b",{"name":"no id"}]})", problem);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].context_window, 8192);
  EXPECT_EQ(models[0].context_window_source, "discovered");
  EXPECT_EQ(models[1].id, "b");
  EXPECT_TRUE(parse_model_listing(json_spec, "not json", problem).empty());
  EXPECT_EQ(problem, "the output is not JSON");
  DiscoverySpec jsonl;
  jsonl.kind = ParserSpec::Kind::jsonl;
  problem.clear();
  auto lines = parse_model_listing(jsonl, "{\"id\":\"x\"}\n\ngarbage\n{\"id\":\"y\"}\n", problem);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].id, "y");
  EXPECT_EQ(problem, "a line is not JSON");
}

TEST(Discovery, StaticAndNoneListTheConfiguration) {
  Config config = parse({{"providers", {{"p", {{"accounts", {cli_account({{"via", "static"}})}}}}}}});
  ModelsReport r = discover_route_models(config, *config.resolve("").first, {});
  EXPECT_EQ(r.source, "configured");
  EXPECT_EQ(r.models.size(), 2u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Discovery, ResultsAreCachedUntilTheTtlOrARefresh) {
  ScratchDir dir;
  ScratchDir cache;
  const std::string counter = dir.path() + "/count";
  // A list command that counts its runs.
  const std::string script = dir.write("list.sh", "#!/bin/sh\necho x >> " + counter + "\necho m1\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  Config config = parse({{"providers",
                          {{"p", {{"accounts", {cli_account({{"via", "command"}, {"ttl", 60}}, script)}}}}}}});
  DiscoveryOptions options;
  options.cache_dir = cache.path();
  const Route route = *config.resolve("").first;
  EXPECT_FALSE(discover_route_models(config, route, options).cached);
  ModelsReport again = discover_route_models(config, route, options);
  EXPECT_TRUE(again.cached);
  ASSERT_EQ(again.models.size(), 1u);
  EXPECT_EQ(again.models[0].id, "m1");
  options.refresh = true;
  EXPECT_FALSE(discover_route_models(config, route, options).cached);
  EXPECT_EQ(read_file(counter), "x\nx\n");
  // A damaged cache file is a miss, never a crash.
  options.refresh = false;
  for (const auto& f : std::filesystem::directory_iterator(cache.path()))
    std::ofstream(f.path()) << R"({"at": 99999999999999, "models": [{"id": 5}, "x"], "source": []})";
  EXPECT_FALSE(discover_route_models(config, route, options).cached);
  EXPECT_EQ(read_file(counter), "x\nx\nx\n");
}

TEST(Discovery, ConfigErrorsNameThePath) {
  auto [config, error] = parse_config(
      json({{"providers",
             {{"p", {{"accounts", {cli_account({{"via", "magic"}, {"parser", {{"kind", "xml"}}}})}}}}}}})
          .dump(),
      "t.json");
  ASSERT_FALSE(config);
  EXPECT_NE(error->message.find("cli.discovery.via: expected one of acp, command, static, none"),
            std::string::npos)
      << error->message;
  EXPECT_NE(error->message.find("cli.discovery.parser.kind: expected one of text, json, jsonl"),
            std::string::npos);
}

}  // namespace
}  // namespace drover::test
