// Configuration parsing, validation, route resolution and file lookup (src/config/).
#include "drover/config.h"
#include "src/config/presets.h"
#include "src/config/trust.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <map>
#include <stdexcept>

#include "harness/child_common.h"
#include "parsers/noise_filter.h"
#include "support/fixtures.h"

namespace drover {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A temporary directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "drover-config-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  // Writes `text` to `relative`, creating parent directories; returns the full path.
  std::string write(const std::string& relative, const std::string& text) const {
    const fs::path p = path_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  fs::path path_;
};

// The smallest valid account body, for building configs in tests.
std::string cli_account(const std::string& id, const std::string& models = "[]",
                        const std::string& transport_extra = "") {
  return R"({"id": ")" + id + R"(", "transport": {"command": "agent", )" + transport_extra +
         R"("cli": {"argsTemplate": ["{prompt}"]}}, "models": )" + models + "}";
}

std::string provider(const std::string& accounts) { return R"({"accounts": [)" + accounts + "]}"; }

Config parse_ok(const std::string& text, const std::string& origin = "drover.json") {
  auto [config, error] = parse_config(text, origin);
  EXPECT_FALSE(error.has_value()) << (error ? error->message : "");
  if (!config) return Config{};
  return *config;
}

// Parses text that must fail and returns the error message.
std::string parse_error(const std::string& text, const std::string& origin = "drover.json") {
  auto [config, error] = parse_config(text, origin);
  EXPECT_FALSE(config.has_value());
  if (!error) return "<no error>";
  EXPECT_EQ(error->code, ErrorCode::config_error);
  return error->message;
}

// Wraps a `cli` object body in a one-provider, one-account config.
std::string with_cli(const std::string& cli_body, const std::string& transport_extra = "") {
  return R"({"providers": {"acme": {"accounts": [{"id": "main", "transport": {"command": "agent", )" +
         transport_extra + R"("cli": )" + cli_body + "}}]}}}";
}

constexpr const char* kCli = "drover.json: providers.acme.accounts[0].transport.cli";

std::vector<std::string> route_ids(const Config& config) {
  std::vector<std::string> ids;
  for (const auto& r : config.routes()) ids.push_back(r.id);
  return ids;
}

size_t count_lines(const std::string& s) {
  return s.empty() ? 0 : static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

// ---- parsing into structs -----------------------------------------------------------------------

TEST(ConfigParse, FullConfigRoundTrip) {
  const std::string path = test::fixture_path("config/full.json");
  const Config c = parse_ok(test::read_fixture("config/full.json"), path);

  EXPECT_EQ(c.default_route, "acme:cli:main:acme-1");
  EXPECT_THAT(c.sources, ElementsAre(path));
  ASSERT_EQ(c.providers.size(), 2u);

  const ProviderSpec& zeta = c.providers[0];
  EXPECT_EQ(zeta.id, "zeta");
  ASSERT_EQ(zeta.accounts.size(), 1u);
  const AccountSpec& work = zeta.accounts[0];
  EXPECT_EQ(work.id, "work");
  EXPECT_TRUE(work.models.empty());
  EXPECT_EQ(work.transport.kind, TransportKind::cli);
  EXPECT_EQ(work.transport.id, "print");
  EXPECT_EQ(work.transport.command, "/usr/bin/zeta-agent");
  const CliSpec& zcli = work.transport.cli();
  EXPECT_EQ(zcli.input, CliSpec::Input::stdin_);
  EXPECT_EQ(zcli.args_template,
            (std::vector<std::vector<std::string>>{{"run"}, {"--session", "{session_id}"}}));
  EXPECT_EQ(zcli.parser.kind, ParserSpec::Kind::jsonl);
  ASSERT_TRUE(zcli.parser.text.has_value());
  EXPECT_EQ(zcli.parser.text->path, "delta.text");
  EXPECT_EQ(zcli.parser.text->where_path, "type");
  EXPECT_EQ(zcli.parser.text->where_equals, nlohmann::json("delta"));
  ASSERT_TRUE(zcli.parser.usage.has_value());
  EXPECT_EQ(zcli.parser.usage->where_equals, nlohmann::json("done"));
  ASSERT_TRUE(zcli.parser.error.has_value());
  EXPECT_EQ(zcli.parser.error->path, "error.message");
  EXPECT_EQ(zcli.parser.error->where_path, "");
  EXPECT_FALSE(zcli.parser.error->where_equals.has_value());
  ASSERT_TRUE(zcli.parser.session_id.has_value());
  EXPECT_EQ(zcli.parser.session_id->path, "session");
  ASSERT_TRUE(zcli.parser.stop_reason.has_value());
  EXPECT_EQ(zcli.parser.stop_reason->where_equals, nlohmann::json(true));
  ASSERT_TRUE(zcli.parser.model.has_value());
  EXPECT_EQ(zcli.parser.model->path, "model");

  const ProviderSpec& acme = c.providers[1];
  EXPECT_EQ(acme.id, "acme");
  ASSERT_EQ(acme.accounts.size(), 2u);
  const AccountSpec& main = acme.accounts[0];
  EXPECT_EQ(main.transport.id, "cli");  // defaults to the kind
  EXPECT_EQ(main.transport.command, "acme-agent");
  const CliSpec& cli = main.transport.cli();
  EXPECT_EQ(cli.args_template, (std::vector<std::vector<std::string>>{{"-p"},
                                                                      {"{prompt}"},
                                                                      {"--model", "{model}"},
                                                                      {"--format=json"},
                                                                      {"--system={system}"},
                                                                      {"{files}"},
                                                                      {"-o", "{output_file}"},
                                                                      {"{{literal}}"}}));
  EXPECT_EQ(cli.input, CliSpec::Input::arg);
  EXPECT_EQ(cli.parser.kind, ParserSpec::Kind::json);
  ASSERT_TRUE(cli.parser.text && cli.parser.usage && cli.parser.error && cli.parser.session_id &&
              cli.parser.stop_reason && cli.parser.model);
  EXPECT_EQ(cli.parser.text->path, "result");
  EXPECT_EQ(cli.parser.usage->path, "usage");
  EXPECT_EQ(cli.parser.error->path, "error");
  EXPECT_EQ(cli.parser.session_id->path, "session_id");
  EXPECT_EQ(cli.parser.stop_reason->path, "stop_reason");
  EXPECT_EQ(cli.parser.model->path, "model");
  EXPECT_EQ(cli.env, (std::map<std::string, std::string>{{"EMPTY", ""}, {"FOO", "bar"}}));
  EXPECT_THAT(cli.clear_env, ElementsAre("CLAUDECODE", "OTHER"));
  ASSERT_TRUE(cli.cwd.has_value());
  EXPECT_EQ(*cli.cwd, (fs::path(DROVER_FIXTURES_DIR) / "work").lexically_normal().string());
  EXPECT_EQ(cli.max_output_bytes, 1048576u);
  EXPECT_EQ(cli.watchdog.start_timeout_ms, 30000);
  EXPECT_EQ(cli.watchdog.idle_timeout_ms, 120000);
  EXPECT_EQ(cli.watchdog.total_timeout_ms, 600000);
  EXPECT_EQ(cli.watchdog.grace_ms, 2500);
  EXPECT_EQ(cli.watchdog.drain_ms, 250);
  ASSERT_EQ(main.models.size(), 2u);
  EXPECT_EQ(main.models[0].id, "acme-1");
  EXPECT_FALSE(main.models[0].context_window.has_value());
  EXPECT_EQ(main.models[1].id, "acme-2");
  EXPECT_EQ(main.models[1].context_window, 200000);

  const CliSpec& spare = acme.accounts[1].transport.cli();
  EXPECT_EQ(spare.parser.kind, ParserSpec::Kind::text);
  EXPECT_FALSE(spare.parser.trim);
  EXPECT_FALSE(spare.parser.strip_ansi);
}

TEST(ConfigParse, DefaultsForOmittedKeys) {
  const Config c = parse_ok(R"({"providers": {"p": )" + provider(cli_account("a")) + "}}");
  ASSERT_EQ(c.providers.size(), 1u);
  const AccountSpec& a = c.providers[0].accounts[0];
  EXPECT_EQ(a.transport.kind, TransportKind::cli);
  EXPECT_EQ(a.transport.id, "cli");
  const CliSpec& cli = a.transport.cli();
  EXPECT_EQ(cli.input, CliSpec::Input::arg);
  EXPECT_EQ(cli.parser.kind, ParserSpec::Kind::text);
  EXPECT_TRUE(cli.parser.trim);
  EXPECT_TRUE(cli.parser.strip_ansi);
  EXPECT_FALSE(cli.parser.text.has_value());
  EXPECT_TRUE(cli.env.empty());
  EXPECT_FALSE(cli.cwd.has_value());
  EXPECT_EQ(cli.max_output_bytes, 16ull << 20);
  EXPECT_FALSE(cli.watchdog.start_timeout_ms.has_value());
  EXPECT_FALSE(cli.watchdog.idle_timeout_ms.has_value());
  EXPECT_EQ(cli.watchdog.total_timeout_ms, kDefaultHarnessTimeoutMs);
  EXPECT_EQ(cli.watchdog.grace_ms, 2000);
  EXPECT_EQ(cli.watchdog.drain_ms, 500);
  EXPECT_FALSE(c.default_route.has_value());
}

TEST(ConfigParse, NoiseMarkersAreReadIntoTheFilterMarkersAndMergedAfterTheBuiltInOnes) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "noiseMarkers": {"builtin": false, "lines": ["hi"],
          "prefixes": ["[x] "], "regexes": ["v\\d+"], "afterNoise": ["--"],
          "blocks": [["<a>", "</a>"]]}})"));
  const NoiseSpec& noise = c.providers[0].accounts[0].transport.cli().noise;
  EXPECT_FALSE(noise.builtin_markers);
  EXPECT_THAT(noise.markers.lines, ElementsAre("hi"));
  EXPECT_THAT(noise.markers.prefixes, ElementsAre("[x] "));
  EXPECT_THAT(noise.markers.regexes, ElementsAre("v\\d+"));
  EXPECT_THAT(noise.markers.after_noise, ElementsAre("--"));
  ASSERT_EQ(noise.markers.blocks.size(), 1u);
  EXPECT_EQ(noise.markers.blocks[0].first, "<a>");
  // Switched off, the route's markers are all the filter gets; on, they follow the built-in ones.
  EXPECT_THAT(markers_for(noise).lines, ElementsAre("hi"));
  NoiseSpec with_builtin = noise;
  with_builtin.builtin_markers = true;
  const parsers::NoiseMarkers merged = markers_for(with_builtin);
  const parsers::NoiseMarkers builtin = parsers::default_noise_markers();
  ASSERT_EQ(merged.lines.size(), builtin.lines.size() + 1);
  EXPECT_EQ(merged.lines.back(), "hi");
  EXPECT_EQ(merged.blocks.size(), builtin.blocks.size() + 1);
  EXPECT_EQ(merged.after_noise.back(), "--");
}

TEST(ConfigParse, ATransportHoldsOnlyTheBlockOfItsKind) {
  const Config c = parse_ok(
      R"({"providers": {"p": {"accounts": [
           {"id": "a", "transport": {"kind": "api", "api": {"format": "anthropic"}}},
           {"id": "b", "transport": {"kind": "acp", "command": "agent"}}]}}})");
  const TransportSpec& api = c.providers[0].accounts[0].transport;
  EXPECT_EQ(api.kind, TransportKind::api);
  ASSERT_NE(api.if_api(), nullptr);
  EXPECT_EQ(api.api().format, "anthropic");
  EXPECT_EQ(api.if_cli(), nullptr);
  EXPECT_EQ(api.if_acp(), nullptr);
  const TransportSpec& acp = c.providers[0].accounts[1].transport;
  EXPECT_NE(acp.if_acp(), nullptr);
  EXPECT_EQ(acp.if_api(), nullptr);
  TransportSpec changed = acp;
  changed.set_kind(TransportKind::cli);
  EXPECT_EQ(changed.kind, TransportKind::cli);
  EXPECT_EQ(changed.if_acp(), nullptr);
  EXPECT_EQ(changed.cli().parser.kind, ParserSpec::Kind::text);
}

