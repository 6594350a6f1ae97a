// Attachments at the command line: `drover run --file` through a print-mode route (staged,
// passed, reported, removed or kept), and what `drover routes --json` says each route accepts.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A workspace with notes.txt and a config whose route hands each file to the fake agent's files
// mode as `--file PATH`; `staging` is the config's top-level block.
struct Workspace {
  ScratchDir dir;
  ScratchDir staging;
  std::string config;
  explicit Workspace(json staging_block = json::object(), json args = {"{files}"}) {
    dir.write("notes.txt", "hello notes\n");
    json cli_args = {"--mode", "files", "--marker", dir.path() + "/started", "--prompt", "{prompt}"};
    for (const auto& a : args) cli_args.push_back(a);
    json doc = json::parse(fake_agent_config(
        {{"argsTemplate", cli_args},
         {"parser", {{"kind", "text"}}},
         {"fileInput", {{"perFileArgs", {"--file", "{path}"}}}}}));
    if (args.empty()) doc["providers"]["t"]["accounts"][0]["transport"]["cli"].erase("fileInput");
    staging_block["dir"] = staging.path();
    doc["staging"] = staging_block;
    config = dir.write("drover.json", doc.dump());
  }
  CliRun run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"run", "--config", config});
    CliOptions options;
    options.cwd = dir.path();
    return run_drover(args, options);
  }
};

TEST(CliPrintAttachments, RunFileStagesPassesAndReportsTheAttachment) {
  Workspace ws;
  CliRun run = ws.run({"-o", "json", "--file", "notes.txt", "look"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  json result = run.json();
  json seen = json::parse(result["text"].get<std::string>());
  ASSERT_EQ(seen["files"].size(), 1u) << seen.dump();
  EXPECT_EQ(seen["files"][0]["content"], "hello notes\n");
  const std::string staged = seen["files"][0]["path"];
  EXPECT_EQ(staged.rfind(fs::canonical(ws.staging.path()).string() + "/", 0), 0u) << staged;
  EXPECT_FALSE(fs::exists(staged));
  EXPECT_TRUE(fs::is_empty(ws.staging.path()));
  ASSERT_EQ(result["attachments"].size(), 1u) << result.dump();
  EXPECT_EQ(result["attachments"][0]["name"], "notes.txt");
  EXPECT_EQ(result["attachments"][0]["source"], "notes.txt");
  EXPECT_EQ(result["attachments"][0]["category"], "text");
  EXPECT_EQ(result["attachments"][0]["delivery"], "args");
  EXPECT_FALSE(result["attachments"][0].contains("keptAt"));
}

TEST(CliPrintAttachments, KeepLeavesTheCopyAndSaysWhere) {
  Workspace ws(json{{"keep", true}});
  CliRun run = ws.run({"--file", "notes.txt", "look"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("drover: warning: attachments kept in " +
                         fs::canonical(ws.staging.path()).string()),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::is_empty(ws.staging.path()));
}

TEST(CliPrintAttachments, ARouteWithoutFilesRefusesBeforeTheHarnessStarts) {
  Workspace ws(json::object(), json::array());
  CliRun run = ws.run({"-o", "json", "--file", "notes.txt", "look"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  json result = run.json();
  EXPECT_EQ(result["error"]["code"], "unsupported_capability") << result.dump();
  EXPECT_FALSE(fs::exists(ws.dir.path() + "/started")) << "the harness was started";
  EXPECT_TRUE(fs::is_empty(ws.staging.path()));
}

TEST(CliPrintAttachments, RoutesListWhatEachRouteAccepts) {
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
