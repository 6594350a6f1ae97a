// The config of attachments: top-level `staging` and `transport.<kind>.fileInput`, their
// validation (every error names its JSON path), and what a route accepts.
#include "drover/config.h"
#include "drover/trust.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/drover_cli.h"

namespace drover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using nlohmann::json;

constexpr const char* kAccount = "drover.json: providers.acme.accounts[0].transport";

// One provider `acme` with one account whose transport is `transport`, plus `top` merged in.
std::string config_text(const json& transport, const json& top = json::object()) {
  json doc = {{"providers", {{"acme", {{"accounts", {{{"id", "main"}, {"transport", transport}}}}}}}}};
  doc.update(top);
  return doc.dump();
}

json cli(const json& block) {
  return {{"kind", "cli"}, {"command", "agent"}, {"cli", block}};
}
json cli_with(const json& file_input, const json& args = {"{prompt}", "{files}"}) {
  return cli({{"argsTemplate", args}, {"fileInput", file_input}});
}
json acp_with(const json& file_input) {
  return {{"kind", "acp"}, {"command", "agent"}, {"acp", {{"fileInput", file_input}}}};
}
json api_with(const json& file_input) {
  return {{"kind", "api"}, {"api", {{"format", "anthropic"}, {"fileInput", file_input}}}};
}

Config staging_parse_ok(const std::string& text) {
  auto [config, error] = parse_config(text, "drover.json");
  EXPECT_FALSE(error) << error->message;
  return config ? std::move(*config) : Config{};
}

std::string staging_parse_error(const std::string& text) {
  auto [config, error] = parse_config(text, "drover.json");
  EXPECT_FALSE(config);
  if (!error) return "<no error>";
  EXPECT_EQ(error->code, ErrorCode::config_error);
  return error->message;
}

const TransportSpec& transport_of(const Config& config) {
  return config.providers.at(0).accounts.at(0).transport;
}

TEST(StagingConfig, TheTopLevelBlockReachesEveryRoute) {
  Config config = staging_parse_ok(config_text(cli({{"argsTemplate", {"{prompt}"}}}),
                                       {{"staging",
                                         {{"dir", "/var/tmp//drover/"},
                                          {"maxFileBytes", 1000},
                                          {"maxTotalBytes", 5000},
                                          {"keep", true}}}}));
  EXPECT_EQ(config.staging.dir, "/var/tmp/drover/");
  EXPECT_EQ(config.staging.max_file_bytes, 1000u);
  EXPECT_EQ(config.staging.max_total_bytes, 5000u);
  EXPECT_TRUE(config.staging.keep);
  auto routes = config.routes();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].staging.dir, "/var/tmp/drover/");
  EXPECT_EQ(routes[0].staging.max_file_bytes, 1000u);
  EXPECT_TRUE(routes[0].staging.keep);

  Config defaults = staging_parse_ok(config_text(cli({{"argsTemplate", {"{prompt}"}}})));
  EXPECT_FALSE(defaults.staging.dir);
  EXPECT_EQ(defaults.staging.max_file_bytes, 64ull << 20);
  EXPECT_EQ(defaults.staging.max_total_bytes, 256ull << 20);
  EXPECT_FALSE(defaults.staging.keep);
}

TEST(StagingConfig, BadStagingValuesNameTheirPath) {
  const json transport = cli({{"argsTemplate", {"{prompt}"}}});
  auto with = [&](const json& staging) {
    return staging_parse_error(config_text(transport, {{"staging", staging}}));
  };
  EXPECT_THAT(with({{"dir", "tmp/att"}}),
              HasSubstr("drover.json: staging.dir: expected an absolute directory (starting with "
                        "'/'), got \"tmp/att\""));
  EXPECT_THAT(with({{"dir", "~/att"}}), HasSubstr("staging.dir: expected an absolute directory "
                                                  "(starting with '/'; ~ is not expanded)"));
  EXPECT_THAT(with({{"dir", ""}}), HasSubstr("staging.dir: expected a non-empty string"));
  EXPECT_THAT(with({{"maxFileBytes", 0}}),
              HasSubstr("staging.maxFileBytes: expected a positive integer, got 0"));
  EXPECT_THAT(with({{"maxTotalBytes", -5}}),
              HasSubstr("staging.maxTotalBytes: expected a positive integer"));
  EXPECT_THAT(with({{"maxFileBytes", 1.5}}),
              HasSubstr("staging.maxFileBytes: expected a positive integer"));
  EXPECT_THAT(with({{"keep", "yes"}}), HasSubstr("staging.keep: expected true or false"));
  EXPECT_THAT(with({{"kep", true}}), HasSubstr("staging.kep: unknown key (did you mean \"keep\"?)"));
  EXPECT_THAT(with("/tmp"), HasSubstr("drover.json: staging: expected an object"));
}