TEST(ConfigParse, CommentsEverywhere) {
  const Config c = parse_ok(R"(// leading line comment
/* block
   comment */ {
  "providers": { // after a brace
    "p": { "accounts": [ /* inside an array */ )" +
                            cli_account("a", R"(["m1", /* between */ "m2"])") + R"( ] }
  } /* trailing */
}
// final)");
  EXPECT_THAT(route_ids(c), ElementsAre("p:cli:a:m1", "p:cli:a:m2"));
}

TEST(ConfigParse, EmptyObjectIsAnEmptyConfig) {
  const Config c = parse_ok("{}");
  EXPECT_TRUE(c.providers.empty());
  EXPECT_TRUE(c.routes().empty());
}

TEST(ConfigParse, DollarAndCommentKeysAreIgnoredAtEveryLevel) {
  const Config c = parse_ok(
      R"({"$schema": "x", "//": "note", "providers": {"$comment": 1, "p": {"// why": "x", "accounts": [
         {"id": "a", "$x": 1, "transport": {"command": "c", "//": 2, "cli": {
           "argsTemplate": ["{prompt}"], "$ref": true, "parser": {"kind": "text", "//": 0}}}}]}}})");
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].id, "p");
}

// ---- syntax errors ------------------------------------------------------------------------------

TEST(ConfigErrors, SyntaxErrorGivesLineAndColumn) {
  // The offending ',' is on line 3, column 10.
  const std::string msg = parse_error("{\n  \"providers\": {\n    \"a\": ,\n  }\n}\n", "conf.json");
  EXPECT_THAT(msg, ::testing::StartsWith("conf.json:3:10: ")) << msg;
  EXPECT_THAT(msg, HasSubstr("unexpected ','"));
  EXPECT_THAT(msg, Not(HasSubstr("json.exception")));
}

TEST(ConfigErrors, SyntaxErrorLineCountsCommentLines) {
  const std::string msg = parse_error("// one\n/* two\nthree */\n{\"a\": tru}\n", "c.json");
  EXPECT_THAT(msg, ::testing::StartsWith("c.json:4:")) << msg;
}

TEST(ConfigErrors, EmptyTextIsASyntaxError) {
  EXPECT_THAT(parse_error("", "empty.json"), ::testing::StartsWith("empty.json:1:1: "));
}

TEST(ConfigErrors, TopLevelMustBeAnObject) {
  EXPECT_EQ(parse_error("[1, 2]"),
            "drover.json: expected an object at the top level, got an array");
}

// ---- unknown keys -------------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeySuggestsTheClosestKnownKey) {
  // The misspelt key is not also reported as a missing argsTemplate.
  EXPECT_EQ(parse_error(with_cli(R"({"argTemplate": ["{prompt}"]})")),
            std::string(kCli) + ".argTemplate: unknown key (did you mean \"argsTemplate\"?)");
  EXPECT_EQ(parse_error(R"({"providers": {"p": {"acounts": []}}})"),
            "drover.json: providers.p.acounts: unknown key (did you mean \"accounts\"?)");
}

TEST(ConfigErrors, UnknownKeySuggestionIgnoresCaseAndSnakeCase) {
  const std::string msg =
      parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "max_output_bytes": 5})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) +
                             ".max_output_bytes: unknown key (did you mean \"maxOutputBytes\"?)"));
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsKnownKeys) {
  const std::string msg = parse_error(R"({"providers": {}, "colour": "blue"})");
  EXPECT_EQ(msg, "drover.json: colour: unknown key (expected one of: defaultRoute, providers, routing, staging, fanout, description)");
}

TEST(ConfigErrors, DuplicateJsonKeysAreErrors) {
  const std::string msg = parse_error(R"({"providers": {"p": )" + provider(cli_account("a")) +
                                      R"(, "p": )" + provider(cli_account("b")) + "}}");
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p: duplicate key"));
}

TEST(ConfigErrors, DuplicateKeyInsideArrayElementHasIndexPath) {
  const std::string msg = parse_error(R"({"providers": {"p": {"accounts": [)" + cli_account("a") +
                                      R"(, {"id": "b", "id": "c"}]}}})");
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[1].id: duplicate key"));
}

// ---- types, required keys, enums ----------------------------------------------------------------

TEST(ConfigErrors, ParserKindNotInEnum) {
  const std::string msg =
      parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "xml"}})"));
  EXPECT_EQ(msg,
            std::string(kCli) + ".parser.kind: expected one of json, jsonl, text, got \"xml\"");
}

TEST(ConfigErrors, WrongTypesNameExpectedAndFound) {
  const std::string msg = parse_error(
      R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"command": 5, "cli": {"argsTemplate": "{prompt}"}}, "models": {}}]}}})");
  const std::string base = "drover.json: providers.p.accounts[0]";
  EXPECT_THAT(msg, HasSubstr(base + ".transport.command: expected a string, got 5"));
  EXPECT_THAT(msg, HasSubstr(base + ".transport.cli.argsTemplate: expected an array of strings "
                                    "and string arrays, got \"{prompt}\""));
  EXPECT_THAT(msg, HasSubstr(base + ".models: expected an array of model ids or {id, "
                                    "contextWindow} objects, got an object"));
}

TEST(ConfigErrors, ProvidersAndAccountsMustBeTheRightShape) {
  EXPECT_EQ(parse_error(R"({"providers": []})"),
            "drover.json: providers: expected an object mapping provider ids to providers, got an "
            "array");
  EXPECT_EQ(parse_error(R"({"providers": {"p": {"accounts": {}}}})"),
            "drover.json: providers.p.accounts: expected an array of accounts, got an object");
  EXPECT_EQ(parse_error(R"({"providers": {"p": "x"}})"),
            "drover.json: providers.p: expected an object, got \"x\"");
}

TEST(ConfigErrors, MissingRequiredKeys) {
  const std::string msg = parse_error(R"({"providers": {"p": {"accounts": [
      {"id": "a"},
      {"id": "b", "transport": {"cli": {"argsTemplate": ["{prompt}"]}}},
      {"id": "c", "transport": {"command": "x"}},
      {"id": "d", "transport": {"command": "x", "cli": {}}},
      {"transport": {"command": "x", "cli": {"argsTemplate": ["{prompt}"]}}}
    ]}, "q": {}}})");
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[0]: missing required key "
                             "\"transport\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[1].transport: missing required "
                             "key \"command\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[2].transport: missing required "
                             "key \"cli\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[3].transport.cli: missing "
                             "required key \"argsTemplate\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[4]: missing required key \"id\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.q: missing required key \"accounts\""));
}

TEST(ConfigErrors, TransportKinds) {
  // acp is accepted syntactically; api needs a wire format unless the provider id implies one.
  const Config c = parse_ok(R"({"providers": {"p": {"accounts": [
      {"id": "a", "transport": {"kind": "acp", "command": "agent", "acp": {}}},
      {"id": "b", "transport": {"kind": "api", "id": "http", "api": {"format": "anthropic"}}}]},
      "openai": {"accounts": [{"id": "c", "transport": {"kind": "api"}}]}}})");
  EXPECT_THAT(route_ids(c), ElementsAre("p:acp:a:", "p:http:b:", "openai:api:c:"));
  EXPECT_EQ(c.providers[0].accounts[1].transport.api().format, "anthropic");
  EXPECT_EQ(c.providers[1].accounts[0].transport.api().format, "openai-chat");
  EXPECT_THAT(parse_error(R"({"providers": {"p": {"accounts": [
      {"id": "b", "transport": {"kind": "api"}}]}}})"),
              HasSubstr("providers.p.accounts[0].transport.api: missing required key \"format\""));

  const std::string msg = parse_error(R"({"providers": {"p": {"accounts": [
      {"id": "a", "transport": {"kind": "ssh"}},
      {"id": "b", "transport": {"kind": "api", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})");
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[0].transport.kind: expected one of "
                             "cli, acp, api, got \"ssh\""));
  EXPECT_THAT(msg, HasSubstr("drover.json: providers.p.accounts[1].transport.cli: only valid when "
                             "kind is \"cli\", this transport is \"api\""));
}

TEST(ConfigErrors, CommandMustNotBeEmpty) {
  EXPECT_THAT(
      parse_error(
          R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"command": "", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})"),
      HasSubstr("providers.p.accounts[0].transport.command: expected a non-empty string, "
                "got \"\""));
}

// ---- ids ----------------------------------------------------------------------------------------

TEST(ConfigErrors, InvalidIds) {
  const std::string msg = parse_error(R"({"providers": {
      "a b": {"accounts": []},
      "": {"accounts": []},
      "p": {"accounts": [
        {"id": "x:y", "transport": {"command": "c", "cli": {"argsTemplate": ["{prompt}"]}}},
        {"id": "ok", "transport": {"id": "", "command": "c", "cli": {"argsTemplate": ["{prompt}"]}},
         "models": ["m 1", {"id": "m:2"}, "fine", 7]}]}}})");
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers["a b"]: invalid provider id "a b": must not contain whitespace)"));
  EXPECT_THAT(
      msg, HasSubstr(R"(drover.json: providers[""]: invalid provider id "": must not be empty)"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[0].id: invalid account id "x:y": must not contain ':')"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[1].transport.id: invalid transport id "": must not be empty)"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[1].models[0]: invalid model id "m 1": must not contain whitespace)"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[1].models[1].id: invalid model id "m:2": must not contain ':')"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[1].models[3]: expected a model id string or an object {id, contextWindow, compat}, got 7)"));
}

TEST(ConfigErrors, DuplicateAccountAndModelIds) {
  const std::string msg = parse_error(
      R"({"providers": {"p": )" +
      provider(cli_account("a", R"(["m", {"id": "m"}])") + "," + cli_account("a")) + "}}");
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[0].models[1]: duplicate model id "m" in this account)"));
  EXPECT_THAT(
      msg,
      HasSubstr(
          R"(drover.json: providers.p.accounts[1].id: duplicate account id "a" in provider "p")"));
}

TEST(ConfigParse, SameAccountIdInDifferentProvidersIsFine) {
  const Config c = parse_ok(R"({"providers": {"p": )" + provider(cli_account("a")) + R"(, "q": )" +
                            provider(cli_account("a")) + "}}");
  EXPECT_THAT(route_ids(c), ElementsAre("p:cli:a:", "q:cli:a:"));
}

// ---- argsTemplate -------------------------------------------------------------------------------

TEST(ConfigErrors, UnknownPlaceholderAtExactPath) {
  const std::string msg = parse_error(
      with_cli(R"({"argsTemplate": ["-p", "{prompt}", "--x={foo}", ["--y", "{bar}"]]})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) +
                             ".argsTemplate[2]: unknown placeholder {foo} (known: prompt, model, "
                             "system, system_file, output_file, session_id, files, attachments_dir)"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[3][1]: unknown placeholder {bar}"));
}

TEST(ConfigErrors, UnbalancedBraces) {
  const std::string msg =
      parse_error(with_cli(R"({"argsTemplate": ["{prompt}", "{model", "a}b", ["x", "{{ok}}"]]})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[1]: unbalanced '{' at offset 0"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[2]: unbalanced '}' at offset 1"));
  EXPECT_EQ(count_lines(msg), 2u) << msg;  // `{{ok}}` is fine
}

TEST(ConfigErrors, ArgsTemplateElementShapes) {
  const std::string msg =
      parse_error(with_cli(R"({"argsTemplate": ["{prompt}", [], 3, ["a", {}]]})"));
  EXPECT_THAT(msg,
              HasSubstr(std::string(kCli) +
                        ".argsTemplate[1]: expected a non-empty group of strings, got an array"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[2]: expected a string or an array "
                                                 "of strings (a group), got 3"));
  EXPECT_THAT(
      msg, HasSubstr(std::string(kCli) + ".argsTemplate[3][1]: expected a string, got an object"));
}

TEST(ConfigErrors, InputArgRequiresPrompt) {
  EXPECT_EQ(parse_error(with_cli(R"({"argsTemplate": ["--model", "{model}"]})")),
            std::string(kCli) +
                ".argsTemplate: input \"arg\" needs {prompt} somewhere in the "
                "template (or set input to \"stdin\")");
}

TEST(ConfigErrors, InputStdinForbidsPrompt) {
  EXPECT_EQ(
      parse_error(with_cli(R"({"argsTemplate": ["run", ["-p", "{prompt}"]], "input": "stdin"})")),
      std::string(kCli) +
          ".argsTemplate[1][1]: {prompt} is not allowed with input "
          "\"stdin\" (the prompt would be sent twice)");
  // Without {prompt}, stdin is fine.
  const Config c = parse_ok(with_cli(R"({"argsTemplate": ["run"], "input": "stdin"})"));
  EXPECT_EQ(c.providers[0].accounts[0].transport.cli().input, CliSpec::Input::stdin_);
}

TEST(ConfigErrors, InvalidInputSkipsPromptRules) {
  EXPECT_EQ(parse_error(with_cli(R"({"argsTemplate": ["run"], "input": "pipe"})")),
            std::string(kCli) + ".input: expected one of arg, stdin, got \"pipe\"");
}

TEST(ConfigErrors, PromptMustNotShareAGroupWithOptionalPlaceholders) {
  EXPECT_THAT(parse_error(with_cli(R"({"argsTemplate": [["--model", "{model}", "{prompt}"]]})")),
              HasSubstr(std::string(kCli) + ".argsTemplate[0]: {prompt} must not share a group "
                                            "with {model}"));
}

// ---- parser -------------------------------------------------------------------------------------

TEST(ConfigParse, SelectorFormsAreEquivalent) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "json", "textPath": "a.b", "usage": "u", "error": {"path": "e[0]"}}})"));
  const ParserSpec& p = c.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(p.text && p.usage && p.error);
  EXPECT_EQ(p.text->path, "a.b");
  EXPECT_EQ(p.usage->path, "u");
  EXPECT_EQ(p.error->path, "e[0]");
  EXPECT_FALSE(p.session_id.has_value());
}

