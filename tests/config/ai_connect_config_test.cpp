// ai-connect's config layout (src/config/ai_connect.cpp): every key it adds to drover's schema,
// what each means for route resolution and key pools, and every error, each naming the path
// as written (and both paths when one thing is spelled both ways).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "src/config/credentials.h"

namespace drover {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kAcct = "providers.openai.accounts[0]";

// A config with `account` as the only account of provider `provider` (plus `extra` at the top).
json one_account(const json& account, const std::string& provider = "openai",
                 const json& extra = json::object()) {
  json doc = {{"providers", {{provider, {{"accounts", json::array({account})}}}}}};
  for (const auto& [k, v] : extra.items()) doc[k] = v;
  return doc;
}

Config ai_parse_ok(const json& doc) {
  auto [config, error] = parse_config(doc.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

Config parse_text_ok(const std::string& text) {
  auto [config, error] = parse_config(text, "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

std::string ai_parse_error(const json& doc) {
  auto [config, error] = parse_config(doc.dump(), "test.json");
  EXPECT_FALSE(config) << "expected an error for " << doc.dump();
  if (!error) return {};
  EXPECT_EQ(error->code, ErrorCode::config_error);
  return error->message;
}

const AccountSpec& first_account(const Config& c) { return c.providers.at(0).accounts.at(0); }

json api_account(const json& transport = {{"kind", "api"}, {"baseUrl", "http://127.0.0.1:9/v1"}}) {
  return {{"id", "main"}, {"transport", transport}, {"models", {"gpt-4.1", "gpt-5.5"}}};
}

// ---- the transport: "api", baseUrl beside the kind, auth.methodId, <kind>.preset -----------

TEST(AiConnectLayout, TransportAsAKindNameIsThatKindsDefaultTransport) {
  json account = {{"id", "main"}, {"transport", "api"}};
  const Config c = ai_parse_ok(one_account(account));
  const AccountSpec& a = first_account(c);
  ASSERT_EQ(a.transport.kind, TransportKind::api);
  EXPECT_EQ(a.transport.api().format, "openai-chat");  // from the provider id
  EXPECT_EQ(a.transport.api().base_url, "");           // the public endpoint
  EXPECT_EQ(c.routes().at(0).id, "openai:api:main:");
}

TEST(AiConnectLayout, TransportBaseUrlIsTheApiBlocksBaseUrl) {
  const Config c = ai_parse_ok(one_account(api_account()));
  EXPECT_EQ(first_account(c).transport.api().base_url, "http://127.0.0.1:9/v1");
  // The current spelling keeps working, alone.
  json current = api_account({{"kind", "api"}, {"api", {{"baseUrl", "http://127.0.0.1:9/v1"}}}});
  EXPECT_EQ(first_account(ai_parse_ok(one_account(current))).transport.api().base_url,
            "http://127.0.0.1:9/v1");
}

TEST(AiConnectLayout, BaseUrlSpelledBothWaysNamesBothPaths) {
  json account = api_account({{"kind", "api"},
                              {"baseUrl", "http://a.invalid/v1"},
                              {"api", {{"baseUrl", "http://b.invalid/v1"}}}});
  EXPECT_THAT(ai_parse_error(one_account(account)),
              HasSubstr(kAcct + ".transport.baseUrl: the base URL is given twice, here and at " +
                        kAcct + ".transport.api.baseUrl: keep one"));
}

TEST(AiConnectLayout, ABadTransportBaseUrlIsReportedWhereItWasWritten) {
  json account = api_account({{"kind", "api"}, {"baseUrl", "ftp://host"}});
  const std::string message = ai_parse_error(one_account(account));
  EXPECT_THAT(message, HasSubstr(kAcct + ".transport.baseUrl: expected an http:// or https:// URL"));
  EXPECT_THAT(message, Not(HasSubstr("transport.api.baseUrl")));
  // One holding credentials is not echoed.
  json secret = api_account({{"kind", "api"}, {"baseUrl", "user:hunter2@host"}});
  const std::string hidden = ai_parse_error(one_account(secret));
  EXPECT_THAT(hidden, HasSubstr(kAcct + ".transport.baseUrl: expected an http:// or https:// URL"));
  EXPECT_THAT(hidden, Not(HasSubstr("hunter2")));
}

TEST(AiConnectLayout, TransportBaseUrlOnAHarnessTransportIsAnError) {
  json account = {{"id", "main"},
                  {"transport",
                   {{"kind", "acp"}, {"command", "agent"}, {"baseUrl", "http://127.0.0.1:9"}}}};
  EXPECT_THAT(ai_parse_error(one_account(account, "acme")),
              HasSubstr("providers.acme.accounts[0].transport.baseUrl: only valid when kind is "
                        "\"api\", this transport is \"acp\""));
}

TEST(AiConnectLayout, AnUnknownTransportNameIsAnError) {
  json account = {{"id", "main"}, {"transport", "grpc"}};
  const std::string message = ai_parse_error(one_account(account));
  EXPECT_THAT(message, HasSubstr(kAcct + ".transport: expected one of cli, acp, api, or a "
                                         "transport object, got \"grpc\""));
  EXPECT_THAT(message, Not(HasSubstr("missing required key \"transport\"")));
}

TEST(AiConnectLayout, AuthMethodIdIsTheAcpAuthMethod) {
  json account = {{"id", "a"},
                  {"transport", {{"kind", "acp"}, {"command", "agent"}, {"auth", {{"methodId", "oauth-personal"}}}}}};
  const Config c = ai_parse_ok(one_account(account, "acme"));
  EXPECT_EQ(first_account(c).transport.acp().auth_method, "oauth-personal");
}

TEST(AiConnectLayout, AuthErrors) {
  const std::string p = "providers.acme.accounts[0].transport";
  json both = {{"id", "a"},
               {"transport",
                {{"kind", "acp"},
                 {"command", "agent"},
                 {"auth", {{"methodId", "x"}}},
                 {"acp", {{"authMethod", "y"}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(both, "acme")),
              HasSubstr(p + ".auth.methodId: the ACP auth method is given twice, here and at " + p +
                        ".acp.authMethod: keep one"));
  json on_cli = {{"id", "a"},
                 {"transport",
                  {{"kind", "cli"},
                   {"command", "agent"},
                   {"auth", {{"methodId", "x"}}},
                   {"cli", {{"argsTemplate", {"{prompt}"}}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(on_cli, "acme")),
              HasSubstr(p + ".auth: only valid when kind is \"acp\", this transport is \"cli\""));
  json no_method = {{"id", "a"},
                    {"transport", {{"kind", "acp"}, {"command", "agent"}, {"auth", {{"method", "x"}}}}}};
  const std::string message = ai_parse_error(one_account(no_method, "acme"));
  EXPECT_THAT(message, HasSubstr(p + ".auth.method: unknown key (did you mean \"methodId\"?)"));
}

TEST(AiConnectLayout, CliPresetStartsTheAccountFromThatPreset) {
  json account = {{"id", "mine"},
                  {"transport", {{"kind", "cli"}, {"cli", {{"preset", "claude-cli"},
                                                           {"env", {{"EXTRA", "1"}}}}}}},
                  {"models", {"sonnet"}}};
  const Config c = ai_parse_ok(one_account(account, "work"));
  const AccountSpec& a = first_account(c);
  ASSERT_EQ(a.transport.kind, TransportKind::cli);
  EXPECT_EQ(a.transport.command, "claude");
  EXPECT_FALSE(a.transport.cli().args_template.empty());
  EXPECT_EQ(a.transport.cli().env.at("EXTRA"), "1");
  EXPECT_EQ(a.transport.cli().env.at("DISABLE_TELEMETRY"), "1");  // the preset's, merged
  EXPECT_EQ(c.routes().at(0).id, "work:cli:mine:sonnet");
  // An ACP preset under transport.acp.
  json acp = {{"id", "a"}, {"transport", {{"kind", "acp"}, {"acp", {{"preset", "pi-acp"}}}}}};
  const Config d = ai_parse_ok(one_account(acp, "work"));
  EXPECT_EQ(first_account(d).transport.command, "pi-acp");
}

TEST(AiConnectLayout, CliPresetErrors) {
  const std::string p = "providers.work.accounts[0]";
  json both = {{"id", "a"},
               {"preset", "codex-cli"},
               {"transport", {{"kind", "cli"}, {"cli", {{"preset", "claude-cli"}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(both, "work")),
              HasSubstr(p + ".transport.cli.preset: the account's preset is given twice, here "
                            "and at " + p + ".preset: keep one"));
  json wrong_kind = {{"id", "a"}, {"transport", {{"kind", "cli"}, {"cli", {{"preset", "codex-acp"}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(wrong_kind, "work")),
              HasSubstr(p + ".transport.cli.preset: \"codex-acp\" is a preset of kind \"acp\", "
                            "not \"cli\" (put it at " + p + ".transport.acp.preset)"));
  json unknown = {{"id", "a"}, {"transport", {{"kind", "cli"}, {"cli", {{"preset", "nope-cli"}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(unknown, "work")),
              HasSubstr(p + ".transport.cli.preset: unknown preset \"nope-cli\" (known: "));
  json not_string = {{"id", "a"}, {"transport", {{"kind", "cli"}, {"cli", {{"preset", 3}}}}}};
  EXPECT_THAT(ai_parse_error(one_account(not_string, "work")),
              HasSubstr(p + ".transport.cli.preset: expected a preset name, got 3"));
}

// ---- credentials ------------------------------------------------------------------------------

TEST(AiConnectLayout, AccountCredentialsAreTheKeyPoolInOrder) {
  json account = api_account();
  account["credentials"] = {
      {{"id", "pool"}, {"apiKeyEnv", "AI_CONNECT_UNIT_KEYS"}, {"apiKeyDelimiter", ";"}},
      {{"id", "literal"}, {"apiKey", "sk-literal-9"}}};
  const Config c = ai_parse_ok(one_account(account));
  const ApiSpec& api = first_account(c).transport.api();
  ASSERT_EQ(api.credentials.size(), 2u);
  EXPECT_EQ(api.credentials[0].id, "pool");
  EXPECT_EQ(api.credentials[0].api_key_env, "AI_CONNECT_UNIT_KEYS");
  EXPECT_EQ(api.credentials[0].api_key_delimiter, ";");
  EXPECT_EQ(api.credentials[1].api_key, "sk-literal-9");
  ::setenv("AI_CONNECT_UNIT_KEYS", "k1; k2;;", 1);
  std::optional<Error> error;
  EXPECT_EQ(load_api_keys(api.credentials, "r", error),
            (std::vector<std::string>{"k1", "k2", "sk-literal-9"}));
  EXPECT_FALSE(error);
  ::unsetenv("AI_CONNECT_UNIT_KEYS");
  std::optional<Error> unset;
  EXPECT_TRUE(load_api_keys(api.credentials, "openai:api:main:gpt-4.1", unset).empty());
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->code, ErrorCode::auth_error);
  EXPECT_EQ(unset->message, "the API key variable AI_CONNECT_UNIT_KEYS (route "
                            "openai:api:main:gpt-4.1, credential pool) is not set");
}

TEST(AiConnectLayout, CredentialsGivenTwiceNameBothPaths) {
  json account = api_account({{"kind", "api"},
                              {"baseUrl", "http://127.0.0.1:9/v1"},
                              {"api", {{"apiKeyEnv", "OPENAI_API_KEY"}}}});
  account["credentials"] = {{{"apiKeyEnv", "OTHER_KEY"}}};
  EXPECT_THAT(ai_parse_error(one_account(account)),
              HasSubstr(kAcct + ".credentials: the account's keys are given twice, here and at " +
                        kAcct + ".transport.api.apiKeyEnv: keep one"));
}

TEST(AiConnectLayout, CredentialEntryErrors) {
  auto error_for = [](const json& credentials) {
    json account = api_account();
    account["credentials"] = credentials;
    return ai_parse_error(one_account(account));
  };
  const std::string c = kAcct + ".credentials";
  EXPECT_THAT(error_for(json::array({{{"id", "k"}}})),
              HasSubstr(c + "[0]: a credential needs \"apiKeyEnv\""));
  EXPECT_THAT(error_for(json::array({{{"apiKey", "sk-1"}, {"apiKeyEnv", "K"}}})),
              HasSubstr(c + "[0].apiKey: give either apiKey or apiKeyEnv, not both"));
  EXPECT_THAT(error_for(json::array({{{"apiKey", "sk-1"}, {"apiKeyDelimiter", ","}}})),
              HasSubstr(c + "[0].apiKeyDelimiter: only valid with apiKeyEnv"));
  const std::string pasted = error_for(json::array({{{"apiKeyEnv", "sk-proj-abc123-def"}}}));
  EXPECT_THAT(pasted, HasSubstr(c + "[0].apiKeyEnv: must name an environment variable"));
  EXPECT_THAT(pasted, Not(HasSubstr("sk-proj-abc123-def")));
  EXPECT_THAT(error_for(json::array({{{"id", "a"}, {"apiKey", "x"}}, {{"id", "a"}, {"apiKey", "y"}}})),
              HasSubstr(c + "[1].id: duplicate credential id \"a\" in this account"));
  EXPECT_THAT(error_for(json::array({{{"id", "a b"}, {"apiKey", "x"}}})),
              HasSubstr(c + "[0].id: invalid credential id \"a b\""));
  EXPECT_THAT(error_for(json::array({{{"apiKeyEnvv", "K"}}})),
              HasSubstr(c + "[0].apiKeyEnvv: unknown key (did you mean \"apiKeyEnv\"?)"));
  EXPECT_THAT(error_for(json::array({"OPENAI_API_KEY"})),
              HasSubstr(c + "[0]: expected an object, got \"OPENAI_API_KEY\""));
  EXPECT_THAT(error_for({{"apiKeyEnv", "K"}}), HasSubstr(c + ": expected an array of {id, apiKey"));
  // A literal key in an error is never shown.
  EXPECT_THAT(error_for(json::array({{{"apiKey", "sk-secret-777"}, {"apiKeyEnv", "K"}}})),
              Not(HasSubstr("sk-secret-777")));
}

TEST(AiConnectLayout, CredentialsOnAHarnessAccountAreAnError) {
  json account = {{"id", "a"},
                  {"transport", {{"kind", "acp"}, {"command", "agent"}}},
                  {"credentials", {{{"apiKeyEnv", "K"}}}}};
  EXPECT_THAT(ai_parse_error(one_account(account, "acme")),
              HasSubstr("providers.acme.accounts[0].credentials: only valid for an API account "
                        "(transport kind \"api\"), this one is \"acp\""));
}

// ---- modelAllowlistMode -----------------------------------------------------------------------

TEST(AiConnectLayout, StrictAllowlistRefusesOtherModelsShortlistPassesThem) {
  json strict = api_account();
  strict["modelAllowlistMode"] = "strict";
  const Config s = ai_parse_ok(one_account(strict));
  EXPECT_EQ(first_account(s).model_allowlist, ModelAllowlistMode::strict);
  auto [listed, listed_error] = s.resolve("openai:api:main:gpt-5.5");
  ASSERT_TRUE(listed) << listed_error->message;
  auto [refused, refusal] = s.resolve("openai:api:main:gpt-9");
  EXPECT_FALSE(refused);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, ErrorCode::validation_error);
  EXPECT_EQ(refusal->message,
            "model \"gpt-9\" is not allowed on openai:api:main (its modelAllowlistMode is strict; "
            "allowed: gpt-4.1, gpt-5.5)");
  Route route = *listed;
  route.model = "gpt-9";
  EXPECT_TRUE(model_allowlist_refusal(route));  // what the router checks for --model

  json shortlist = api_account();
  shortlist["modelAllowlistMode"] = "shortlist";
  const Config l = ai_parse_ok(one_account(shortlist));
  EXPECT_EQ(first_account(l).model_allowlist, ModelAllowlistMode::shortlist);
  auto [other, other_error] = l.resolve("openai:api:main:gpt-9");
  ASSERT_TRUE(other) << other_error->message;
  EXPECT_EQ(other->model, "gpt-9");
  EXPECT_FALSE(model_allowlist_refusal(*other));
  EXPECT_EQ(l.resolve("openai").first->model, "gpt-4.1");  // the shortlist's first is the default
  // Unset: as before.
  EXPECT_FALSE(first_account(ai_parse_ok(one_account(api_account()))).model_allowlist);
}

TEST(AiConnectLayout, AllowlistModeErrors) {
  json wrong = api_account();
  wrong["modelAllowlistMode"] = "loose";
  EXPECT_THAT(ai_parse_error(one_account(wrong)),
              HasSubstr(kAcct + ".modelAllowlistMode: expected one of strict, shortlist, got \"loose\""));
  json empty = api_account();
  empty.erase("models");
  empty["modelAllowlistMode"] = "strict";
  EXPECT_THAT(ai_parse_error(one_account(empty)),
              HasSubstr(kAcct + ".modelAllowlistMode: strict needs the account's \"models\""));
}

// ---- systemPrompt, defaultResponseFormat, profile --------------------------------------------

TEST(AiConnectLayout, SystemPromptIsTheAccountsDefault) {
  json account = api_account();
  account["systemPrompt"] = "Be brief.";
  account["profile"] = "work";
  const Config c = ai_parse_ok(one_account(account));
  EXPECT_EQ(first_account(c).system_prompt, "Be brief.");
  EXPECT_EQ(first_account(c).profile, "work");
  EXPECT_FALSE(first_account(c).transport.api().parameters.system_prompt);
  json cli = {{"id", "a"},
              {"transport", {{"kind", "cli"}, {"command", "agent"}, {"cli", {{"argsTemplate", {"{prompt}"}}}}}},
              {"systemPrompt", "Harness default."}};
  EXPECT_EQ(first_account(ai_parse_ok(one_account(cli, "acme"))).system_prompt, "Harness default.");
}

TEST(AiConnectLayout, SystemPromptErrors) {
  json both = api_account({{"kind", "api"},
                           {"baseUrl", "http://127.0.0.1:9/v1"},
                           {"api", {{"parameters", {{"systemPrompt", "One."}}}}}});
  both["systemPrompt"] = "Two.";
  EXPECT_THAT(ai_parse_error(one_account(both)),
              HasSubstr(kAcct + ".systemPrompt: the system prompt is given twice, here and at " +
                        kAcct + ".transport.api.parameters.systemPrompt: keep one"));
  json number = api_account();
  number["systemPrompt"] = 5;
  EXPECT_THAT(ai_parse_error(one_account(number)), HasSubstr(kAcct + ".systemPrompt: expected a string, got 5"));
}

TEST(AiConnectLayout, DefaultResponseFormatIsTheApiRoutesResponseFormat) {
  auto format_of = [](const json& value) {
    json account = api_account();
    account["defaultResponseFormat"] = value;
    return first_account(ai_parse_ok(one_account(account))).transport.api().parameters.response_format;
  };
  EXPECT_FALSE(format_of("text"));
  EXPECT_EQ(format_of("json"), json({{"type", "json_object"}}));
  EXPECT_EQ(format_of("json_object"), json({{"type", "json_object"}}));
  EXPECT_EQ(format_of({{"type", "json_object"}}), json({{"type", "json_object"}}));
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "string"}}}}}};
  EXPECT_EQ(format_of({{"type", "json_schema"}, {"schema", schema}, {"strict", true}}),
            json({{"type", "json_schema"}, {"schema", schema}, {"name", "response"}, {"strict", true}}));
}

TEST(AiConnectLayout, DefaultResponseFormatErrors) {
  auto error_for = [](const json& value, json account = api_account()) {
    account["defaultResponseFormat"] = value;
    return ai_parse_error(one_account(account));
  };
  const std::string f = kAcct + ".defaultResponseFormat";
  EXPECT_THAT(error_for("xml"),
              HasSubstr(f + ": expected one of text, json, json_object, or an object {type, schema, "
                            "strict}, got \"xml\""));
  EXPECT_THAT(error_for({{"type", "json_schema"}}),
              HasSubstr(f + ": a json_schema response format needs \"schema\" (an object)"));
  EXPECT_THAT(error_for({{"type", "yaml"}}),
              HasSubstr(f + ".type: expected one of json_object, json_schema, got \"yaml\""));
  EXPECT_THAT(error_for("json", api_account({{"kind", "api"},
                                             {"baseUrl", "http://127.0.0.1:9/v1"},
                                             {"api", {{"parameters", {{"responseFormat", "json_object"}}}}}})),
              HasSubstr(f + ": the response format is given twice, here and at " + kAcct +
                        ".transport.api.parameters.responseFormat: keep one"));
  json cli = {{"id", "a"},
              {"transport", {{"kind", "cli"}, {"command", "agent"}, {"cli", {{"argsTemplate", {"{prompt}"}}}}}},
              {"defaultResponseFormat", "json"}};
  EXPECT_THAT(ai_parse_error(one_account(cli, "acme")),
              HasSubstr("providers.acme.accounts[0].defaultResponseFormat: only valid for an API "
                        "account (transport kind \"api\"), this one is \"cli\""));
}

// ---- routing.resolution ----------------------------------------------------------------------

json two_providers(const json& resolution) {
  json doc = one_account(api_account());
  doc["providers"]["anthropic"] = {
      {"accounts", {{{"id", "main"}, {"transport", "api"}, {"models", {"claude-sonnet-4-5"}}}}}};
  if (!resolution.is_null()) doc["routing"] = {{"resolution", resolution}};
  return doc;
}

TEST(AiConnectLayout, UnknownSelectorErrorIsTheDefault) {
  const Config c = ai_parse_ok(two_providers(nullptr));
  EXPECT_EQ(c.routing.unknown_selector, RoutingSpec::UnknownSelector::error);
  auto [route, error] = c.resolve("nope");
  EXPECT_FALSE(route);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_THAT(error->message, HasSubstr("no route matches \"nope\"; available routes: "));
  const Config explicit_error = ai_parse_ok(two_providers({{"unknownSelector", "error"}}));
  EXPECT_FALSE(explicit_error.resolve("nope").first);
  EXPECT_TRUE(explicit_error.resolve("anthropic").first);  // partial ids still match
}

TEST(AiConnectLayout, UnknownSelectorDefaultUsesDefaultRouteIdWithAWarning) {
  const Config c = ai_parse_ok(
      two_providers({{"unknownSelector", "default"}, {"defaultRouteId", "anthropic:api:main:claude-sonnet-4-5"}}));
  EXPECT_EQ(c.routing.unknown_selector, RoutingSpec::UnknownSelector::default_);
  auto [route, error] = c.resolve("nope:api");
  ASSERT_TRUE(route) << error->message;
  EXPECT_EQ(route->id, "anthropic:api:main:claude-sonnet-4-5");
  EXPECT_EQ(route->resolution_warning,
            "no route matches \"nope:api\"; using the default route "
            "anthropic:api:main:claude-sonnet-4-5 (routing.resolution.unknownSelector is \"default\")");
  // A selector that matches keeps its route and carries no warning.
  auto [known, known_error] = c.resolve("openai");
  ASSERT_TRUE(known);
  EXPECT_EQ(known->id, "openai:api:main:gpt-4.1");
  EXPECT_TRUE(known->resolution_warning.empty());
  // With no top-level defaultRoute, defaultRouteId is also the default route.
  EXPECT_EQ(c.resolve("").first->id, "anthropic:api:main:claude-sonnet-4-5");
  // defaultRoute wins for the empty selector.
  json doc = two_providers({{"unknownSelector", "default"}, {"defaultRouteId", "anthropic"}});
  doc["defaultRoute"] = "openai";
  EXPECT_EQ(ai_parse_ok(doc).resolve("").first->id, "openai:api:main:gpt-4.1");
}

TEST(AiConnectLayout, UnknownSelectorOffAcceptsOnlyFullRouteIds) {
  const Config c = ai_parse_ok(two_providers({{"unknownSelector", "off"}}));
  EXPECT_EQ(c.routing.unknown_selector, RoutingSpec::UnknownSelector::off);
  EXPECT_TRUE(c.resolve("openai:api:main:gpt-5.5").first);
  auto [partial, error] = c.resolve("openai");
  EXPECT_FALSE(partial);
  ASSERT_TRUE(error);
  EXPECT_THAT(error->message, HasSubstr("no route matches \"openai\" (routing.resolution."
                                        "unknownSelector is \"off\": give a route's full id"));
  EXPECT_FALSE(c.resolve("openai::main:gpt-4.1").first);  // no wildcards
  // An unlisted model in a full id follows the account's allowlist mode (unset: passed on).
  EXPECT_EQ(c.resolve("openai:api:main:gpt-9").first->model, "gpt-9");
  EXPECT_TRUE(c.resolve("").first);  // the default route
}

TEST(AiConnectLayout, ResolutionErrors) {
  EXPECT_THAT(ai_parse_error(two_providers({{"unknownSelector", "fallback"}})),
              HasSubstr("routing.resolution.unknownSelector: expected one of error, default, off, "
                        "got \"fallback\""));
  EXPECT_THAT(ai_parse_error(two_providers({{"unknownSelector", "default"}})),
              HasSubstr("routing.resolution.unknownSelector: \"default\" needs \"defaultRouteId\""));
  EXPECT_THAT(ai_parse_error(two_providers({{"unknownSelector", "default"}, {"defaultRouteId", "nope"}})),
              HasSubstr("test.json: routing.resolution.defaultRouteId: no route matches \"nope\""));
  EXPECT_THAT(ai_parse_error(two_providers({{"defaultRouteId", ""}})),
              HasSubstr("routing.resolution.defaultRouteId: expected a non-empty string"));
  EXPECT_THAT(ai_parse_error(two_providers({{"unknownSelectr", "error"}})),
              HasSubstr("routing.resolution.unknownSelectr: unknown key (did you mean \"unknownSelector\"?)"));
  EXPECT_THAT(ai_parse_error(two_providers("default")),
              HasSubstr("routing.resolution: expected an object, got \"default\""));
}

// ---- the whole layout, as ai-connect writes it (JSON with comments) -------------------------

TEST(AiConnectLayout, ADocumentInTheLayoutLoadsUnchanged) {
  const Config c = parse_text_ok(R"({
    // ai-connect: providers → accounts → transport + credentials + models
    "providers": {
      "openai": { "accounts": [ {
        "id": "main", "profile": "default",
        "transport": { "kind": "api", "id": "api", "baseUrl": "http://127.0.0.1:9/v1" },
        "models": ["gpt-4.1"], "modelAllowlistMode": "shortlist",
        "credentials": [ { "id": "k1", "apiKeyEnv": "OPENAI_API_KEYS", "apiKeyDelimiter": "," } ]
      } ] },
      "claude": { "accounts": [ {
        "id": "cli", /* a print-mode preset */
        "transport": { "kind": "cli", "id": "claude-cli", "cli": { "preset": "claude-cli" } }
      } ] },
      "codex": { "accounts": [ {
        "id": "acp",
        "transport": { "kind": "acp", "id": "codex-acp", "acp": { "preset": "codex-acp" } }
      } ] }
    },
    "routing": { "resolution": { "unknownSelector": "default", "defaultRouteId": "openai:api:main:gpt-4.1" } }
  })");
  ASSERT_EQ(c.providers.size(), 3u);
  EXPECT_EQ(c.routes().at(1).id, "claude:claude-cli:cli:");
  EXPECT_EQ(c.routes().at(2).id, "codex:codex-acp:acp:");
  EXPECT_EQ(c.providers[2].accounts[0].transport.kind, TransportKind::acp);
}

}  // namespace
}  // namespace drover