TEST(StagingConfig, CliFileInputIsReadWhole) {
  Config config = staging_parse_ok(config_text(cli_with(
      {{"placement", "args"},
       {"perFileArgs", {"--image", "{path}", "--label={name}"}},
       {"categories", {"image", "text", "image"}},
       {"stagingDir", "/srv/stage"},
       {"maxFileBytes", 10},
       {"maxTotalBytes", 20},
       {"keep", false}})));
  const auto& in = transport_of(config).cli().file_input;
  ASSERT_TRUE(in);
  EXPECT_EQ(in->placement, FileInputSpec::Placement::args);
  EXPECT_THAT(in->per_file_args, ElementsAre("--image", "{path}", "--label={name}"));
  EXPECT_THAT(in->categories, ElementsAre(AttachmentCategory::image, AttachmentCategory::text));
  EXPECT_EQ(in->staging_dir, "/srv/stage");
  EXPECT_EQ(in->max_file_bytes, 10u);
  EXPECT_EQ(in->max_total_bytes, 20u);
  EXPECT_EQ(in->keep, false);

  Config prompt = staging_parse_ok(config_text(cli_with(
      {{"placement", "prompt"}, {"mentionTemplate", "@{path}"}, {"separator", " "}},
      {"{prompt}", json::array({"--add-dir", "{attachments_dir}"})})));
  const auto& p = transport_of(prompt).cli().file_input;
  ASSERT_TRUE(p);
  EXPECT_EQ(p->placement, FileInputSpec::Placement::prompt);
  EXPECT_EQ(p->mention_template, "@{path}");
  EXPECT_EQ(p->separator, " ");
  EXPECT_THAT(p->per_file_args, ElementsAre("{path}")) << "the default";
  EXPECT_THAT(p->categories, IsEmpty());
  EXPECT_FALSE(p->keep);

  Config none = staging_parse_ok(config_text(cli({{"argsTemplate", {"{prompt}", "{files}"}}})));
  EXPECT_FALSE(transport_of(none).cli().file_input);
}

TEST(StagingConfig, BadCliFileInputValuesNameTheirPath) {
  auto error = [](const json& file_input) { return staging_parse_error(config_text(cli_with(file_input))); };
  const std::string at = std::string(kAccount) + ".cli.fileInput.";
  EXPECT_THAT(error({{"placement", "argv"}}),
              HasSubstr(at + "placement: expected one of args, prompt, got \"argv\""));
  EXPECT_THAT(error({{"perFileArgs", json::array()}}),
              HasSubstr(at + "perFileArgs: expected a non-empty array of strings"));
  EXPECT_THAT(error({{"perFileArgs", "{path}"}}),
              HasSubstr(at + "perFileArgs: expected a non-empty array of strings"));
  EXPECT_THAT(error({{"perFileArgs", {"--f", "{prompt}"}}}),
              HasSubstr(at + "perFileArgs[1]: unknown placeholder {prompt} (known: path, name)"));
  EXPECT_THAT(error({{"perFileArgs", {"--f", ""}}}),
              HasSubstr(at + "perFileArgs[1]: expected a non-empty string, got \"\""));
  EXPECT_THAT(error({{"perFileArgs", {"{path"}}}),
              HasSubstr(at + "perFileArgs[0]: unbalanced '{' at offset 0"));
  EXPECT_THAT(error({{"perFileArgs", {std::string("a\0b", 3)}}}),
              HasSubstr(at + "perFileArgs[0]: contains a NUL byte"));
  EXPECT_THAT(error({{"placement", "prompt"}, {"mentionTemplate", "see the file"}}),
              HasSubstr(at + "mentionTemplate: must contain {path} or {name}"));
  EXPECT_THAT(error({{"mentionTemplate", "{model}"}}),
              HasSubstr(at + "mentionTemplate: unknown placeholder {model} (known: path, name)"));
  EXPECT_THAT(error({{"separator", 1}}), HasSubstr(at + "separator: expected a string"));
  EXPECT_THAT(error({{"categories", {"image", "video"}}}),
              HasSubstr(at + "categories[1]: expected one of image, document, text, other, got "
                             "\"video\""));
  EXPECT_THAT(error({{"categories", json::array()}}),
              HasSubstr(at + "categories: expected a non-empty array of categories"));
  EXPECT_THAT(error({{"stagingDir", "rel"}}),
              HasSubstr(at + "stagingDir: expected an absolute directory"));
  EXPECT_THAT(error({{"maxFileBytes", 0}}), HasSubstr(at + "maxFileBytes: expected a positive integer"));
  EXPECT_THAT(error({{"maxTotalBytes", "1M"}}),
              HasSubstr(at + "maxTotalBytes: expected a positive integer"));
  EXPECT_THAT(error({{"keep", 1}}), HasSubstr(at + "keep: expected true or false"));
  EXPECT_THAT(error({{"placment", "args"}}),
              HasSubstr(at + "placment: unknown key (did you mean \"placement\"?)"));
}