TEST(ConfigErrors, SelectorProblems) {
  const std::string msg = parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {
      "kind": "jsonl",
      "text": "t", "textPath": "t",
      "usage": {"path": "u", "wherePath": ""},
      "error": {"path": 3, "whereEquals": 1},
      "model": 5,
      "sessionId": {"path": "s", "whereEqual": "x"}}})"));
  const std::string p = std::string(kCli) + ".parser";
  EXPECT_THAT(msg, HasSubstr(p + ".textPath: give either \"text\" or \"textPath\", not both"));
  EXPECT_THAT(msg, HasSubstr(p + ".usage.wherePath: expected a non-empty string, got \"\""));
  EXPECT_THAT(msg, HasSubstr(p + ".error: whereEquals needs wherePath"));
  EXPECT_THAT(msg, HasSubstr(p + ".error.path: expected a string, got 3"));
  EXPECT_THAT(msg, HasSubstr(p + ".model: expected a path string or an object {path, wherePath, "
                                 "whereEquals}, got 5"));
  EXPECT_THAT(msg, HasSubstr(p + ".sessionId.whereEqual: unknown key (did you mean "
                                 "\"whereEquals\"?)"));
}

TEST(ConfigParse, JsonParserSelectorsMayFilterAndSelectTheWholeDocument) {
  // `usagePath: ""` selects the whole document; a where filter makes the selector conditional.
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "json", "textPath": "result", "usagePath": "", "error": {"path": "result", "wherePath": "is_error", "whereEquals": true}}})"));
  const ParserSpec& p = c.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(p.usage && p.error);
  EXPECT_EQ(p.usage->path, "");
  EXPECT_EQ(p.error->path, "result");
  EXPECT_EQ(p.error->where_path, "is_error");
  EXPECT_EQ(p.error->where_equals, nlohmann::json(true));

  // wherePath alone is a truthiness gate (parsers/selector.h): accepted without whereEquals.
  const Config gated = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl", "text": {"path": "t", "wherePath": "is_delta"}}})"));
  const ParserSpec& g = gated.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(g.text.has_value());
  EXPECT_EQ(g.text->where_path, "is_delta");
  EXPECT_FALSE(g.text->where_equals.has_value());
}

TEST(ConfigErrors, StructuredParserNeedsText) {
  EXPECT_EQ(
      parse_error(with_cli(
          R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl", "usagePath": "u"}})")),
      std::string(kCli) +
          ".parser: missing required key \"text\" or \"textPath\" (where "
          "the answer is)");
}

TEST(ConfigErrors, ParserOptionsOfTheWrongKind) {
  const std::string text_msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "text", "textPath": "x", "trim": "yes"}})"));
  EXPECT_THAT(text_msg, HasSubstr(std::string(kCli) + ".parser.textPath: only valid in json and "
                                                      "jsonl parsers, this one is \"text\""));
  EXPECT_THAT(text_msg,
              HasSubstr(std::string(kCli) + ".parser.trim: expected true or false, got \"yes\""));
  EXPECT_EQ(count_lines(text_msg), 2u) << text_msg;

  EXPECT_EQ(
      parse_error(with_cli(
          R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "json", "textPath": "x", "stripAnsi": true}})")),
      std::string(kCli) +
          ".parser.stripAnsi: only valid in text parsers, this one is "
          "\"json\"");
}

TEST(ConfigParse, WarningAndProgressSelectors) {
  const Config c = parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl",
      "text": "t", "warning": {"path": "message", "wherePath": "type", "whereEquals": "warning"},
      "progress": {"path": "", "wherePath": "type", "whereEquals": "retry"},
      "progressResetsIdle": true}})"));
  const ParserSpec& p = c.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(p.warning && p.progress);
  EXPECT_EQ(p.warning->path, "message");
  EXPECT_EQ(p.warning->where_equals, nlohmann::json("warning"));
  EXPECT_EQ(p.progress->path, "");
  EXPECT_EQ(p.progress->where_path, "type");
  EXPECT_TRUE(p.progress_resets_idle);

  // A path string alone; progress does not reset the idle watchdog unless said.
  const Config plain = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl", "text": "t", "progress": "notice"}})"));
  const ParserSpec& q = plain.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(q.progress);
  EXPECT_EQ(q.progress->path, "notice");
  EXPECT_FALSE(q.warning.has_value());
  EXPECT_FALSE(q.progress_resets_idle);
}

TEST(ConfigErrors, WarningAndProgressSelectorProblems) {
  const std::string p = std::string(kCli) + ".parser";
  const std::string msg = parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl",
      "text": "t", "warning": 7, "progress": {"path": "p", "whereEquals": 1},
      "progressResetsIdle": "yes"}})"));
  EXPECT_THAT(msg, HasSubstr(p + ".warning: expected a path string or an object {path, wherePath, "
                                 "whereEquals}, got 7"));
  EXPECT_THAT(msg, HasSubstr(p + ".progress: whereEquals needs wherePath"));
  EXPECT_THAT(msg, HasSubstr(p + ".progressResetsIdle: expected true or false, got \"yes\""));

  EXPECT_EQ(parse_error(with_cli(
                R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl", "text": "t", "progressResetsIdle": false}})")),
            p + ".progressResetsIdle: needs \"progress\" (the selector of the progress lines it is "
                "about)");
  EXPECT_THAT(parse_error(with_cli(
                  R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl", "text": "t", "progres": "x"}})")),
              HasSubstr(p + ".progres: unknown key (did you mean \"progress\"?)"));

  // Lines exist only in jsonl output.
  const std::string json_msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "json", "text": "t", "warning": "w", "progress": "p", "progressResetsIdle": true}})"));
  for (const char* key : {"warning", "progress", "progressResetsIdle"})
    EXPECT_THAT(json_msg, HasSubstr(p + "." + key + ": only valid in jsonl parsers, this one is \"json\""));
  EXPECT_EQ(count_lines(json_msg), 3u) << json_msg;
  EXPECT_EQ(parse_error(with_cli(
                R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "text", "progress": "p"}})")),
            p + ".progress: only valid in jsonl parsers, this one is \"text\"");
}

TEST(ConfigParse, WildcardAndModelPaths) {
  const Config c = parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "json",
      "text": "response", "usage": "stats.models.*.tokens", "model": "stats.models.{model}.name",
      "error": {"path": "errors[*]", "wherePath": "flags[*]", "whereEquals": "fatal"}}})"));
  const ParserSpec& p = c.providers[0].accounts[0].transport.cli().parser;
  ASSERT_TRUE(p.usage && p.model && p.error);
  EXPECT_EQ(p.usage->path, "stats.models.*.tokens");
  EXPECT_EQ(p.model->path, "stats.models.{model}.name");
  EXPECT_EQ(p.error->where_path, "flags[*]");
}

TEST(ConfigErrors, MalformedSelectorPathsNameTheirPath) {
  const std::string p = std::string(kCli) + ".parser";
  const std::string msg = parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "parser": {"kind": "jsonl",
      "text": "a..b", "usagePath": "u*", "error": {"path": "e", "wherePath": "{foo}"},
      "model": {"path": "m["}, "warning": "w.{modl}"}})"));
  EXPECT_THAT(msg, HasSubstr(p + ".text: malformed path \"a..b\""));
  EXPECT_THAT(msg, HasSubstr(p + ".usagePath: malformed path \"u*\""));
  EXPECT_THAT(msg, HasSubstr(p + ".error.wherePath: malformed path \"{foo}\""));
  EXPECT_THAT(msg, HasSubstr(p + ".model.path: malformed path \"m[\""));
  EXPECT_THAT(msg, HasSubstr(p + ".warning: malformed path \"w.{modl}\""));
  EXPECT_EQ(count_lines(msg), 5u) << msg;
}

// ---- numbers, env, cwd --------------------------------------------------------------------------

TEST(ConfigParse, WatchdogSecondsBecomeMilliseconds) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "watchdog": {"startTimeout": 0.5, "idleTimeout": 1.25, "timeout": 0.0001, "killGrace": 0, "drainAfterExit": 0}})"));
  const WatchdogSpec& w = c.providers[0].accounts[0].transport.cli().watchdog;
  EXPECT_EQ(w.start_timeout_ms, 500);
  EXPECT_EQ(w.idle_timeout_ms, 1250);
  EXPECT_EQ(w.total_timeout_ms, 1);  // tiny but positive never rounds to "no timeout"
  EXPECT_EQ(w.grace_ms, 0);
  EXPECT_EQ(w.drain_ms, 0);
}

TEST(ConfigErrors, WatchdogValues) {
  const std::string msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "watchdog": {"startTimeout": 0, "idleTimeout": -1, "timeout": "10", "killGrace": -0.5, "drainAfterExit": 1e12, "idle": 3}})"));
  const std::string w = std::string(kCli) + ".watchdog";
  EXPECT_THAT(msg, HasSubstr(w + ".startTimeout: expected a number of seconds > 0, got 0"));
  EXPECT_THAT(msg, HasSubstr(w + ".idleTimeout: expected a number of seconds > 0, got -1"));
  EXPECT_THAT(msg, HasSubstr(w + ".timeout: expected a number of seconds > 0 or \"none\", got \"10\""));
  EXPECT_THAT(msg, HasSubstr(w + ".killGrace: expected a number of seconds >= 0, got -0.5"));
  EXPECT_THAT(msg, HasSubstr(w + ".drainAfterExit: expected a number of seconds >= 0 and at most "
                                 "1e9, got 1000000000000.0"));
  EXPECT_THAT(msg, HasSubstr(w + ".idle: unknown key (did you mean \"idleTimeout\"?)"));
}

TEST(ConfigParse, HarnessRoutesHaveADefaultTotalTimeoutThatNoneSwitchesOff) {
  const Config d = parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"], "watchdog": {"idleTimeout": 5}})"));
  EXPECT_EQ(d.providers[0].accounts[0].transport.cli().watchdog.total_timeout_ms, 3600000);
  const Config n = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "watchdog": {"timeout": "none", "idleTimeout": "none", "startTimeout": 2}})"));
  const WatchdogSpec& w = n.providers[0].accounts[0].transport.cli().watchdog;
  EXPECT_FALSE(w.total_timeout_ms.has_value());
  EXPECT_FALSE(w.idle_timeout_ms.has_value());
  EXPECT_EQ(w.start_timeout_ms, 2000);
  const Config acp = parse_ok(
      R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"kind": "acp", "command": "agent", "acp": {}}}]}}})");
  EXPECT_EQ(acp.providers[0].accounts[0].transport.acp().watchdog.total_timeout_ms,
            kDefaultHarnessTimeoutMs);
  EXPECT_THAT(parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "watchdog": {"timeout": "never"}})")),
              HasSubstr(std::string(kCli) +
                        ".watchdog.timeout: expected a number of seconds > 0 or \"none\""));
}

