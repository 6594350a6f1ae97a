// Attachments at the command line: what `drover routes --json` says each route accepts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

TEST(CliAttachments, RoutesListWhatEachRouteAccepts) {
  ScratchDir dir;
  auto account = [](const std::string& id, const json& transport) {
    return json{{"id", id}, {"transport", transport}};
  };
  const json plain = {{"argsTemplate", {"{prompt}"}}};
  const json files = {{"argsTemplate", {"{prompt}", "{files}"}}};
  json images = files;
  images["fileInput"] = {{"categories", {"image"}}};
  json config = {
      {"providers",
       {{"p",
         {{"accounts",
           {account("plain", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", plain}}),
            account("files", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", files}}),
            account("images", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", images}}),
            account("agent", {{"kind", "acp"}, {"command", fake_acp_agent()}}),
            account("docs", {{"kind", "acp"},
                             {"command", fake_acp_agent()},
                             {"acp", {{"fileInput", {{"categories", {"document", "text"}}}}}}}),
            account("model", {{"kind", "api"}, {"api", {{"format", "anthropic"}}}})}}}}}}};
  const std::string path = dir.write("drover.json", config.dump());
  CliRun run = run_drover({"routes", "-c", path, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::map<std::string, json> accepted;
  for (const auto& route : run.json()) accepted[route["account"]] = route["attachments"];
  const json all = {"image", "document", "text", "other"};
  EXPECT_EQ(accepted["plain"], json::array());
  EXPECT_EQ(accepted["files"], all);
  EXPECT_EQ(accepted["images"], json({"image"}));
  EXPECT_EQ(accepted["agent"], all);
  EXPECT_EQ(accepted["docs"], json({"document", "text"}));
  EXPECT_EQ(accepted["model"], json({"image", "document", "text"}));

  // Every preset's route says it too.
  CliRun presets = run_drover({"routes", "-c", path, "--json", "--all"});
  ASSERT_EQ(presets.exit_code, 0) << presets.err;
  for (const auto& route : presets.json())
    EXPECT_TRUE(route["attachments"].is_array()) << route.dump();
}

}  // namespace
}  // namespace drover::test