TEST(StagingConfig, PlacementArgsNeedsFilesInATemplate) {
  const std::string at = std::string(kAccount) + ".cli.fileInput: placement \"args\" needs {files}";
  EXPECT_THAT(staging_parse_error(config_text(cli_with(json::object(), {"{prompt}"}))), HasSubstr(at));
  EXPECT_THAT(staging_parse_error(config_text(cli_with({{"placement", "args"}}, {"{prompt}"}))),
              HasSubstr(at));
  // {attachments_dir} names the directory but passes no file.
  EXPECT_THAT(staging_parse_error(config_text(cli_with(
                  json::object(), {"{prompt}", json::array({"--add-dir", "{attachments_dir}"})}))),
              HasSubstr(at));
  // The streaming template's {files} is enough (a run using the other one is refused then).
  staging_parse_ok(config_text(cli({{"argsTemplate", {"{prompt}"}},
                            {"streaming", {{"argsTemplate", {"{prompt}", "{files}"}}}},
                            {"fileInput", json::object()}})));
  staging_parse_ok(config_text(cli_with(json::object(), {"{prompt}", "--files={files}"})));
}

TEST(StagingConfig, PlacementPromptRefusesFilesInTheTemplate) {
  EXPECT_THAT(staging_parse_error(config_text(cli_with({{"placement", "prompt"}}))),
              HasSubstr(std::string(kAccount) +
                        ".cli.fileInput.placement: \"prompt\" mentions the files in the prompt, so "
                        "the argsTemplate's {files} would stay empty"));
}

TEST(StagingConfig, AcpAndApiFileInputTakeNoPrintModeKeys) {
  for (const std::string kind : {"acp", "api"}) {
    auto with = [&](const json& file_input) {
      return config_text(kind == "acp" ? acp_with(file_input) : api_with(file_input));
    };
    const std::string at = std::string(kAccount) + "." + kind + ".fileInput.";
    const std::string message = staging_parse_error(with({{"placement", "prompt"},
                                                  {"perFileArgs", {"{path}"}},
                                                  {"mentionTemplate", "{path}"},
                                                  {"separator", " "}}));
    for (const std::string key : {"placement", "perFileArgs", "mentionTemplate", "separator"})
      EXPECT_THAT(message, HasSubstr(at + key + ": only valid for print-mode routes "
                                                "(transport.cli.fileInput): a " + kind + " route"))
          << message;
    EXPECT_THAT(staging_parse_error(with({{"categories", {"pdf"}}})),
                HasSubstr(at + "categories[0]: expected one of image, document, text, other"));
    EXPECT_THAT(staging_parse_error(with({{"stagingDir", "~/x"}})), HasSubstr(at + "stagingDir: "));
    Config config = staging_parse_ok(with({{"categories", {"image"}},
                                   {"stagingDir", "/s"},
                                   {"maxFileBytes", 7},
                                   {"maxTotalBytes", 8},
                                   {"keep", true}}));
    const TransportSpec& t = transport_of(config);
    const auto& in = kind == "acp" ? t.acp().file_input : t.api().file_input;
    ASSERT_TRUE(in) << kind;
    EXPECT_THAT(in->categories, ElementsAre(AttachmentCategory::image));
    EXPECT_EQ(in->staging_dir, "/s");
    EXPECT_EQ(in->max_file_bytes, 7u);
    EXPECT_EQ(in->max_total_bytes, 8u);
    EXPECT_EQ(in->keep, true);
  }
}