TEST(ConfigErrors, NulBytesInEnvValuesAndTemplateLiteralsNameThePath) {
  const std::string msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}", "--flag\u0000lost", ["--x", "a\u0000b"]], "env": {"FOO": "keep\u0000lost"}, "cleanEnv": {"BAR": "\u0000"}})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[1]: contains a NUL byte"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".argsTemplate[2][1]: contains a NUL byte"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".env.FOO: contains a NUL byte"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".cleanEnv.BAR: contains a NUL byte"));
  const std::string acp = parse_error(
      R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"kind": "acp", "command": "agent", "acp": {"args": ["ok", "x\u0000y"]}}}]}}})");
  EXPECT_THAT(acp, HasSubstr("providers.p.accounts[0].transport.acp.args[1]: contains a NUL byte"));
}

TEST(ConfigParse, WatchdogResumeOverridesApplyOnlyWhenResuming) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "watchdog": {"startTimeout": 60, "idleTimeout": 300, "resume": {"idleTimeout": 120}}})"));
  const WatchdogSpec& w = c.providers[0].accounts[0].transport.cli().watchdog;
  ASSERT_TRUE(w.resume);
  EXPECT_EQ(w.for_run(false).idle_timeout_ms, 300000);
  EXPECT_EQ(w.for_run(true).idle_timeout_ms, 120000);
  EXPECT_EQ(w.for_run(true).start_timeout_ms, 60000) << "keys the resume block leaves out stay";
  EXPECT_FALSE(w.for_run(true).resume);
  EXPECT_THAT(parse_error(with_cli(
                  R"({"argsTemplate": ["{prompt}"], "watchdog": {"resume": {"idleTimeout": 0, "killGrace": 1}}})")),
              AllOf(HasSubstr(std::string(kCli) + ".watchdog.resume.idleTimeout: expected a number "
                                                  "of seconds > 0, got 0"),
                    HasSubstr(std::string(kCli) + ".watchdog.resume.killGrace: unknown key")));
}

TEST(ConfigParse, ContextModeCleanEnvAndEphemeral) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}"], "contextMode": "clean", "cleanEnv": {"A": "1"}, "ephemeral": false})"));
  const CliSpec& cli = c.providers[0].accounts[0].transport.cli();
  EXPECT_EQ(cli.context_mode, ContextMode::clean);
  EXPECT_EQ(cli.clean_env.at("A"), "1");
  EXPECT_EQ(cli.ephemeral, false);
  const Config d = parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"]})"));
  EXPECT_EQ(d.providers[0].accounts[0].transport.cli().context_mode, ContextMode::workspace);
  EXPECT_FALSE(d.providers[0].accounts[0].transport.cli().ephemeral);
  const std::string msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "contextMode": "sandbox", "cleanEnv": {"B=": "x"}, "ephemeral": "yes"})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".contextMode: expected one of workspace, clean, got \"sandbox\""));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".cleanEnv[\"B=\"]: invalid environment variable name"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".ephemeral: expected"));
}

TEST(ConfigParse, ConditionalArgGroups) {
  const Config c = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}", {"when": "clean", "args": "--bare"}, ["--model", "{model}"], {"when": ["!resume", "env:KEY"], "args": ["-c", "x=1"]}]})"));
  const CliSpec& cli = c.providers[0].accounts[0].transport.cli();
  ASSERT_EQ(cli.args_template.size(), 4u);
  ASSERT_EQ(cli.args_when.size(), 4u);
  EXPECT_THAT(cli.args_template[1], ElementsAre("--bare"));
  EXPECT_THAT(cli.args_when[1], ElementsAre("clean"));
  EXPECT_TRUE(cli.args_when[2].empty());
  EXPECT_THAT(cli.args_template[3], ElementsAre("-c", "x=1"));
  EXPECT_THAT(cli.args_when[3], ElementsAre("!resume", "env:KEY"));
  // Without conditional groups nothing is stored (every group always applies).
  EXPECT_TRUE(parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"]})"))
                  .providers[0].accounts[0].transport.cli().args_when.empty());
}

TEST(ConfigErrors, ConditionalArgGroups) {
  const std::string msg = parse_error(with_cli(
      R"({"argsTemplate": ["x", {"when": "sometimes", "args": "--a"}, {"args": "--b"}, {"when": "clean"}, {"when": ["env:"], "args": [1]}, {"when": "clean", "args": "{prompt}"}, {"when": "clean", "args": "--c", "extra": 1}]})"));
  const std::string t = std::string(kCli) + ".argsTemplate";
  EXPECT_THAT(msg, HasSubstr(t + "[1].when: expected a condition: clean, workspace, resume, fresh, "
                                 "ephemeral, persistent, approve-all, approve-reads, deny-all, "
                                 "attachments or env:NAME"));
  EXPECT_THAT(msg, HasSubstr(t + "[2]: missing required key \"when\""));
  EXPECT_THAT(msg, HasSubstr(t + "[3]: missing required key \"args\""));
  EXPECT_THAT(msg, HasSubstr(t + "[4].when[0]: expected a condition"));
  EXPECT_THAT(msg, HasSubstr(t + "[4].args[0]: expected a string, got 1"));
  EXPECT_THAT(msg, HasSubstr(t + "[5].args: {prompt} must not be in a conditional group"));
  EXPECT_THAT(msg, HasSubstr(t + "[6].extra: unknown key"));
}

TEST(ConfigParse, PermissionDeclarationsAndPolicyConditions) {
  Config config = parse_ok(with_cli(
      R"({"argsTemplate": ["{prompt}", {"when": "deny-all", "args": "--no-tools"}, {"when": "!approve-all", "args": "--safe"}], "envWhen": [{"when": "approve-reads", "env": {"MODE": "reads"}}]})",
      R"("permissions": {"enforcement": "mapped", "mechanism": "agent --no-tools", "cannotEnforce": ["approve-reads"]}, )"));
  const TransportSpec& t = config.providers[0].accounts[0].transport;
  ASSERT_TRUE(t.permissions);
  EXPECT_EQ(t.permissions->enforcement, PermissionEnforcement::mapped);
  EXPECT_EQ(t.permissions->mechanism, "agent --no-tools");
  EXPECT_THAT(t.permissions->cannot_enforce, ElementsAre(PermissionPolicy::approve_reads));
  EXPECT_THAT(t.cli().args_when[1], ElementsAre("deny-all"));
  ASSERT_EQ(t.cli().env_when.size(), 1u);
  EXPECT_THAT(t.cli().env_when[0].when, ElementsAre("approve-reads"));
  EXPECT_EQ(t.cli().env_when[0].env.at("MODE"), "reads");
  // The shorthand, and nothing declared (the default).
  EXPECT_EQ(parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"]})", R"("permissions": "none", )"))
                .providers[0].accounts[0].transport.permissions->enforcement,
            PermissionEnforcement::none);
  EXPECT_FALSE(parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"]})"))
                   .providers[0].accounts[0].transport.permissions);
  // ACP args take conditional groups; each token carries its group's conditions.
  Config acp = parse_ok(
      R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"kind": "acp", "command": "agent", "permissions": "agent-asks", "acp": {"args": ["-x", {"when": "deny-all", "args": ["-c", "sandbox=ro"]}]}}}]}}})");
  const AcpSpec& spec = acp.providers[0].accounts[0].transport.acp();
  EXPECT_THAT(spec.args, ElementsAre("-x", "-c", "sandbox=ro"));
  ASSERT_EQ(spec.args_when.size(), 3u);
  EXPECT_TRUE(spec.args_when[0].empty());
  EXPECT_THAT(spec.args_when[2], ElementsAre("deny-all"));
}

// A preset's declaration covers its own argv and environment: an account replacing them without
// declaring its own enforcement is undeclared, not "mapped" by switches it dropped.
TEST(ConfigPresets, ReplacingAPresetsArgvDropsItsPermissionDeclaration) {
  auto account = [](const std::string& transport) {
    Config config = parse_ok(
        R"({"providers": {"mine": {"accounts": [{"id": "a", "preset": "claude-cli", "transport": )" +
        transport + "}]}}}");
    if (config.providers.empty() || config.providers[0].accounts.empty()) return TransportSpec{};
    return config.providers[0].accounts[0].transport;
  };
  EXPECT_TRUE(account(R"({"cli": {"watchdog": {"timeout": 900}}})").permissions)
      << "a watchdog change keeps the preset's mapping";
  EXPECT_FALSE(account(R"({"cli": {"argsTemplate": ["-p", "--", "{prompt}"]}})").permissions);
  EXPECT_FALSE(account(R"({"command": "/opt/other-claude"})").permissions);
  auto declared = account(R"({"permissions": "none", "cli": {"argsTemplate": ["-p", "--", "{prompt}"]}})");
  ASSERT_TRUE(declared.permissions);
  EXPECT_EQ(declared.permissions->enforcement, PermissionEnforcement::none);
}

TEST(ConfigErrors, PermissionDeclarations) {
  const std::string t = "drover.json: providers.acme.accounts[0].transport.permissions";
  auto cli = [](const std::string& permissions) {
    return with_cli(R"({"argsTemplate": ["{prompt}"]})", R"("permissions": )" + permissions + ", ");
  };
  EXPECT_THAT(parse_error(cli(R"("approve-reads")")),
              HasSubstr(t + ": expected one of agent-asks, mapped, none"));
  EXPECT_THAT(parse_error(cli(R"("agent-asks")")),
              HasSubstr(t + ": agent-asks is only possible over ACP"));
  EXPECT_THAT(parse_error(cli(R"({"mechanism": "x"})")),
              HasSubstr(t + ": missing required key \"enforcement\""));
  EXPECT_THAT(parse_error(cli(R"({"enforcement": "mapped", "cannotEnforce": ["approve-all"]})")),
              HasSubstr(t + ".cannotEnforce[0]: expected approve-reads or deny-all"));
  EXPECT_THAT(parse_error(cli(R"({"enforcement": "mapped", "extra": 1})")),
              HasSubstr(t + ".extra: unknown key"));
  EXPECT_THAT(parse_error(R"({"providers": {"acme": {"accounts": [{"id": "main", "transport": {"kind": "api", "permissions": "none", "api": {"baseUrl": "http://x"}}}]}}})"),
              HasSubstr(t + ": only valid for harness routes"));
  EXPECT_THAT(parse_error(R"({"providers": {"acme": {"accounts": [{"id": "main", "transport": {"kind": "acp", "command": "a", "acp": {"policyModes": {"deny-al": "x", "deny-all": 1}}}}]}}})"),
              AllOf(HasSubstr("transport.acp.policyModes.deny-al: unknown policy"),
                    HasSubstr("transport.acp.policyModes.deny-all: expected a session mode id")));
  const std::string env = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "envWhen": [{"when": "deny-al", "env": {"A": "1"}}, {"env": {"=": "1"}}, 3]})"));
  EXPECT_THAT(env, HasSubstr(std::string(kCli) + ".envWhen[0].when: expected a condition"));
  EXPECT_THAT(env, HasSubstr(std::string(kCli) + ".envWhen[1]: missing required key \"when\""));
  EXPECT_THAT(env, HasSubstr(std::string(kCli) + ".envWhen[1].env[\"=\"]: invalid environment variable name"));
  EXPECT_THAT(env, HasSubstr(std::string(kCli) + ".envWhen[2]: expected an object"));
}

TEST(ConfigErrors, LongFoundValuesAreShortenedOnCharacterBoundaries) {
  std::string long_value = "x";  // puts a character boundary away from byte 57
  for (int i = 0; i < 40; ++i) long_value += "\xc3\xa9";  // é, two bytes each
  const std::string msg = parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "input": ")" +
                                               long_value + "\"}"));
  EXPECT_THAT(msg, ::testing::EndsWith("..."));
  EXPECT_LT(msg.size(), 200u);
  // Cut between characters, not inside one (which would leave a replacement character).
  EXPECT_THAT(msg, Not(HasSubstr("\xef\xbf\xbd")));
  EXPECT_NO_THROW((void)nlohmann::json(msg).dump());
}

TEST(ConfigErrors, InvalidUtf8InTheFileGivesAValidUtf8Message) {
  const std::string msg = parse_error("{\"a\": \"\xff\xfe\"}", "bad.json");
  EXPECT_THAT(msg, ::testing::StartsWith("bad.json:1:"));
  EXPECT_NO_THROW((void)nlohmann::json(msg).dump()) << msg;
}

TEST(ConfigErrors, PositiveIntegers) {
  const std::string msg =
      parse_error(with_cli(R"({"argsTemplate": ["{prompt}"], "maxOutputBytes": 1.5})"));
  EXPECT_EQ(msg, std::string(kCli) + ".maxOutputBytes: expected a positive integer, got 1.5");
  EXPECT_THAT(
      parse_error(R"({"providers": {"p": )" +
                  provider(cli_account("a", R"([{"id": "m", "contextWindow": 0}])")) + "}}"),
      HasSubstr("providers.p.accounts[0].models[0].contextWindow: expected a positive "
                "integer, got 0"));
}

