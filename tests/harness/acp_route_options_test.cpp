// ACP route options against the fake ACP agent: the system prompt, usage outside the prompt
// result, model ids, aliases and names, args placeholders, failure evidence, elicitation,
// boolean config options, additional directories and the session updates read; and the pure
// readers behind them (harness/acp_updates.h, harness/acp.h).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/acp.h"
#include "harness/acp_updates.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// One ACP route on the fake agent: `fake_args` (split on spaces) first in its args, then `acp`
// merged into the acp block.
Config options_config(const std::string& fake_args, const json& acp = json::object(),
                      const std::vector<std::string>& models = {"fake-large"}) {
  json block = {{"args", json::array()}};
  std::istringstream words(fake_args);
  for (std::string w; words >> w;) block["args"].push_back(w);
  if (acp.contains("args"))
    for (const auto& a : acp["args"]) block["args"].push_back(a);
  json rest = acp;
  rest.erase("args");
  block.merge_patch(rest);
  json account = {{"id", "a"},
                  {"transport", {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}}}};
  if (!models.empty()) account["models"] = models;
  json config = {{"routing", {{"fallback", {{"on", json::object()}}}}},
                 {"providers", {{"fake", {{"accounts", {account}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

struct OptRun {
  Result result;
  std::vector<Event> events;
};

OptRun run(const Config& config, RunRequest request = {}) {
  OptRun out;
  if (request.prompt.empty()) request.prompt = "hello";
  Loop loop;
  start_run(loop, config, builtin_transports(), request,
            [&](const Event& e) { out.events.push_back(e); },
            [&](Result&& r) { out.result = std::move(r); });
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  return out;
}

std::string joined(const std::vector<std::string>& warnings) {
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  return all;
}

std::vector<json> transcript(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// The outgoing request `method` of a transcript (its params), or null.
json sent(const std::vector<json>& lines, const std::string& method) {
  for (const auto& l : lines)
    if (l.value("dir", "") == "out" && l.contains("msg") && l["msg"].value("method", "") == method)
      return l["msg"].value("params", json());
  return nullptr;
}

// ---- the system prompt ---------------------------------------------------------------------

TEST(AcpSystemPrompt, ALeadingBlockGoesBeforeThePromptText) {
  RunRequest request;
  request.system_prompt = "Be terse. ";
  OptRun r = run(options_config("", {{"systemPrompt", "leadingBlock"}}), request);
  ASSERT_FALSE(r.result.error) << r.result.error->message;
  EXPECT_EQ(r.result.text, "FAKE(fake-large): Be terse. hello");
  EXPECT_TRUE(r.result.warnings.empty()) << joined(r.result.warnings);
}

TEST(AcpSystemPrompt, NotSentIsAWarningNamingTheWays) {
  RunRequest request;
  request.system_prompt = "Be terse.";
  for (const json& acp : {json::object(), json{{"systemPrompt", "none"}}}) {
    OptRun r = run(options_config("", acp), request);
    ASSERT_FALSE(r.result.error) << r.result.error->message;
    EXPECT_EQ(r.result.text, "FAKE(fake-large): hello");
    EXPECT_THAT(joined(r.result.warnings), HasSubstr("the system prompt was not sent"));
    EXPECT_THAT(joined(r.result.warnings), HasSubstr("acp.systemPrompt"));
  }
  // Without a system prompt nothing is said.
  OptRun plain = run(options_config(""));
  EXPECT_TRUE(plain.result.warnings.empty()) << joined(plain.result.warnings);
}

TEST(AcpSystemPrompt, ArgsOrSessionMetaCarryIt) {
  RunRequest request;
  request.system_prompt = "Be terse.";
  OptRun args = run(options_config("", {{"args", {{{"when", "fresh"}, {"args", {"--echo-arg", "{system}"}}}}},
                                      {"systemPrompt", "leadingBlock"}}),
                 request);
  ASSERT_FALSE(args.result.error) << args.result.error->message;
  EXPECT_EQ(args.result.text, "FAKE(fake-large): hello [arg:Be terse.]") << "not sent twice";
  EXPECT_TRUE(args.result.warnings.empty()) << joined(args.result.warnings);

  ScratchDir dir;
  request.transcript_path = dir.path() + "/t.ndjson";
  OptRun meta = run(options_config("", {{"sessionMeta", {{"agent", {{"systemPrompt", "{system}"}}}}}}),
                 request);
  ASSERT_FALSE(meta.result.error) << meta.result.error->message;
  EXPECT_TRUE(meta.result.warnings.empty()) << joined(meta.result.warnings);
  EXPECT_EQ(sent(transcript(*request.transcript_path), "session/new")["_meta"],
            json({{"agent", {{"systemPrompt", "Be terse."}}}}));
  // Without a system prompt the member is left out.
  request.system_prompt.reset();
  run(options_config("", {{"sessionMeta", {{"agent", {{"systemPrompt", "{system}"}}}}}}), request);
  EXPECT_EQ(sent(transcript(*request.transcript_path), "session/new")["_meta"], json({{"agent", json::object()}}));
}

// ---- usage -----------------------------------------------------------------------------------

TEST(AcpUsage, MetaUsageInTheResultOrOnTheLastChunkIsRead) {
  for (const std::string shape : {"meta", "quota", "chunk"}) {
    SCOPED_TRACE(shape);
    OptRun r = run(options_config("--usage-shape " + shape));
    ASSERT_FALSE(r.result.error) << r.result.error->message;
    ASSERT_TRUE(r.result.usage);
    EXPECT_EQ(r.result.usage->input_tokens, 1);
    EXPECT_EQ(r.result.usage->output_tokens, 2);
    EXPECT_TRUE(r.result.usage->cost_usd) << "usage_update's cost is added";
    EXPECT_TRUE(std::any_of(r.events.begin(), r.events.end(), [](const Event& e) {
      return e.kind == Event::Kind::usage && e.usage && e.usage->output_tokens == 2;
    }));
  }
}

TEST(AcpUsage, RouteSelectorsReachOtherShapes) {
  // Unknown shapes give no counts (the cost of usage_update only) until a selector names them.
  OptRun unknown = run(options_config("--usage-shape custom"));
  ASSERT_TRUE(unknown.result.usage);
  EXPECT_FALSE(unknown.result.usage->output_tokens);
  OptRun result = run(options_config("--usage-shape custom", {{"usage", {{"result", "_meta.billing.turn"}}}}));
  ASSERT_FALSE(result.result.error) << result.result.error->message;
  ASSERT_TRUE(result.result.usage);
  EXPECT_EQ(result.result.usage->output_tokens, 2);
  OptRun update = run(options_config(
      "--usage-shape custom-update",
      {{"usage",
        {{"update", {{"path", "counts"}, {"wherePath", "sessionUpdate"}, {"whereEquals", "x_fake_usage"}}}}}}));
  ASSERT_FALSE(update.result.error) << update.result.error->message;
  ASSERT_TRUE(update.result.usage);
  EXPECT_EQ(update.result.usage->input_tokens, 1);
  EXPECT_EQ(update.result.usage->output_tokens, 2);
}

TEST(AcpUsage, NothingReportedLeavesUsageNull) {
  // No result usage, no usage_update cost: the fake's usage_update always has one, so the
  // reader is checked directly.
  EXPECT_FALSE(prompt_result_usage({{"stopReason", "end_turn"}}, std::nullopt));
  EXPECT_FALSE(prompt_result_usage({{"_meta", {{"quota", {{"model_usage", json::array()}}}}}}, std::nullopt));
  EXPECT_FALSE(update_usage({{"sessionUpdate", "agent_message_chunk"}}, std::nullopt));
  EXPECT_FALSE(update_usage({{"sessionUpdate", "usage_update"}, {"_meta", {{"usage", {{"inputTokens", 3}}}}}},
                            std::nullopt))
      << "usage_update is read on its own";
}

TEST(AcpUsage, ResultReadersPreferTheSelectorThenUsageThenMeta) {
  json result = {{"usage", {{"inputTokens", 1}}},
                 {"_meta", {{"usage", {{"inputTokens", 2}}},
                            {"quota", {{"token_count", {{"input_tokens", 3}}}}},
                            {"x", {{"prompt_tokens", 4}}}}}};
  EXPECT_EQ(prompt_result_usage(result, std::nullopt)->usage.input_tokens, 1);
  EXPECT_EQ(prompt_result_usage(result, Selector{"_meta.x", {}, std::nullopt})->usage.input_tokens, 4);
  result.erase("usage");
  EXPECT_EQ(prompt_result_usage(result, std::nullopt)->usage.input_tokens, 2);
  result["_meta"].erase("usage");
  auto quota = prompt_result_usage(result, std::nullopt);
  ASSERT_TRUE(quota);
  EXPECT_EQ(quota->usage.input_tokens, 3);
  EXPECT_EQ(quota->raw, json({{"input_tokens", 3}}));
  // A selector that finds nothing falls back to the known places.
  EXPECT_EQ(prompt_result_usage(result, Selector{"nowhere", {}, std::nullopt})->usage.input_tokens, 3);
}

// ---- models ----------------------------------------------------------------------------------

TEST(AcpModels, ARuntimeIdIsChosenByItsNameOrAnAlias) {
  OptRun by_name = run(options_config("--model-ids runtime"));
  ASSERT_FALSE(by_name.result.error) << by_name.result.error->message;
  EXPECT_EQ(by_name.result.text, "FAKE($runtime|fake|fake-large(fake)): hello");
  EXPECT_EQ(by_name.result.model, "$runtime|fake|fake-large(fake)");
  EXPECT_TRUE(by_name.result.warnings.empty()) << joined(by_name.result.warnings);

  RunRequest request;
  request.model = "big";
  OptRun alias = run(options_config("--model-ids runtime",
                                 {{"modelAliases", {{"big", "$runtime|fake|fake-large(fake)"}}},
                                  {"strictModels", true}}),
                  request);
  ASSERT_FALSE(alias.result.error) << alias.result.error->message;
  EXPECT_EQ(alias.result.text, "FAKE($runtime|fake|fake-large(fake)): hello");
  // Under strictModels an unknown name is still an error naming what is offered.
  request.model = "huge";
  OptRun unknown = run(options_config("--model-ids runtime", {{"strictModels", true}}), request);
  ASSERT_TRUE(unknown.result.error);
  EXPECT_THAT(unknown.result.error->message, HasSubstr("$runtime|fake|fake-small(fake)"));
}

TEST(AcpModels, MatchingOrderAndPassableIds) {
  const std::vector<AcpModelReport::Model> offered = {
      {"$runtime|openai|gpt-4.1(openai)", "gpt-4.1"},
      {"$runtime|openai|o3(openai)", "OpenAI o3"},
      {"gpt-4.1-mini", "gpt-4.1"},
      {"plain", "Plain Model"}};
  const std::map<std::string, std::string> aliases = {{"fast", "gpt-4.1-mini"}};
  EXPECT_EQ(match_acp_model("fast", offered, aliases).how, "alias");
  EXPECT_EQ(match_acp_model("fast", offered, aliases).id, "gpt-4.1-mini");
  EXPECT_EQ(match_acp_model("gpt-4.1-mini", offered, aliases).how, "id");
  EXPECT_EQ(match_acp_model("gpt-4.1", offered, {}).id, "$runtime|openai|gpt-4.1(openai)")
      << "the first advertised model of that name";
  EXPECT_EQ(match_acp_model("gpt-4.1", offered, {}).how, "name");
  EXPECT_EQ(match_acp_model("o3", offered, {}).id, "$runtime|openai|o3(openai)");
  EXPECT_EQ(match_acp_model("o3", offered, {}).how, "runtime");
  EXPECT_EQ(match_acp_model("nope", offered, {}).id, "nope");
  EXPECT_EQ(match_acp_model("nope", offered, {}).how, "");

  EXPECT_EQ(passable_model_id(offered[0], {}), "gpt-4.1");
  EXPECT_EQ(passable_model_id(offered[1], {}), "o3") << "a name of several words is not passed";
  EXPECT_EQ(passable_model_id(offered[2], {}), "gpt-4.1-mini") << "plain ids stay";
  EXPECT_EQ(passable_model_id(offered[2], aliases), "fast");
  EXPECT_EQ(passable_model_id(offered[3], {}), "plain");
}

// ---- args placeholders -----------------------------------------------------------------------

TEST(AcpArgs, PlaceholdersAndGroupsWithoutAValueDropWhole) {
  // The {model} group drops whole: a lone "--echo-arg" left behind would fail the agent.
  const json args = {"--echo-arg", "v={{literal}}",
                     json{{"args", {"--echo-arg", "model={model}"}}, {"when", "fresh"}},
                     json{{"args", {"--echo-arg", "session={session_id}"}}, {"when", "!clean"}}};
  OptRun with_model = run(options_config("", {{"args", args}}));
  ASSERT_FALSE(with_model.result.error) << with_model.result.error->message;
  EXPECT_EQ(with_model.result.text, "FAKE(fake-large): hello [arg:v={literal}] [arg:model=fake-large]");
  OptRun without = run(options_config("", {{"args", args}}, {}));
  ASSERT_FALSE(without.result.error) << without.result.error->message;
  EXPECT_EQ(without.result.text, "FAKE(fake-small): hello [arg:v={literal}]");
  // Through an alias, {model} is the id it names.
  RunRequest request;
  request.model = "big";
  OptRun alias = run(options_config("", {{"args", args}, {"modelAliases", {{"big", "fake-large"}}}}), request);
  ASSERT_FALSE(alias.result.error) << alias.result.error->message;
  EXPECT_THAT(alias.result.text, HasSubstr("[arg:model=fake-large]"));
}

// ---- failure evidence ------------------------------------------------------------------------

TEST(AcpEvidence, StderrAndTheLastMessagesWithSecretsRedacted) {
  OptRun r = run(options_config("--crash-on-prompt --stderr-noise",
                             {{"mcpServers",
                               {{{"name", "m"},
                                 {"command", "/bin/true"},
                                 {"args", json::array()},
                                 {"env", {{{"name", "API_TOKEN"}, {"value", "sk-evidence-secret"}}}}}}}}));
  ASSERT_TRUE(r.result.error);
  ASSERT_TRUE(r.result.process);
  const std::string& evidence = r.result.process->evidence;
  EXPECT_THAT(evidence, HasSubstr("stderr:\n"));
  EXPECT_THAT(evidence, HasSubstr("[fake-acp] handling session/prompt"));
  EXPECT_THAT(evidence, HasSubstr("last ACP messages:\n"));
  EXPECT_THAT(evidence, HasSubstr("-> {\"id\""));
  EXPECT_THAT(evidence, HasSubstr("\"method\":\"session/prompt\""));
  EXPECT_THAT(evidence, HasSubstr("<- {"));
  EXPECT_THAT(evidence, Not(HasSubstr("sk-evidence-secret")));
  EXPECT_LE(evidence.size(), 4096u);
  // A run that succeeded keeps none.
  OptRun ok = run(options_config(""));
  ASSERT_TRUE(ok.result.process);
  EXPECT_EQ(ok.result.process->evidence, "");
}

TEST(AcpEvidence, BoundedNewestFirstAndEachMessageCut) {
  std::vector<std::pair<bool, std::string>> messages;
  for (int i = 0; i < 30; ++i)
    messages.emplace_back(i % 2 == 0,
                          json{{"jsonrpc", "2.0"}, {"method", "m" + std::to_string(i)},
                               {"params", {{"text", std::string(1000, 'x')}, {"apiKey", "k-1"}}}}
                              .dump());
  messages.emplace_back(true, "not json at all");
  const std::string evidence = acp_failure_evidence(std::string(5000, 'e') + "\nlast line\n", messages);
  EXPECT_LE(evidence.size(), 4096u + 16);
  EXPECT_THAT(evidence, HasSubstr("last line"));
  EXPECT_THAT(evidence, HasSubstr("<- not json at all"));
  EXPECT_THAT(evidence, HasSubstr("\"method\":\"m29\"")) << "the newest messages stay";
  EXPECT_THAT(evidence, Not(HasSubstr("\"method\":\"m0\"")));
  EXPECT_THAT(evidence, Not(HasSubstr("k-1")));
  EXPECT_THAT(evidence, Not(HasSubstr(std::string(400, 'x')))) << "each message is cut";
  EXPECT_EQ(acp_failure_evidence("", {}), "");
}

// ---- elicitation -----------------------------------------------------------------------------

TEST(AcpElicitation, DeclinedByDefaultWithAWarningNamingTheQuestion) {
  OptRun r = run(options_config("--elicit form"));
  ASSERT_FALSE(r.result.error) << r.result.error->message;
  EXPECT_THAT(r.result.text, HasSubstr("[elicit:decline]"));
  EXPECT_THAT(joined(r.result.warnings), HasSubstr("asked for input \"Which branch?\" (form fields: branch)"));
  EXPECT_THAT(joined(r.result.warnings), HasSubstr("declined"));
  OptRun cancel = run(options_config("--elicit url", {{"elicitation", "cancel"}}));
  ASSERT_FALSE(cancel.result.error) << cancel.result.error->message;
  EXPECT_THAT(cancel.result.text, HasSubstr("[elicit:cancel]"));
  EXPECT_THAT(joined(cancel.result.warnings), HasSubstr("a URL on login.example.com"));
  EXPECT_THAT(joined(cancel.result.warnings), Not(HasSubstr("SECRET"))) << "only the host";
}

TEST(AcpElicitation, AdvertisedOnlyWhenTheRouteSaysHow) {
  ScratchDir dir;
  RunRequest request;
  request.transcript_path = dir.path() + "/t.ndjson";
  run(options_config(""), request);
  json caps = sent(transcript(*request.transcript_path), "initialize")["clientCapabilities"];
  EXPECT_FALSE(caps.contains("elicitation"));
  EXPECT_EQ(caps["session"], json({{"configOptions", {{"boolean", json::object()}}}}));
  run(options_config("", {{"elicitation", "decline"}}), request);
  caps = sent(transcript(*request.transcript_path), "initialize")["clientCapabilities"];
  EXPECT_EQ(caps["elicitation"], json({{"form", json::object()}}));
}

// ---- config options, directories, updates ----------------------------------------------------

TEST(AcpConfigOptions, BooleanAndSelectOptionsAreSetBeforeThePrompt) {
  OptRun r = run(options_config("--bool-option", {{"configOptions", {{"fast", true}}}}));
  ASSERT_FALSE(r.result.error) << r.result.error->message;
  EXPECT_EQ(r.result.text, "FAKE(fake-large): hello [fast]");
  // A select option by its value id (here the model's own), and a refused option fails the run.
  OptRun select = run(options_config("", {{"configOptions", {{"model", "fake-large"}}}}, {}));
  ASSERT_FALSE(select.result.error) << select.result.error->message;
  EXPECT_EQ(select.result.text, "FAKE(fake-large): hello");
  EXPECT_EQ(select.result.model, "fake-large") << "read back from the agent's answer";
  OptRun refused = run(options_config("--bool-option", {{"configOptions", {{"fast", "yes"}}}}));
  ASSERT_TRUE(refused.result.error);
  EXPECT_EQ(refused.result.error->code, ErrorCode::unsupported_capability);
  EXPECT_THAT(refused.result.error->message, HasSubstr("refused config option fast"));
}

TEST(AcpDirectories, ExtraDirsGoAsAdditionalDirectoriesWhenAdvertised) {
  ScratchDir dir;
  const std::string extra = dir.path() + "/extra";
  fs::create_directories(extra);
  const std::string record = dir.path() + "/record.jsonl";
  auto sessions = [&] {
    std::vector<json> out;
    std::ifstream in(record);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      if (j.value("event", "") == "session") out.push_back(j);
    }
    fs::remove(record);
    return out;
  };
  OptRun advertised = run(options_config("--dirs-cap --record " + record, {{"fs", {{"extraDirs", {extra}}}}}));
  ASSERT_FALSE(advertised.result.error) << advertised.result.error->message;
  auto s = sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["additionalDirectories"], json::array({extra}));
  run(options_config("--record " + record, {{"fs", {{"extraDirs", {extra}}}}}));
  s = sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0]["additionalDirectories"].is_null()) << "not advertised, not sent";
}

TEST(AcpUpdates, PlansAreEventsAndStateUpdatesAreReadQuietly) {
  OptRun r = run(options_config("--plan"));
  ASSERT_FALSE(r.result.error) << r.result.error->message;
  EXPECT_TRUE(r.result.warnings.empty()) << joined(r.result.warnings);
  auto plan = std::find_if(r.events.begin(), r.events.end(),
                           [](const Event& e) { return e.kind == Event::Kind::plan; });
  ASSERT_NE(plan, r.events.end());
  ASSERT_EQ(plan->plan.size(), 2u);
  EXPECT_EQ(plan->plan[0].content, "Read the prompt");
  EXPECT_EQ(plan->plan[0].status, "completed");
  EXPECT_EQ(plan->plan[1].priority, "medium");
  EXPECT_EQ(to_json(*plan)["plan"]["entries"][1],
            json({{"content", "Answer it"}, {"priority", "medium"}, {"status", "in_progress"}}));
  EXPECT_EQ(to_json(*plan)["type"], "plan");
  // The agent switched its model (config_option_update): the result names the one in use.
  EXPECT_EQ(r.result.model, "fake-small");
}

TEST(AcpUpdates, ReaderKinds) {
  EXPECT_EQ(read_session_update({{"sessionUpdate", "plan"},
                                 {"entries", json::array({{{"content", ""}}, {{"content", "x"}}, 3})}})
                .plan.size(),
            1u);
  for (const char* name : {"current_mode_update", "session_info_update", "available_commands_update"})
    EXPECT_EQ(read_session_update({{"sessionUpdate", name}}).kind, AcpUpdate::Kind::state) << name;
  EXPECT_EQ(read_session_update({{"sessionUpdate", "config_option_update"}}).kind,
            AcpUpdate::Kind::config);
  EXPECT_EQ(read_session_update({{"sessionUpdate", "future_thing"}}).kind, AcpUpdate::Kind::other);
}

TEST(AcpElicitation, AnswerNamesWhatWasAskedWithoutSecrets) {
  ElicitationAnswer a = answer_elicitation(
      {{"mode", "url"}, {"message", "Log in"}, {"url", "https://user:pw@auth.example.org/x?token=t"}},
      false, "agent");
  EXPECT_EQ(a.response, json({{"action", "decline"}}));
  EXPECT_THAT(a.warning, HasSubstr("agent asked for input \"Log in\", a URL on auth.example.org"));
  EXPECT_THAT(a.warning, Not(HasSubstr("pw")));
  EXPECT_THAT(a.warning, Not(HasSubstr("token")));
  ElicitationAnswer c = answer_elicitation({{"message", std::string(500, 'q')}}, true, "agent");
  EXPECT_EQ(c.response, json({{"action", "cancel"}}));
  EXPECT_LT(c.warning.size(), 400u);
}

}  // namespace
}  // namespace drover::test