std::vector<std::string> accepted(const json& transport) {
  std::vector<std::string> out;
  for (auto c : accepted_attachment_categories(transport_of(staging_parse_ok(config_text(transport)))))
    out.emplace_back(to_string(c));
  return out;
}

TEST(StagingConfig, WhatEachRouteAccepts) {
  EXPECT_THAT(accepted(cli({{"argsTemplate", {"{prompt}"}}})), IsEmpty());
  EXPECT_THAT(accepted(cli({{"argsTemplate", {"{prompt}", "{files}"}}})),
              ElementsAre("image", "document", "text", "other"));
  EXPECT_THAT(accepted(cli({{"argsTemplate", {"{prompt}"}},
                            {"streaming", {{"argsTemplate", {"{prompt}", "{files}"}}}}})),
              ElementsAre("image", "document", "text", "other"));
  EXPECT_THAT(accepted(cli_with({{"categories", {"text", "image"}}})), ElementsAre("text", "image"));
  EXPECT_THAT(accepted(cli_with({{"placement", "prompt"}}, {"{prompt}"})),
              ElementsAre("image", "document", "text", "other"));
  EXPECT_THAT(accepted({{"kind", "acp"}, {"command", "agent"}}),
              ElementsAre("image", "document", "text", "other"));
  EXPECT_THAT(accepted(acp_with({{"categories", {"document"}}})), ElementsAre("document"));
  EXPECT_THAT(accepted({{"kind", "api"}, {"api", {{"format", "anthropic"}}}}),
              ElementsAre("image", "document", "text"));
  EXPECT_THAT(accepted(api_with({{"categories", {"image"}}})), ElementsAre("image"));
}

// The global file's staging block survives the merge with the workspace file (and presets).
TEST(StagingConfig, LoadedConfigsKeepTheirStagingBlock) {
  test::ScratchDir dir;
  dir.write("home/.config/drover/config.json",
            config_text(cli({{"argsTemplate", {"{prompt}"}}}),
                        {{"staging", {{"dir", "/srv/att"}, {"keep", true}}}}));
  ConfigLookup lookup;
  lookup.with_presets = true;
  lookup.home = dir.path() + "/home";
  lookup.workspace_dir = dir.path() + "/ws";
  auto [config, error] = load_config(lookup);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(config->staging.dir, "/srv/att");
  EXPECT_TRUE(config->staging.keep);
  for (const auto& route : config->routes()) EXPECT_TRUE(route.staging.keep) << route.id;

  // A workspace file saying where copies go needs trust; once trusted, its block wins.
  const std::string workspace = dir.write(
      "ws/drover.json", json{{"staging", {{"maxFileBytes", 5}}}}.dump());
  auto [untrusted, untrusted_error] = load_config(lookup);
  ASSERT_FALSE(untrusted_error) << untrusted_error->message;
  EXPECT_EQ(untrusted->staging.dir, "/srv/att");
  EXPECT_THAT(untrusted->notices, Not(IsEmpty()));
  std::string key, digest;
  ASSERT_FALSE(trust_file(trust_store_path(lookup), workspace, key, digest));
  auto [trusted, trusted_error] = load_config(lookup);
  ASSERT_FALSE(trusted_error) << trusted_error->message;
  EXPECT_EQ(trusted->staging.max_file_bytes, 5u);
  EXPECT_FALSE(trusted->staging.dir);
}

}  // namespace
}  // namespace drover