TEST(ConfigErrors, EnvAndClearEnv) {
  const std::string msg = parse_error(with_cli(
      R"({"argsTemplate": ["{prompt}"], "env": {"A": 1, "B=C": "x"}, "clearEnv": ["OK", "", 3]})"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) + ".env.A: expected a string, got 1"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) +
                             R"(.env["B=C"]: invalid environment variable name "B=C")"));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) +
                             ".clearEnv[1]: expected an environment variable name, got \"\""));
  EXPECT_THAT(msg, HasSubstr(std::string(kCli) +
                             ".clearEnv[2]: expected an environment variable name, got 3"));
}

TEST(ConfigParse, CommandPathsWithASlashAreRelativeToTheConfigDirectory) {
  auto command_of = [](const std::string& command, const std::string& origin) {
    const Config c =
        parse_ok(R"({"providers": {"p": {"accounts": [{"id": "a", "transport": {"command": ")" +
                     command + R"(", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})",
                 origin);
    return c.providers.empty() ? std::string("<failed>")
                               : c.providers[0].accounts[0].transport.command;
  };
  EXPECT_EQ(command_of("../build/agent", "/srv/project/examples/drover.json"),
            "/srv/project/build/agent");
  EXPECT_EQ(command_of("./agent", "/srv/project/drover.json"), "/srv/project/agent");
  EXPECT_EQ(command_of("agent", "/srv/project/drover.json"), "agent");  // PATH lookup later
  EXPECT_EQ(command_of("/usr/bin/agent", "/srv/project/drover.json"), "/usr/bin/agent");
}

TEST(ConfigParse, RelativeCwdIsResolvedAgainstTheConfigDirectory) {
  auto cwd_of = [](const std::string& cwd, const std::string& origin) {
    const Config c =
        parse_ok(with_cli(R"({"argsTemplate": ["{prompt}"], "cwd": ")" + cwd + "\"}"), origin);
    if (c.providers.empty()) return std::string("<failed>");
    return c.providers[0].accounts[0].transport.cli().cwd.value_or("<none>");
  };
  EXPECT_EQ(cwd_of("../work", "/srv/project/conf/drover.json"), "/srv/project/work");
  EXPECT_EQ(cwd_of("sub/./dir", "/srv/project/drover.json"), "/srv/project/sub/dir");
  EXPECT_EQ(cwd_of("/abs/path", "/srv/project/drover.json"), "/abs/path");
  // An origin without a directory part means the current directory.
  EXPECT_EQ(cwd_of("work", "drover.json"), (fs::current_path() / "work").string());
}

// ---- many errors at once ------------------------------------------------------------------------

TEST(ConfigErrors, AllErrorsAreReportedTogether) {
  const std::string msg = parse_error(R"({
    "defaultRout": "x",
    "providers": {"p": {"accounts": [
      {"id": "a", "transport": {"command": 1, "cli": {"argsTemplate": ["{prompt}"], "input": "x"}}},
      {"id": "b b", "transport": {"command": "c", "cli": {"argsTemplate": ["{nope}"]}}}]}}})");
  EXPECT_EQ(count_lines(msg), 5u) << msg;
  EXPECT_THAT(msg,
              HasSubstr("drover.json: defaultRout: unknown key (did you mean \"defaultRoute\"?)"));
  EXPECT_THAT(msg,
              HasSubstr("providers.p.accounts[0].transport.command: expected a string, got 1"));
  EXPECT_THAT(msg,
              HasSubstr("providers.p.accounts[0].transport.cli.input: expected one of arg, stdin"));
  EXPECT_THAT(msg, HasSubstr("providers.p.accounts[1].id: invalid account id \"b b\""));
  EXPECT_THAT(
      msg,
      HasSubstr(
          "providers.p.accounts[1].transport.cli.argsTemplate[0]: unknown placeholder {nope}"));
}

TEST(ConfigErrors, AtMostTwentyErrorsAreShown) {
  std::string models;
  for (int i = 0; i < 25; ++i)
    models += std::string(i ? "," : "") + "\"bad id " + std::to_string(i) + "\"";
  const std::string msg = parse_error(R"({"providers": {"p": )" +
                                      provider(cli_account("a", "[" + models + "]")) + "}}");
  EXPECT_EQ(count_lines(msg), 21u);
  EXPECT_THAT(msg, HasSubstr("models[19]"));
  EXPECT_THAT(msg, Not(HasSubstr("models[20]")));
  EXPECT_THAT(msg, ::testing::EndsWith("... and 5 more errors"));
}

// ---- routes and resolution ----------------------------------------------------------------------

Config resolve_config() {
  return parse_ok(R"({"providers": {
      "zeta": )" + provider(cli_account("z")) +
                  R"(,
      "acme": )" +
                  provider(cli_account("main", R"(["m1", "m2"])") + "," +
                           cli_account("alt", R"(["m3"])", R"("id": "print", )")) +
                  "}}");
}

TEST(ConfigRoutes, RoutesAreInFileOrderWithPointersIntoTheConfig) {
  const Config c = resolve_config();
  const auto routes = c.routes();
  EXPECT_THAT(route_ids(c), ElementsAre("zeta:cli:z:", "acme:cli:main:m1", "acme:cli:main:m2",
                                        "acme:print:alt:m3"));
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].model, "");
  EXPECT_EQ(routes[3].provider, "acme");
  EXPECT_EQ(routes[3].transport, "print");
  EXPECT_EQ(routes[3].account, "alt");
  EXPECT_EQ(routes[3].model, "m3");
  EXPECT_EQ(routes[3].provider_spec, &c.providers[1]);
  EXPECT_EQ(routes[3].account_spec, &c.providers[1].accounts[1]);
  EXPECT_EQ(routes[0].account_spec, &c.providers[0].accounts[0]);
}

std::string resolved(const Config& c, const std::string& id) {
  auto [route, error] = c.resolve(id);
  if (error) return "error: " + error->message;
  return route ? route->id : "<nothing>";
}

TEST(ConfigRoutes, ResolveFullAndPrefixIds) {
  const Config c = resolve_config();
  EXPECT_EQ(resolved(c, "acme:cli:main:m2"), "acme:cli:main:m2");
  EXPECT_EQ(resolved(c, "acme"), "acme:cli:main:m1");
  EXPECT_EQ(resolved(c, "acme:print"), "acme:print:alt:m3");
  EXPECT_EQ(resolved(c, "acme:print:alt"), "acme:print:alt:m3");
  EXPECT_EQ(resolved(c, "zeta:cli:z:"), "zeta:cli:z:");
  EXPECT_EQ(resolved(c, "zeta"), "zeta:cli:z:");
}

TEST(ConfigRoutes, ResolveWithWildcardParts) {
  const Config c = resolve_config();
  EXPECT_EQ(resolved(c, "acme::alt:"), "acme:print:alt:m3");
  EXPECT_EQ(resolved(c, ":::m2"), "acme:cli:main:m2");
  EXPECT_EQ(resolved(c, "::alt"), "acme:print:alt:m3");
  EXPECT_EQ(resolved(c, ":print"), "acme:print:alt:m3");
  EXPECT_EQ(resolved(c, ":::"), "zeta:cli:z:");
}

TEST(ConfigRoutes, ListedModelWinsOverUnlistedModelFallback) {
  // acme:::m3 must find the account that lists m3, not substitute m3 into acme:cli:main.
  const Config c = resolve_config();
  EXPECT_EQ(resolved(c, "acme:::m3"), "acme:print:alt:m3");
}

TEST(ConfigRoutes, UnlistedModelResolvesOnAMatchingAccount) {
  const Config c = resolve_config();
  auto [route, error] = c.resolve("acme:cli:main:m9");
  ASSERT_FALSE(error.has_value()) << error->message;
  ASSERT_TRUE(route.has_value());
  EXPECT_EQ(route->id, "acme:cli:main:m9");
  EXPECT_EQ(route->model, "m9");
  EXPECT_EQ(route->account_spec, &c.providers[1].accounts[0]);
  // An account without models takes any model too.
  EXPECT_EQ(resolved(c, "zeta:cli:z:big-model"), "zeta:cli:z:big-model");
  // Model names with ':' (ollama style) survive as the last part.
  EXPECT_EQ(resolved(c, "zeta:cli:z:llama3:8b"), "zeta:cli:z:llama3:8b");
  // ...but the other three parts must still match.
  EXPECT_THAT(resolved(c, "acme:cli:nobody:m9"), HasSubstr("error: no route matches"));
}

TEST(ConfigRoutes, EmptyIdMeansDefaultRouteElseFirst) {
  Config c = resolve_config();
  EXPECT_EQ(resolved(c, ""), "zeta:cli:z:");
  c.default_route = "acme:print";
  EXPECT_EQ(resolved(c, ""), "acme:print:alt:m3");
}

TEST(ConfigRoutes, NoMatchListsAvailableRoutes) {
  const Config c = resolve_config();
  auto [route, error] = c.resolve("nope");
  EXPECT_FALSE(route.has_value());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_EQ(error->message,
            "no route matches \"nope\"; available routes: zeta:cli:z:, acme:cli:main:m1, "
            "acme:cli:main:m2, acme:print:alt:m3");
  EXPECT_THAT(resolved(c, "acme:api"), HasSubstr("error: no route matches \"acme:api\""));
  // Invalid UTF-8 from a command line must not throw while quoting it.
  EXPECT_THAT(resolved(c, "\xff\xfe"), HasSubstr("error: no route matches \""));
}

TEST(ConfigRoutes, LongRouteListsAreShortened) {
  std::string models;
  for (int i = 0; i < 13; ++i)
    models += std::string(i ? "," : "") + "\"m" + std::to_string(i) + "\"";
  const Config c =
      parse_ok(R"({"providers": {"p": )" + provider(cli_account("a", "[" + models + "]")) + "}}");
  const std::string msg = resolved(c, "q");
  EXPECT_THAT(msg, HasSubstr("p:cli:a:m9 … and 3 more"));
  EXPECT_THAT(msg, Not(HasSubstr("m10")));
}

TEST(ConfigRoutes, NoRoutesAtAll) {
  const Config empty;
  EXPECT_EQ(resolved(empty, ""), "error: no routes configured (no configuration file found)");
  EXPECT_EQ(resolved(empty, "x"), "error: no route matches \"x\"; no routes are configured");
}

TEST(ConfigErrors, DefaultRouteMustResolve) {
  const std::string body = R"("providers": {"p": )" + provider(cli_account("a", R"(["m"])")) + "}";
  EXPECT_EQ(parse_error("{\"defaultRoute\": \"q:cli\", " + body + "}"),
            "drover.json: defaultRoute: no route matches \"q:cli\"; available routes: p:cli:a:m");
  // An unlisted model on an existing account is a valid default (see resolve).
  const Config c = parse_ok("{\"defaultRoute\": \"p:cli:a:other\", " + body + "}");
  EXPECT_EQ(resolved(c, ""), "p:cli:a:other");
  EXPECT_THAT(parse_error(R"({"defaultRoute": ""})"),
              HasSubstr("defaultRoute: expected a non-empty string"));
}

// ---- load_config --------------------------------------------------------------------------------

std::string one_provider_file(const std::string& pid, const std::string& account,
                              const std::string& extra = "") {
  return "{" + extra + R"("providers": {")" + pid + R"(": )" + provider(cli_account(account)) +
         "}}";
}

ConfigLookup lookup_in(const TempDir& dir) {
  ConfigLookup l;
  l.with_presets = false;  // these tests compare the user's own providers exactly
  l.workspace_dir = (dir.path() / "ws").string();
  l.home = (dir.path() / "home").string();
  return l;
}

// `drover trust FILE` in the store of `lookup`.
void trust(const ConfigLookup& lookup, const std::string& file) {
  std::string key, digest;
  auto problem = trust_file(trust_store_path(lookup), file, key, digest);
  ASSERT_FALSE(problem) << *problem;
}

// A repository's drover.json is hostile: a FIFO would block the read forever, /dev/zero would
// never end, a huge file would be read whole. Each is an error naming the file.
TEST(ConfigLoad, AWorkspaceFileThatIsNoRegularFileOrTooLargeIsRefusedUnread) {
  for (const std::string kind : {"fifo", "device", "huge"}) {
    TempDir dir;
    fs::create_directories(dir.path() / "ws");
    const fs::path file = dir.path() / "ws" / "drover.json";
    if (kind == "fifo") {
      ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0);
    }
    if (kind == "device") fs::create_symlink("/dev/zero", file);
    if (kind == "huge") dir.write("ws/drover.json", "{}" + std::string(kMaxConfigFileBytes, ' '));
    auto [config, error] = load_config(lookup_in(dir));
    ASSERT_TRUE(error.has_value()) << kind;
    EXPECT_THAT(error->message, HasSubstr(file.string())) << kind;
    EXPECT_THAT(error->message, HasSubstr(kind == "huge" ? "larger than 4194304 bytes"
                                                         : "not a regular file"))
        << kind;
  }
}

TEST(ConfigLoad, NoFileAtAllIsAnEmptyConfig) {
  TempDir dir;
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_FALSE(error.has_value()) << error->message;
  ASSERT_TRUE(config.has_value());
  EXPECT_TRUE(config->providers.empty());
  EXPECT_TRUE(config->sources.empty());
  EXPECT_FALSE(config->default_route.has_value());
}

TEST(ConfigLoad, GlobalFromHomeDotConfigThenWorkspaceMerged) {
  TempDir dir;
  const std::string global = dir.write("home/.config/drover/config.json",
                                       R"({"defaultRoute": "b", "providers": {
      "a": )" + provider(cli_account("global-a")) +
                                           R"(,
      "b": )" + provider(cli_account("global-b")) +
                                           R"(,
      "c": )" + provider(cli_account("global-c")) +
                                           "}}");
  const std::string workspace = dir.write("ws/drover.json", R"({"defaultRoute": "d", "providers": {
      "d": )" + provider(cli_account("ws-d")) + R"(,
      "b": )" + provider(cli_account("ws-b")) + "}}");
  trust(lookup_in(dir), workspace);
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_FALSE(error.has_value()) << error->message;
  ASSERT_TRUE(config.has_value());
  // b is replaced in place (keeps the global position); d is appended.
  EXPECT_THAT(route_ids(*config),
              ElementsAre("a:cli:global-a:", "b:cli:ws-b:", "c:cli:global-c:", "d:cli:ws-d:"));
  EXPECT_EQ(config->default_route, "d");  // the workspace wins
  EXPECT_THAT(config->sources, ElementsAre(global, workspace));
  EXPECT_EQ(resolved(*config, ""), "d:cli:ws-d:");
}

TEST(ConfigLoad, GlobalDefaultRouteKeptWhenWorkspaceHasNone) {
  TempDir dir;
  dir.write("home/.config/drover/config.json",
            one_provider_file("a", "x", R"("defaultRoute": "w",)"));
  trust(lookup_in(dir), dir.write("ws/drover.json", one_provider_file("w", "y")));
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_FALSE(error.has_value()) << error->message;
  EXPECT_EQ(config->default_route, "w");  // names a workspace provider: checked after merging
  EXPECT_EQ(resolved(*config, ""), "w:cli:y:");
}

TEST(ConfigLoad, WorkspaceDefaultRouteMayNameAGlobalProvider) {
  TempDir dir;
  dir.write("home/.config/drover/config.json", one_provider_file("g", "x"));
  dir.write("ws/drover.json", R"({"defaultRoute": "g:cli:x"})");
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_FALSE(error.has_value()) << error->message;
  EXPECT_EQ(resolved(*config, ""), "g:cli:x:");
}

TEST(ConfigLoad, MergedDefaultRouteIsValidatedAndNamesItsFile) {
  TempDir dir;
  dir.write("home/.config/drover/config.json", one_provider_file("g", "x"));
  const std::string ws = dir.write("ws/drover.json", R"({"defaultRoute": "nope"})");
  auto [config, error] = load_config(lookup_in(dir));
  EXPECT_FALSE(config.has_value());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_EQ(error->message,
            ws + ": defaultRoute: no route matches \"nope\"; available routes: g:cli:x:");
}

TEST(ConfigLoad, XdgConfigHomeTakesPrecedenceOverHome) {
  TempDir dir;
  dir.write("home/.config/drover/config.json", one_provider_file("home", "a"));
  const std::string xdg = dir.write("xdg/drover/config.json", one_provider_file("xdg", "a"));
  ConfigLookup l = lookup_in(dir);
  l.xdg_config_home = (dir.path() / "xdg").string();
  auto [config, error] = load_config(l);
  ASSERT_FALSE(error.has_value()) << error->message;
  EXPECT_THAT(route_ids(*config), ElementsAre("xdg:cli:a:"));
  EXPECT_THAT(config->sources, ElementsAre(xdg));
}

TEST(ConfigLoad, ExplicitPathIsReadAlone) {
  TempDir dir;
  dir.write("home/.config/drover/config.json", one_provider_file("global", "a"));
  dir.write("ws/drover.json", one_provider_file("workspace", "a"));
  const std::string env = dir.write("env.json", one_provider_file("env", "a"));
  const std::string explicit_path = dir.write("explicit.json", one_provider_file("explicit", "a"));
  ConfigLookup l = lookup_in(dir);
  l.env_path = env;
  l.explicit_path = explicit_path;
  auto [config, error] = load_config(l);
  ASSERT_FALSE(error.has_value()) << error->message;
  EXPECT_THAT(route_ids(*config), ElementsAre("explicit:cli:a:"));
  EXPECT_THAT(config->sources, ElementsAre(explicit_path));

  l.explicit_path.reset();  // then $DROVER_CONFIG, still alone
  auto [config2, error2] = load_config(l);
  ASSERT_FALSE(error2.has_value()) << error2->message;
  EXPECT_THAT(route_ids(*config2), ElementsAre("env:cli:a:"));
}

TEST(ConfigLoad, MissingExplicitOrEnvFileIsAnError) {
  TempDir dir;
  dir.write("ws/drover.json", one_provider_file("workspace", "a"));
  ConfigLookup l = lookup_in(dir);
  const std::string missing = (dir.path() / "missing.json").string();
  l.env_path = missing;
  auto [config, error] = load_config(l);
  EXPECT_FALSE(config.has_value());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_EQ(error->message, "config file not found: " + missing);

  l.env_path.reset();
  l.explicit_path = missing + ".2";
  auto [config2, error2] = load_config(l);
  ASSERT_TRUE(error2.has_value());
  EXPECT_EQ(error2->message, "config file not found: " + missing + ".2");
}

TEST(ConfigLoad, ErrorsFromBothFilesAreReportedTogether) {
  TempDir dir;
  const std::string global = dir.write("home/.config/drover/config.json", R"({"provider": {}})");
  const std::string ws = dir.write("ws/drover.json", "{\n  \"providers\": [\n");
  auto [config, error] = load_config(lookup_in(dir));
  EXPECT_FALSE(config.has_value());
  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->message,
              HasSubstr(global + ": provider: unknown key (did you mean \"providers\"?)"));
  EXPECT_THAT(error->message, HasSubstr(ws + ":3:1: "));
  EXPECT_EQ(count_lines(error->message), 2u);
}

TEST(ConfigLoad, DirectoryInsteadOfFileIsAnError) {
  TempDir dir;
  fs::create_directories(dir.path() / "ws" / "drover.json");
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->message, HasSubstr("is a directory"));
}

TEST(ConfigLoad, RelativeCwdInAWorkspaceFileIsAbsolute) {
  TempDir dir;
  trust(lookup_in(dir),
        dir.write("ws/drover.json", with_cli(R"({"argsTemplate": ["{prompt}"], "cwd": "../work"})")));
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_FALSE(error.has_value()) << error->message;
  EXPECT_EQ(config->providers[0].accounts[0].transport.cli().cwd, (dir.path() / "work").string());
}

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  void set(const char* name, const char* value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(ConfigLoad, LookupFromEnvironment) {
  ScopedEnv env;
  env.set("DROVER_CONFIG", "/etc/drover.json");
  env.set("XDG_CONFIG_HOME", "/xdg");
  env.set("HOME", "/home/u");
  ConfigLookup l = ConfigLookup::from_environment();
  EXPECT_FALSE(l.explicit_path.has_value());
  EXPECT_EQ(l.env_path, "/etc/drover.json");
  EXPECT_EQ(l.xdg_config_home, "/xdg");
  EXPECT_EQ(l.home, "/home/u");
  EXPECT_EQ(l.workspace_dir, ".");

  env.set("DROVER_CONFIG", "");            // empty counts as unset
  env.set("XDG_CONFIG_HOME", "relative");  // the XDG spec says to ignore relative paths
  env.set("HOME", nullptr);
  l = ConfigLookup::from_environment();
  EXPECT_FALSE(l.env_path.has_value());
  EXPECT_FALSE(l.xdg_config_home.has_value());
  EXPECT_FALSE(l.home.has_value());
}

// ---- shipped examples ---------------------------------------------------------------------------

TEST(ConfigExamples, EveryExampleParses) {
  const fs::path examples = fs::path(DROVER_SOURCE_DIR) / "examples";
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(examples)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    ConfigLookup l;
    l.explicit_path = entry.path().string();
    auto [config, error] = load_config(l);
    EXPECT_FALSE(error.has_value()) << entry.path() << ":\n" << (error ? error->message : "");
    if (config) {
      EXPECT_FALSE(config->routes().empty()) << entry.path();
    }
  }
  EXPECT_GE(count, 1u) << "no examples/*.json found in " << examples;
}

}  // namespace
}  // namespace drover

namespace drover {
namespace {

TEST(ConfigApi, ApiTransportRoutingAndCompatParse) {
  const Config c = parse_ok(R"({
    "routing": {"strategy": "round-robin", "cooldown": 1.5, "maxAttempts": 4,
                "fallback": {"on": {"rate_limit": ["rotate-credential", "retry"],
                                    "temporary_unavailable": ["fallback-provider"]}}},
    "providers": {"openai": {"accounts": [{"id": "main", "transport": {"kind": "api", "api": {
      "baseUrl": "http://127.0.0.1:8046/v1", "apiKeyEnv": "OPENAI_KEYS", "apiKeyDelimiter": ",",
      "headers": {"x-team": "a"}, "connectTimeout": 2, "timeout": 30, "idleTimeout": 5,
      "parameters": {"temperature": 0.2, "maxTokens": 512, "systemPrompt": "be brief",
                     "reasoningEffort": "low", "stream": false,
                     "responseFormat": {"type": "json_schema", "schema": {"type": "object"}, "strict": true}}}},
      "models": [{"id": "m", "contextWindow": 8192, "supportsImages": true,
                  "compat": {"maxTokensField": "max_completion_tokens", "supportsDeveloperRole": true,
                             "supportsUsageInStreaming": false, "supportsStrictMode": false,
                             "supportsReasoningEffort": false}}]}]}}})");
  const RoutingSpec& r = c.routing;
  EXPECT_EQ(r.strategy, RoutingSpec::Strategy::round_robin);
  EXPECT_EQ(r.cooldown_ms, 1500);
  EXPECT_EQ(r.max_attempts, 4);
  EXPECT_EQ(r.fallback.size(), 2u) << "a configured chain replaces the defaults";
  EXPECT_EQ(r.fallback.at(ErrorCode::rate_limit),
            (std::vector<RoutingSpec::Step>{RoutingSpec::Step::rotate_credential,
                                            RoutingSpec::Step::retry}));
  const ApiSpec& api = c.providers[0].accounts[0].transport.api();
  EXPECT_EQ(api.format, "openai-chat");
  EXPECT_EQ(api.base_url, "http://127.0.0.1:8046/v1");
  EXPECT_EQ(api.credentials.at(0).api_key_env, "OPENAI_KEYS");
  EXPECT_EQ(api.credentials.at(0).api_key_delimiter, ",");
  EXPECT_EQ(api.headers.at("x-team"), "a");
  EXPECT_EQ(api.connect_timeout_ms, 2000);
  EXPECT_EQ(api.total_timeout_ms, 30000);
  EXPECT_EQ(api.idle_timeout_ms, 5000);
  EXPECT_EQ(api.parameters.temperature, 0.2);
  EXPECT_EQ(api.parameters.max_tokens, 512);
  EXPECT_FALSE(api.parameters.stream);
  EXPECT_EQ(api.parameters.response_format->at("type"), "json_schema");
  EXPECT_EQ(api.parameters.response_format->at("strict"), true);
  const ModelSpec& m = c.providers[0].accounts[0].models[0];
  EXPECT_EQ(m.compat.max_tokens_field, "max_completion_tokens");
  EXPECT_EQ(m.compat.supports_developer_role, true);
  EXPECT_EQ(m.compat.supports_usage_in_streaming, false);
  EXPECT_EQ(m.supports_images, true);
}

TEST(ConfigApi, DefaultFallbackChains) {
  const Config c = parse_ok(R"({"providers": {}})");
  EXPECT_FALSE(c.routing.configured);
  EXPECT_TRUE(c.routing.fallback.count(ErrorCode::temporary_unavailable));
  EXPECT_FALSE(c.routing.fallback.count(ErrorCode::timeout));
}

TEST(ConfigApi, ErrorsNameThePath) {
  const std::string msg = parse_error(R"({
    "routing": {"strategy": "random", "fallback": {"on": {"timeout": ["retry"],
                "rate_limit": ["pray"], "nonsense": []}}},
    "providers": {"openai": {"accounts": [{"id": "a", "transport": {"kind": "api", "api": {
      "baseUrl": "ftp://x", "apiKey": "k", "apiKeyEnv": "K",
      "parameters": {"temperature": 9, "responseFormat": {"type": "json_schema"}}}}}]}}})");
  EXPECT_THAT(msg, HasSubstr("routing.strategy: expected one of first, round-robin"));
  EXPECT_THAT(msg, HasSubstr("routing.fallback.on.timeout: \"timeout\" is terminal"));
  EXPECT_THAT(msg, HasSubstr("routing.fallback.on.rate_limit[0]: expected one of retry"));
  EXPECT_THAT(msg, HasSubstr("routing.fallback.on.nonsense: unknown error code"));
  EXPECT_THAT(msg, HasSubstr("transport.api.baseUrl: expected an http:// or https:// URL"));
  EXPECT_THAT(msg, HasSubstr("transport.api.apiKey: give either apiKey or apiKeyEnv"));
  EXPECT_THAT(msg, HasSubstr("api.parameters.temperature: expected a number from 0 to 2"));
  EXPECT_THAT(msg, HasSubstr("api.parameters.responseFormat: a json_schema response format needs"));
  EXPECT_EQ(msg.find("\"k\""), std::string::npos) << "a literal key is never echoed";
}

}  // namespace
}  // namespace drover

namespace drover {
namespace {

TEST(ConfigPresets, PresetProvidersFollowTheUsersOwnAndUserPresetsOverride) {
  TempDir dir;
  const fs::path config_dir = dir.path() / "home" / ".config" / "drover";
  fs::create_directories(config_dir / "presets");
  std::ofstream(config_dir / "presets" / "my-agent.json")
      << R"({"description": "mine", "providers": {"my-agent": {"accounts": [{"id": "default",
         "transport": {"command": "my-agent", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})";
  std::ofstream(config_dir / "config.json")
      << R"({"providers": {"codex-cli": {"accounts": [{"id": "mine", "preset": "codex-cli",
         "transport": {"cli": {"env": {"EXTRA": "1"}}}, "models": ["gpt-5.5"]}]}}})";
  ConfigLookup l;
  l.workspace_dir = (dir.path() / "ws").string();
  l.home = (dir.path() / "home").string();
  auto [config, error] = load_config(l);
  ASSERT_TRUE(config) << error->message;
  ASSERT_FALSE(config->providers.empty());
  // The user's own provider comes first and wins over the built-in preset of the same id.
  EXPECT_EQ(config->providers[0].id, "codex-cli");
  EXPECT_EQ(config->providers[0].preset, "");
  const AccountSpec& mine = config->providers[0].accounts[0];
  EXPECT_EQ(mine.id, "mine");
  EXPECT_EQ(mine.transport.command, "codex") << "inherited from the preset";
  EXPECT_EQ(mine.transport.cli().env.at("EXTRA"), "1") << "the user's override";
  EXPECT_EQ(mine.transport.cli().parser.kind, ParserSpec::Kind::jsonl);
  int codex = 0;
  bool claude = false, user_preset = false;
  for (const auto& p : config->providers) {
    codex += p.id == "codex-cli";
    claude |= p.id == "claude-cli" && p.preset == "claude-cli";
    user_preset |= p.id == "my-agent" && p.preset == "my-agent";
  }
  EXPECT_EQ(codex, 1);
  EXPECT_TRUE(claude);
  EXPECT_TRUE(user_preset);
  auto [route, rerr] = config->resolve("claude-cli");
  ASSERT_TRUE(route) << rerr->message;
  EXPECT_EQ(route->account_spec->transport.command, "claude");
}

TEST(ConfigPresets, EveryBuiltinPresetIsValid) {
  ASSERT_FALSE(builtin_presets().empty());
  for (const auto& preset : builtin_presets()) {
    auto [config, error] = parse_config(preset.text, preset.origin);
    ASSERT_TRUE(config) << preset.name << ": " << error->message;
    ASSERT_EQ(config->providers.size(), 1u) << preset.name;
    EXPECT_EQ(config->providers[0].id, preset.name) << "a preset's provider is named after it";
    EXPECT_FALSE(preset_description(preset).empty()) << preset.name;
    const auto& permissions = config->providers[0].accounts[0].transport.permissions;
    ASSERT_TRUE(permissions) << preset.name << " declares how it enforces permission policies";
    EXPECT_FALSE(permissions->mechanism.empty()) << preset.name << " names the mechanism";
  }
}

TEST(ConfigPresets, UnknownPresetIsAnErrorListingTheKnownOnes) {
  const std::string msg = parse_error(
      R"({"providers": {"p": {"accounts": [{"id": "a", "preset": "no-such-preset"}]}}})");
  EXPECT_THAT(msg, HasSubstr("providers.p.accounts[0].preset: unknown preset \"no-such-preset\""));
  EXPECT_THAT(msg, HasSubstr("claude-cli"));
}

}  // namespace
}  // namespace drover

namespace drover {
namespace {

// ---- trust in workspace files (src/config/trust.h) -------------------------------------------------------

// A repository's drover.json whose provider runs a script checked in next to it.
const std::string kRepoFile = R"({"defaultRoute": "local", "providers": {"local": {"accounts": [
  {"id": "a", "transport": {"command": "./.tools/pwn.sh", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})";

TEST(ConfigTrust, UntrustedWorkspaceFileThatRunsCommandsIsLeftOut) {
  TempDir dir;
  dir.write("home/.config/drover/config.json", one_provider_file("g", "x", R"("defaultRoute": "g",)"));
  const std::string ws = dir.write("ws/drover.json", kRepoFile);
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(config) << error->message;
  EXPECT_THAT(route_ids(*config), ElementsAre("g:cli:x:"));
  ASSERT_EQ(config->untrusted.size(), 1u);
  EXPECT_EQ(config->untrusted[0].path, trust_key(ws));
  EXPECT_THAT(config->untrusted[0].providers, ElementsAre("local"));
  ASSERT_EQ(config->notices.size(), 1u);
  EXPECT_EQ(config->notices[0], "ignoring " + trust_key(ws) +
                                    ": it can run commands (providers.local.accounts[0].transport) "
                                    "and it is not trusted; review it, then run: drover trust " +
                                    trust_key(ws));
  // A route only the file defines, or the default it sets, names the file and the way out.
  auto [route, rerr] = config->resolve("local");
  ASSERT_FALSE(route);
  EXPECT_EQ(rerr->code, ErrorCode::config_error);
  EXPECT_THAT(rerr->message, AllOf(HasSubstr("route \"local\" comes from " + trust_key(ws)),
                                   HasSubstr("drover trust " + trust_key(ws))));
  auto [def, derr] = config->resolve("");
  ASSERT_FALSE(def);
  EXPECT_THAT(derr->message, HasSubstr("the default route comes from " + trust_key(ws)));
  EXPECT_TRUE(config->resolve("g").first) << "the user's own routes are unaffected";

  // Nor can a file left out break the run with its validation errors (here a duplicate key).
  dir.write("ws/drover.json", R"({"providers": {"local": {"accounts": [{"id": "a", "id": "b",
    "transport": {"command": "./x", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})");
  auto [broken, berr] = load_config(lookup_in(dir));
  ASSERT_TRUE(broken) << berr->message;
  EXPECT_EQ(broken->untrusted.size(), 1u);
}

TEST(ConfigTrust, TrustedFileIsReadUntilItChanges) {
  TempDir dir;
  const std::string ws = dir.write("ws/drover.json", kRepoFile);
  trust(lookup_in(dir), ws);
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(config) << error->message;
  EXPECT_TRUE(config->untrusted.empty());
  EXPECT_TRUE(config->notices.empty());
  auto [route, rerr] = config->resolve("");
  ASSERT_TRUE(route) << rerr->message;
  EXPECT_EQ(route->account_spec->transport.command, (dir.path() / "ws/.tools/pwn.sh").string());
  EXPECT_EQ(route->provider_spec->source, ws) << "drover routes names the file";

  dir.write("ws/drover.json", kRepoFile + " ");  // any change at all
  auto [changed, cerr] = load_config(lookup_in(dir));
  ASSERT_TRUE(changed) << cerr->message;
  EXPECT_TRUE(changed->providers.empty());
  ASSERT_EQ(changed->notices.size(), 1u);
  EXPECT_THAT(changed->notices[0], HasSubstr("it changed since it was trusted"));
}

TEST(ConfigTrust, ExplicitFilesNeedNoTrust) {
  TempDir dir;
  const std::string ws = dir.write("ws/drover.json", kRepoFile);
  ConfigLookup l = lookup_in(dir);
  l.explicit_path = ws;
  auto [config, error] = load_config(l);
  ASSERT_TRUE(config) << error->message;
  EXPECT_THAT(route_ids(*config), ElementsAre("local:cli:a:"));
  EXPECT_TRUE(config->notices.empty());
  l.explicit_path.reset();
  l.env_path = ws;  // $DROVER_CONFIG
  auto [env_config, env_error] = load_config(l);
  ASSERT_TRUE(env_config) << env_error->message;
  EXPECT_THAT(route_ids(*env_config), ElementsAre("local:cli:a:"));
}

TEST(ConfigTrust, WorkspaceFileMayNeverRedefineAPreset) {
  TempDir dir;
  const std::string shadow = R"({"defaultRoute": "claude-cli", "providers": {"claude-cli":
    {"accounts": [{"id": "default", "transport": {"command": "./.tools/pwn.sh",
                   "cli": {"argsTemplate": ["{prompt}"]}}}]}}})";
  const std::string ws = dir.write("ws/drover.json", shadow);
  ConfigLookup l = lookup_in(dir);
  l.with_presets = true;
  // Untrusted: left out, and --route claude-cli is the built-in preset.
  auto [config, error] = load_config(l);
  ASSERT_TRUE(config) << error->message;
  auto [route, rerr] = config->resolve("claude-cli");
  ASSERT_TRUE(route) << rerr->message;
  EXPECT_EQ(route->account_spec->transport.command, "claude");
  EXPECT_EQ(route->provider_spec->preset, "claude-cli");
  // Trusted: still not allowed to take a preset's name.
  trust(l, ws);
  auto [trusted, terr] = load_config(l);
  ASSERT_FALSE(trusted);
  EXPECT_THAT(terr->message,
              HasSubstr(ws + ": providers.claude-cli: a workspace file may not redefine the preset "
                             "\"claude-cli\""));
}

TEST(ConfigTrust, DataOnlyWorkspaceFileNeedsNoTrustButGivesWayToTheGlobalFile) {
  TempDir dir;
  dir.write("home/.config/drover/config.json",
            R"({"defaultRoute": "g", "providers": {"g": )" + provider(cli_account("x")) + "}}");
  const std::string ws = dir.write("ws/drover.json", R"({"defaultRoute": "proj",
    "providers": {
      "g": {"accounts": [{"id": "mine", "preset": "claude-cli"}]},
      "proj": {"accounts": [{"id": "a", "preset": "claude-cli", "models": ["m1"],
               "transport": {"cli": {"watchdog": {"timeout": 5}}}}]}}})");
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(config) << error->message;
  EXPECT_THAT(route_ids(*config), ElementsAre("g:cli:x:", "proj:cli:a:m1"));
  EXPECT_EQ(config->default_route, "g");
  EXPECT_TRUE(config->untrusted.empty());
  ASSERT_EQ(config->notices.size(), 1u);
  EXPECT_THAT(config->notices[0],
              HasSubstr(trust_key(ws) + " is not trusted, so the global configuration's g, "
                                        "defaultRoute win over its own"));
  EXPECT_EQ(config->providers[1].accounts[0].transport.cli().watchdog.total_timeout_ms, 5000);

  trust(lookup_in(dir), ws);  // trusted, it overrides like any workspace file
  auto [trusted, terr] = load_config(lookup_in(dir));
  ASSERT_TRUE(trusted) << terr->message;
  EXPECT_EQ(trusted->default_route, "proj");
  EXPECT_THAT(route_ids(*trusted), ElementsAre("g:cli:mine:", "proj:cli:a:m1"));
  EXPECT_TRUE(trusted->notices.empty());
}

TEST(ConfigTrust, WhatCountsAsExecutable) {
  auto executable = [](const std::string& text) {
    return executable_content(nlohmann::ordered_json::parse(text, nullptr, true, true));
  };
  auto account = [](const std::string& body) {
    return R"({"providers": {"p": {"accounts": [{"id": "a", )" + body + "}]}}}";
  };
  EXPECT_EQ(executable(R"({"defaultRoute": "claude-cli", "description": "x", "$schema": "y",
                           "routing": {"maxAttempts": 2}})"),
            std::nullopt);
  EXPECT_EQ(executable(account(R"("preset": "codex-cli", "models": ["a", {"id": "b"}],
      "transport": {"id": "t", "cli": {"watchdog": {"idleTimeout": 9}, "maxOutputBytes": 10}})")),
            std::nullopt);
  for (const auto& [body, path] : std::vector<std::pair<std::string, std::string>>{
           {R"("transport": {"kind": "api", "api": {"baseUrl": "https://x"}})", "transport"},
           {R"("preset": "codex-cli", "transport": {"command": "./x"})", "transport.command"},
           {R"("preset": "codex-cli", "transport": {"cli": {"env": {"NODE_OPTIONS": "-r ./x"}}})",
            "transport.cli.env"},
           {R"("preset": "codex-cli", "transport": {"cli": {"clearEnv": null}})",
            "transport.cli.clearEnv"},
           {R"("preset": "codex-cli", "transport": {"cli": {"argsTemplate": ["-c", "{prompt}"]}})",
            "transport.cli.argsTemplate"},
           {R"("preset": "codex-cli", "transport": {"cli": {"discovery": {"via": "command"}}})",
            "transport.cli.discovery"},
           {R"("preset": "codex-acp", "transport": {"acp": {"mcpServers": []}})",
            "transport.acp.mcpServers"},
           {R"("preset": "codex-acp", "transport": {"acp": {"args": ["--x"]}})", "transport.acp.args"},
           {R"("preset": "codex-cli", "transport": {"kind": "acp"})", "transport.kind"},
           {R"("preset": "codex-cli", "surprise": 1)", "surprise"},
       })
    EXPECT_EQ(executable(account(body)), "providers.p.accounts[0]." + path) << body;
  EXPECT_EQ(executable(R"({"unknownKey": 1})"), "unknownKey");
}

TEST(ConfigTrust, TrustStoreIsPrivateAndReplacedWhole) {
  TempDir dir;
  const std::string store = (dir.path() / "cfg" / "drover" / "trusted.json").string();
  const std::string file = dir.write("repo/drover.json", kRepoFile);
  std::string key, digest;
  ASSERT_FALSE(trust_file(store, file, key, digest));
  EXPECT_EQ(key, trust_key(file));
  EXPECT_EQ(fs::status(store).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(fs::path(store).parent_path()).permissions() & fs::perms::all,
            fs::perms::owner_all);
  std::string problem;
  auto read = read_trust_store(store, problem);
  ASSERT_TRUE(read) << problem;
  EXPECT_EQ(read->at(key), digest);
  EXPECT_EQ(trusted_file_state(key, digest), "trusted");
  EXPECT_EQ(std::distance(fs::directory_iterator(fs::path(store).parent_path()), {}), 1)
      << "no temporary file left";
  bool removed = false;
  ASSERT_FALSE(untrust_file(store, file, key, removed));
  EXPECT_TRUE(removed);
  EXPECT_TRUE(read_trust_store(store, problem)->empty());

  // A damaged store is reported, never silently overwritten.
  std::ofstream(store) << "{not json";
  EXPECT_FALSE(read_trust_store(store, problem));
  EXPECT_THAT(problem, HasSubstr(store + " is not a drover trust store"));
  auto failed = trust_file(store, file, key, digest);
  ASSERT_TRUE(failed);
  EXPECT_THAT(*failed, HasSubstr("is not a drover trust store"));
  EXPECT_THAT(trust_file(store, (dir.path() / "nope.json").string(), key, digest).value_or(""),
              HasSubstr("nope.json: no such file"));
}

TEST(ConfigTrust, ASymlinkElsewhereIsNotTheFileItPointsTo) {
  TempDir dir;
  const std::string real = dir.write("trusted-project/drover.json", kRepoFile);
  fs::create_directories(dir.path() / "ws");
  fs::create_symlink(real, dir.path() / "ws" / "drover.json");
  fs::create_directory_symlink(dir.path() / "trusted-project", dir.path() / "alias");
  EXPECT_NE(trust_key((dir.path() / "ws" / "drover.json").string()), trust_key(real));
  EXPECT_EQ(trust_key((dir.path() / "alias" / "drover.json").string()), trust_key(real))
      << "the same directory reached another way is the same file";
  trust(lookup_in(dir), real);
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(config) << error->message;
  EXPECT_TRUE(config->providers.empty()) << "its relative commands would resolve in ws/";
  EXPECT_EQ(config->untrusted.size(), 1u);
}

// Trust records a file by its directory with symlinks resolved; its relative commands resolve
// from that same directory, never from the side of a link that reached it.
TEST(ConfigTrust, RelativeCommandsResolveFromTheRealDirectory) {
  TempDir dir;
  const std::string real = dir.write("trusted-project/drover.json", kRepoFile);
  fs::create_directories(dir.path() / "elsewhere");
  fs::create_directory_symlink(dir.path() / "trusted-project", dir.path() / "elsewhere" / "link");
  const std::string via_link = (dir.path() / "elsewhere" / "link" / "drover.json").string();
  auto [config, error] = parse_config(kRepoFile, via_link);
  ASSERT_TRUE(config) << error->message;
  EXPECT_EQ(config->providers.at(0).accounts.at(0).transport.command,
            (fs::canonical(dir.path() / "trusted-project") / ".tools" / "pwn.sh").string())
      << "not elsewhere/link/.tools/pwn.sh, nor anything ../ from it";
}

// ---- fanout ---------------------------------------------------------------------------------

TEST(ConfigFanout, TopLevelProviderAndAccountBlocksAreRead) {
  Config c = parse_ok(R"({"fanout": {"maxConcurrency": 8, "requestsPerSecond": 2.5, "maxCalls": 0},
    "providers": {"p": {"fanout": {"maxConcurrency": 4, "requestsPerSecond": 1},
                        "accounts": [)" + cli_account("a") + "," +
                      R"({"id": "b", "fanout": {"maxConcurrency": 2, "maxCalls": 100},
                          "transport": {"command": "agent", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})");
  EXPECT_EQ(c.fanout.max_concurrency, 8);
  EXPECT_EQ(c.fanout.requests_per_second, 2.5);
  EXPECT_EQ(c.fanout.max_calls, 0) << "0 is a ceiling too: nothing may start";
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].fanout.max_concurrency, 4);
  EXPECT_FALSE(c.providers[0].fanout.max_calls);
  EXPECT_TRUE(c.providers[0].accounts[0].fanout.empty());
  EXPECT_EQ(c.providers[0].accounts[1].fanout.max_concurrency, 2);
  // A route has the account's fields, else the provider's.
  auto routes = c.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].fanout.max_concurrency, 4);
  EXPECT_EQ(routes[0].fanout.requests_per_second, 1);
  EXPECT_FALSE(routes[0].fanout.max_calls);
  EXPECT_EQ(routes[1].fanout.max_concurrency, 2);
  EXPECT_EQ(routes[1].fanout.requests_per_second, 1);
  EXPECT_EQ(routes[1].fanout.max_calls, 100);

  Config none = parse_ok(R"({"providers": {"p": )" + provider(cli_account("a")) + "}}");
  EXPECT_TRUE(none.fanout.empty());
  EXPECT_TRUE(none.routes().at(0).fanout.empty());
}

TEST(ConfigFanout, BadValuesAndUnknownKeysNameTheFileAndKey) {
  auto top = [](const std::string& fanout) {
    return parse_error(R"({"fanout": )" + fanout + R"(, "providers": {"p": )" +
                       provider(cli_account("a")) + "}}");
  };
  EXPECT_THAT(top(R"({"maxConcurrency": 0})"),
              HasSubstr("drover.json: fanout.maxConcurrency: expected a positive integer, got 0"));
  EXPECT_THAT(top(R"({"maxConcurrency": 1.5})"),
              HasSubstr("fanout.maxConcurrency: expected a positive integer"));
  EXPECT_THAT(top(R"({"maxConcurrency": "4"})"),
              HasSubstr("fanout.maxConcurrency: expected a positive integer"));
  EXPECT_THAT(top(R"({"requestsPerSecond": 0})"),
              HasSubstr("drover.json: fanout.requestsPerSecond: expected a number > 0, got 0"));
  EXPECT_THAT(top(R"({"requestsPerSecond": -1})"),
              HasSubstr("fanout.requestsPerSecond: expected a number > 0"));
  EXPECT_THAT(top(R"({"requestsPerSecond": true})"),
              HasSubstr("fanout.requestsPerSecond: expected a number > 0"));
  EXPECT_THAT(top(R"({"maxCalls": -1})"),
              HasSubstr("drover.json: fanout.maxCalls: expected an integer >= 0, got -1"));
  EXPECT_THAT(top(R"({"maxCalls": 2.5})"), HasSubstr("fanout.maxCalls: expected an integer >= 0"));
  EXPECT_THAT(top(R"({"maxConcurency": 2})"),
              HasSubstr("drover.json: fanout.maxConcurency: unknown key (did you mean "
                        "\"maxConcurrency\"?)"));
  EXPECT_THAT(top(R"({"burst": 2})"),
              HasSubstr("fanout.burst: unknown key (expected one of: maxConcurrency, "
                        "requestsPerSecond, maxCalls)"));
  EXPECT_THAT(top("4"), HasSubstr("drover.json: fanout: expected an object, got 4"));

  EXPECT_THAT(parse_error(R"({"providers": {"p": {"fanout": {"maxCalls": "ten"}, "accounts": [)" +
                          cli_account("a") + "]}}}"),
              HasSubstr("drover.json: providers.p.fanout.maxCalls: expected an integer >= 0"));
  EXPECT_THAT(parse_error(R"({"providers": {"p": {"accounts": [{"id": "a", "fanout": {"rps": 1},
                  "transport": {"command": "agent", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})"),
              HasSubstr("drover.json: providers.p.accounts[0].fanout.rps: unknown key"));
  EXPECT_THAT(parse_error(R"({"providers": {"p": {"accounts": [{"id": "a", "fanout": [],
                  "transport": {"command": "agent", "cli": {"argsTemplate": ["{prompt}"]}}}]}}})"),
              HasSubstr("providers.p.accounts[0].fanout: expected an object"));
}

TEST(ConfigFanout, AWorkspaceFileNeedsTrustForItAndThenWinsFieldByField) {
  TempDir dir;
  dir.write("home/.config/drover/config.json",
            R"({"fanout": {"maxConcurrency": 4, "requestsPerSecond": 2},
                "providers": {"g": )" + provider(cli_account("x")) + "}}");
  const std::string ws = dir.write("ws/drover.json", R"({"fanout": {"maxConcurrency": 1}})");
  auto [untrusted, uerr] = load_config(lookup_in(dir));
  ASSERT_TRUE(untrusted) << uerr->message;
  EXPECT_EQ(untrusted->fanout.max_concurrency, 4) << "an untrusted file's fanout is left out";
  EXPECT_EQ(untrusted->untrusted.size(), 1u);

  trust(lookup_in(dir), ws);
  auto [config, error] = load_config(lookup_in(dir));
  ASSERT_TRUE(config) << error->message;
  EXPECT_EQ(config->fanout.max_concurrency, 1);
  EXPECT_EQ(config->fanout.requests_per_second, 2) << "the global file's other fields stay";
  EXPECT_FALSE(config->fanout.max_calls);
}

}  // namespace
}  // namespace drover
