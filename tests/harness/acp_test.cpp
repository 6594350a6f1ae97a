// The ACP transport against the fake ACP agent (fixtures/fake_acp_agent): handshake, model
// selection, streaming, permissions, fs, cancel and deadlines, hostile agents, resume.
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "harness/acp.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "staging/session_lock.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A config with one ACP route on the fake agent; `acp` is merged into the transport's acp block.
Config acp_config(const json& acp = json::object(), const std::vector<std::string>& models = {"fake-large"},
                  const std::string& fake_args = "") {
  json block = {{"args", json::array()}};
  if (!fake_args.empty()) {
    std::istringstream words(fake_args);
    for (std::string w; words >> w;) block["args"].push_back(w);
  }
  if (acp.is_object()) block.merge_patch(acp);
  json config = {{"routing", {{"fallback", {{"on", json::object()}}}}},
                 {"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport",
                         {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}}},
                        {"models", models}}}}}}}}};
  if (models.empty()) config["providers"]["fake"]["accounts"][0].erase("models");
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

// Processes of group `pgid` that are not zombies, from /proc.
int live_group_members(int64_t pgid) {
  int live = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state = 0;
    long ppid = 0, group = 0;
    rest >> state >> ppid >> group;
    if (group == pgid && state != 'Z') ++live;
  }
  return live;
}

struct AcpRun {
  Result result;
  std::vector<Event> events;
  std::string deltas;
};

AcpRun run_acp(const Config& config, RunRequest request,
            const std::function<void(Loop&)>& during = nullptr) {
  AcpRun run;
  if (request.prompt.empty()) request.prompt = "hello";
  Loop loop;
  start_run(loop, config, builtin_transports(), request,
            [&](const Event& e) {
              run.events.push_back(e);
              if (e.kind == Event::Kind::delta) run.deltas += e.text;
            },
            [&](Result&& r) { run.result = std::move(r); });
  if (during) during(loop);
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  return run;
}

AcpRun run_acp(const std::string& fake_args, RunRequest request = {}, const json& acp = json::object()) {
  return run_acp(acp_config(acp, {"fake-large"}, fake_args), std::move(request));
}

TEST(Acp, AnswerStreamsAndCarriesModelUsageSessionAndStopReason) {
  AcpRun run = run_acp("--chunks 4 --thought");
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text, "FAKE(fake-large): hello");
  EXPECT_EQ(run.deltas, run.result.text);
  EXPECT_GE(std::count_if(run.events.begin(), run.events.end(),
                          [](const Event& e) { return e.kind == Event::Kind::delta; }),
            4);
  EXPECT_EQ(run.result.model, "fake-large");
  EXPECT_EQ(run.result.session_id, "fake-session-1");
  EXPECT_EQ(run.result.stop_reason, "end_turn");
  ASSERT_TRUE(run.result.thinking);
  EXPECT_FALSE(run.result.thinking->empty());
  EXPECT_EQ(run.result.text.find(*run.result.thinking), std::string::npos)
      << "thinking is kept apart from the answer";
  ASSERT_TRUE(run.result.usage);
  EXPECT_EQ(run.result.usage->input_tokens, 1);
  EXPECT_EQ(run.result.usage->output_tokens, 2);
  EXPECT_TRUE(run.result.usage->cost_usd) << "usage_update's cost";
  ASSERT_TRUE(run.result.process);
  EXPECT_EQ(run.result.process->exit_code, 0) << "the agent left on stdin EOF";
  EXPECT_TRUE(run.result.warnings.empty()) << run.result.warnings[0];
}

TEST(Acp, UsageFallsBackToUsageUpdatesWithoutAPromptUsage) {
  AcpRun run = run_acp("--no-usage");
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  ASSERT_TRUE(run.result.usage);
  EXPECT_FALSE(run.result.usage->output_tokens);
  EXPECT_TRUE(run.result.usage->cost_usd);
}

TEST(AcpModels, LegacySetModelAndNoSelectionAtAll) {
  AcpRun legacy = run_acp("--models legacy");
  ASSERT_FALSE(legacy.result.error) << legacy.result.error->message;
  EXPECT_EQ(legacy.result.text, "FAKE(fake-large): hello");
  AcpRun none = run_acp("--models none");
  ASSERT_TRUE(none.result.error);
  EXPECT_EQ(none.result.error->code, ErrorCode::unsupported_capability);
  EXPECT_NE(none.result.error->message.find("no way to choose a model"), std::string::npos);
  // Without a model nothing is selected and the agent's current one answers.
  AcpRun current = run_acp(acp_config({}, {}, "--models none"), RunRequest{});
  ASSERT_FALSE(current.result.error) << current.result.error->message;
  EXPECT_EQ(current.result.text, "FAKE(fake-small): hello");
}

TEST(AcpModels, AnUnadvertisedModelIsAWarningOrUnderStrictAnError) {
  RunRequest request;
  request.model = "fake-huge";
  AcpRun loose = run_acp("", request);
  ASSERT_TRUE(loose.result.error) << "the fake agent refuses unknown values";
  EXPECT_EQ(loose.result.error->code, ErrorCode::unsupported_capability);
  ASSERT_FALSE(loose.result.warnings.empty());
  EXPECT_NE(loose.result.warnings[0].find("not among the models"), std::string::npos);
  EXPECT_NE(loose.result.warnings[0].find("fake-small, fake-large"), std::string::npos);
  AcpRun strict = run_acp("", request, {{"strictModels", true}});
  ASSERT_TRUE(strict.result.error);
  EXPECT_EQ(strict.result.error->code, ErrorCode::validation_error);
}

TEST(AcpModels, DiscoveryReportsAdvertisedModelsAndTheCurrentOne) {
  Config config = acp_config();
  Loop loop;
  AcpModelReport report;
  discover_acp_models(loop, *config.resolve("").first, [&](AcpModelReport r) { report = std::move(r); });
  loop.run();
  ASSERT_FALSE(report.error) << report.error->message;
  EXPECT_EQ(report.source, "configOptions");
  EXPECT_EQ(report.current, "fake-small");
  ASSERT_EQ(report.models.size(), 2u);
  EXPECT_EQ(report.models[1].id, "fake-large");
  EXPECT_EQ(report.models[1].name, "Fake Large");
}

TEST(AcpModels, SessionResultsOfEveryShape) {
  auto grouped = models_from_session(json::parse(R"({"configOptions":[
    {"id":"mode","category":"mode","type":"select","currentValue":"a","options":[{"value":"a"}]},
    {"id":"m2","category":"model","type":"select","currentValue":"x","options":[
      {"group":"g","name":"G","options":[{"value":"x","name":"X"},{"value":"y","name":"Y"}]}]}]})"));
  EXPECT_EQ(grouped.source, "configOptions");
  EXPECT_EQ(grouped.current, "x");
  ASSERT_EQ(grouped.models.size(), 2u);
  EXPECT_EQ(grouped.models[1].id, "y");
  auto legacy = models_from_session(json::parse(
      R"({"models":{"currentModelId":"b","availableModels":[{"modelId":"a","name":"A"},{"modelId":"b"}]}})"));
  EXPECT_EQ(legacy.source, "models");
  EXPECT_EQ(legacy.current, "b");
  EXPECT_EQ(legacy.models.size(), 2u);
  EXPECT_EQ(models_from_session(json::object()).source, "");
}

// ---- permissions -------------------------------------------------------------------------------

TEST(AcpPermissions, ApproveReadsAllowsReadsAndDeniesTheRest) {
  AcpRun read = run_acp("--tool read");
  ASSERT_FALSE(read.result.error) << read.result.error->message;
  EXPECT_NE(read.result.text.find("tool:read=allowed"), std::string::npos);
  ASSERT_EQ(read.result.permissions.size(), 1u);
  EXPECT_EQ(read.result.permissions[0].decision, "allowed");
  EXPECT_EQ(read.result.permissions[0].option_id, "allow-once-y") << "picked by kind, not by id";
  EXPECT_EQ(read.result.permissions[0].rule, "approve-reads");
  EXPECT_EQ(read.result.permissions[0].kind, "read");

  AcpRun exec = run_acp("--tool execute");
  ASSERT_TRUE(exec.result.error);
  EXPECT_EQ(exec.result.error->code, ErrorCode::permission_denied);
  EXPECT_EQ(exec.result.exit_code(), 5);
  EXPECT_NE(exec.result.text.find("tool:execute=denied"), std::string::npos);
  EXPECT_EQ(exec.result.permissions[0].option_id, "reject-z");
  const auto permission = std::find_if(exec.events.begin(), exec.events.end(), [](const Event& e) {
    return e.kind == Event::Kind::permission;
  });
  ASSERT_NE(permission, exec.events.end()) << "each decision is also an event";
  ASSERT_TRUE(permission->permission);
  EXPECT_EQ(permission->permission->decision, "denied");
  EXPECT_EQ(permission->permission->option_id, "reject-z");
  EXPECT_EQ(permission->permission->kind, "execute");
  ASSERT_EQ(permission->permission->options.size(), 3u) << "the options offered";
  EXPECT_EQ(permission->permission->options[2].kind, "reject_once");
  EXPECT_EQ(permission->raw["options"].size(), 3u) << "raw: the request as sent";
  const bool as_tool = std::any_of(exec.events.begin(), exec.events.end(), [](const Event& e) {
    return e.kind == Event::Kind::tool && e.raw.contains("permission");
  });
  EXPECT_FALSE(as_tool) << "a permission is not a tool event";
}

TEST(AcpPermissions, PolicyOverridesAndPerKindRules) {
  RunRequest all;
  all.permissions = PermissionPolicy::approve_all;
  AcpRun allowed = run_acp("--tool execute", all);
  ASSERT_FALSE(allowed.result.error) << allowed.result.error->message;
  EXPECT_NE(allowed.result.text.find("tool:execute=allowed"), std::string::npos);

  RunRequest none;
  none.permissions = PermissionPolicy::deny_all;
  AcpRun denied = run_acp("--tool read", none);
  ASSERT_TRUE(denied.result.error);
  EXPECT_EQ(denied.result.error->code, ErrorCode::permission_denied);

  AcpRun ruled = run_acp("--tool execute", {}, {{"permissionRules", {{"execute", "allow"}}}});
  ASSERT_FALSE(ruled.result.error) << ruled.result.error->message;
  EXPECT_EQ(ruled.result.permissions[0].rule, "rule:execute");
}

TEST(AcpPermissions, OptionsArePickedByKind) {
  AcpSpec spec;
  json options = json::parse(R"([{"optionId":"x1","kind":"allow_always"},
                                  {"optionId":"x2","kind":"reject_always"}])");
  auto allow = choose_permission(spec, PermissionPolicy::approve_all, "edit", options);
  EXPECT_TRUE(allow.allowed);
  EXPECT_EQ(allow.option_id, "x1") << "allow_always when there is no allow_once";
  auto deny = choose_permission(spec, PermissionPolicy::approve_reads, "edit", options);
  EXPECT_FALSE(deny.allowed);
  EXPECT_EQ(deny.option_id, "x2");
  auto search = choose_permission(spec, PermissionPolicy::approve_reads, "search", options);
  EXPECT_TRUE(search.allowed);
  auto nothing = choose_permission(spec, PermissionPolicy::approve_all, "read", json::array());
  EXPECT_EQ(nothing.option_id, "") << "no fitting option: the caller answers cancelled";
}

// ---- fs ----------------------------------------------------------------------------------------

TEST(AcpFs, ReadsInsideTheSessionDirectoryAndRefusesOutside) {
  ScratchDir dir;
  dir.write("inside.txt", "line1\nline2\n");
  ScratchDir other;
  other.write("secret.txt", "no");
  RunRequest request;
  request.cwd = dir.path();
  AcpRun inside = run_acp("--fs-read " + dir.path() + "/inside.txt", request, {{"fs", {{"read", true}}}});
  ASSERT_FALSE(inside.result.error) << inside.result.error->message;
  EXPECT_NE(inside.result.text.find("fs-read:line1"), std::string::npos) << inside.result.text;

  AcpRun outside = run_acp("--fs-read " + other.path() + "/secret.txt", request, {{"fs", {{"read", true}}}});
  EXPECT_NE(outside.result.text.find("fs-read:error -32602"), std::string::npos) << outside.result.text;
  ASSERT_FALSE(outside.result.warnings.empty());
  EXPECT_NE(outside.result.warnings[0].find("outside the session's directories"), std::string::npos);

  AcpRun escape = run_acp("--fs-read " + dir.path() + "/../" + fs::path(other.path()).filename().string() +
                           "/secret.txt",
                       request, {{"fs", {{"read", true}}}});
  EXPECT_NE(escape.result.text.find("fs-read:error -32602"), std::string::npos) << escape.result.text;

  AcpRun extra = run_acp("--fs-read " + other.path() + "/secret.txt", request,
                      {{"fs", {{"read", true}, {"extraDirs", {other.path()}}}}});
  EXPECT_NE(extra.result.text.find("fs-read:no"), std::string::npos) << extra.result.text;

  AcpRun disabled = run_acp("--fs-read " + dir.path() + "/inside.txt", request);
  EXPECT_NE(disabled.result.text.find("fs-read:error -32601"), std::string::npos)
      << disabled.result.text;
}

TEST(AcpFs, WritesInsideOnly) {
  ScratchDir dir;
  RunRequest request;
  request.cwd = dir.path();
  AcpRun run = run_acp("--fs-write " + dir.path() + "/out.txt", request, {{"fs", {{"write", true}}}});
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find("fs-write:ok"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir.path() + "/out.txt"));
  AcpRun refused = run_acp("--fs-write /tmp/drover-acp-should-not-exist.txt", request,
                        {{"fs", {{"write", true}}}});
  EXPECT_FALSE(fs::exists("/tmp/drover-acp-should-not-exist.txt"));
}

// ---- cancel, deadlines, hostile agents ---------------------------------------------------------

TEST(AcpCancel, ADeadlineCancelsTheTurnAndKeepsThePartialText) {
  RunRequest request;
  request.prompt = "one two three four five six seven eight nine ten";
  request.timeout_ms = 400;
  AcpRun run = run_acp("--chunks 40 --chunk-delay-ms 50", request);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  EXPECT_EQ(run.result.stop_reason, "cancelled") << "the agent answered session/cancel";
  EXPECT_FALSE(run.deltas.empty());
  EXPECT_EQ(run.result.text, run.deltas);
  EXPECT_LT(run.result.text.size(), std::string("FAKE(fake-large): ").size() + request.prompt.size());
  ASSERT_TRUE(run.result.process);
  EXPECT_EQ(run.result.process->stopped_by, StopCause::none) << "it left by itself";
}

TEST(AcpCancel, AnAgentIgnoringTheCancelIsStoppedAfterTheGrace) {
  RunRequest request;
  request.prompt = "one two three four five six seven eight nine ten";
  request.timeout_ms = 300;
  AcpRun run = run_acp("--ignore-cancel --chunks 40 --chunk-delay-ms 50", request,
                    {{"cancelGrace", 0.2}, {"watchdog", {{"killGrace", 0.2}}}});
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  ASSERT_TRUE(run.result.process);
  EXPECT_EQ(run.result.process->stopped_by, StopCause::total_timeout);
}

TEST(AcpCancel, LoopStopCancelsThroughTheProtocol) {
  RunRequest request;
  request.prompt = "one two three four five six seven eight nine ten";
  Config config = acp_config({}, {"fake-large"}, "--chunks 40 --chunk-delay-ms 50");
  AcpRun run = run_acp(config, request, [](Loop& loop) {
    auto* timer = new LoopTimer(loop);
    timer->start(300, [&loop, timer] {
      loop.stop_all(StopCause::cancelled);  // what Ctrl-C does
      delete timer;
    });
  });
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::aborted);
  EXPECT_EQ(run.result.stop_reason, "cancelled");
  EXPECT_FALSE(run.result.text.empty());
}

TEST(AcpCancel, CancelAnswersPendingPermissionRequests) {
  // The agent asks; the deadline fires while nothing answers... the policy answers at once, so
  // cancel the turn while the fake agent streams after its permission request instead.
  RunRequest request;
  request.prompt = "one two three four five six seven eight nine ten";
  request.timeout_ms = 300;
  AcpRun run = run_acp("--tool read --chunks 40 --chunk-delay-ms 50", request);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  EXPECT_EQ(run.result.permissions.size(), 1u);
}

TEST(AcpWatchdogs, StartTimeoutCoversTheHandshake) {
  RunRequest request;
  request.start_timeout_ms = 300;
  AcpRun run = run_acp("--hang-on-new", request, {{"watchdog", {{"killGrace", 0.2}}}});
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  EXPECT_NE(run.result.error->message.find("handshake"), std::string::npos);
}

TEST(AcpWatchdogs, IdleTimeoutRestartsOnEveryMessage) {
  RunRequest request;
  request.idle_timeout_ms = 300;
  // 10 chunks 100 ms apart: 1 s in all, never 300 ms of silence.
  AcpRun ok = run_acp("--chunks 10 --chunk-delay-ms 100", request);
  ASSERT_FALSE(ok.result.error) << ok.result.error->message;
  AcpRun silent = run_acp("--chunks 3 --chunk-delay-ms 600", request);
  ASSERT_TRUE(silent.result.error);
  EXPECT_EQ(silent.result.error->code, ErrorCode::timeout);
  EXPECT_NE(silent.result.error->message.find("idle timeout (0.3 s)"), std::string::npos);
}

TEST(AcpHostile, CrashMidTurnIsAHarnessErrorWithItsStderr) {
  AcpRun run = run_acp("--crash-on-prompt --stderr-noise");
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::harness_error);
  EXPECT_NE(run.result.error->message.find("exited with code 3 before answering"), std::string::npos)
      << run.result.error->message;
  EXPECT_NE(run.result.error->message.find("[fake-acp]"), std::string::npos) << "stderr excerpt";
}

TEST(AcpHostile, AnErrorNestedTooDeeplyFailsTheTurnNamingTheLimit) {
  // 10^5 and 10^6 levels of `data` once crashed the client while it dumped the error.
  for (const char* depth : {"100000", "1000000"}) {
    AcpRun run = run_acp(std::string("--deep-error ") + depth);
    ASSERT_TRUE(run.result.error) << depth;
    EXPECT_NE(run.result.error->message.find("nested deeper than 512 levels"), std::string::npos)
        << run.result.error->message;
    EXPECT_LE(run.result.error->message.size(), 8192u);
    ASSERT_TRUE(run.result.process);
    EXPECT_EQ(live_group_members(run.result.process->pid), 0) << "nothing left running";
  }
}

TEST(AcpHostile, DeathBySignal) {
  AcpRun run = run_acp("--die-signal SEGV");
  ASSERT_TRUE(run.result.error);
  EXPECT_NE(run.result.error->message.find("killed by SIGSEGV"), std::string::npos)
      << run.result.error->message;
}

TEST(AcpHostile, GarbageUnknownMessagesAndInvalidUtf8AreWarningsNotFailures) {
  AcpRun run = run_acp("--banner --unknown-notifications --unknown-request --invalid-utf8 --result-first");
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text, "FAKE(fake-large): hello [ping:-32601]");
  ASSERT_EQ(run.result.warnings.size(), 2u);
  EXPECT_NE(run.result.warnings[0].find("Fake agent v1 ready"), std::string::npos);
  EXPECT_NE(run.result.warnings[1].find("not JSON"), std::string::npos);
}

TEST(AcpHostile, AnAgentIgnoringSigtermAndAGrandchildLeaveNothingBehind) {
  AcpRun run = run_acp("--ignore-sigterm --no-exit-on-eof --grandchild", {},
                    {{"exitGrace", 0.05}, {"watchdog", {{"killGrace", 0.2}}}});
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  ASSERT_TRUE(run.result.process);
  EXPECT_EQ(run.result.process->term_signal, SIGKILL);
  EXPECT_EQ(run.result.process->evidence, "") << "a normal end leaves no evidence";
  // Nothing of the group is alive, grandchild included (zombies waiting for init do not count).
  EXPECT_EQ(live_group_members(run.result.process->pid), 0);
}

TEST(AcpHostile, AFloodOfChunksArrivesWhole) {
  AcpRun run = run_acp("--flood 20000");
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text.substr(0, 6), "w1 w2 ");
  EXPECT_EQ(run.result.text.substr(run.result.text.size() - 7), " w20000");
  EXPECT_EQ(run.deltas, run.result.text);
}

TEST(AcpAuth, AuthenticatesWhenAskedAndTheRouteSaysHow) {
  AcpRun missing = run_acp("--require-auth");
  ASSERT_TRUE(missing.result.error);
  EXPECT_EQ(missing.result.error->code, ErrorCode::auth_error);
  EXPECT_NE(missing.result.error->message.find("fake-key"), std::string::npos);
  EXPECT_NE(missing.result.error->message.find("acp.authMethod"), std::string::npos);
  AcpRun ok = run_acp("--require-auth", {}, {{"authMethod", "fake-key"}, {"env", {{"FAKE_ACP_KEY", "k"}}}});
  ASSERT_FALSE(ok.result.error) << ok.result.error->message;
  EXPECT_EQ(ok.result.text, "FAKE(fake-large): hello");
}

// ---- sessions ----------------------------------------------------------------------------------

TEST(AcpResume, ResumeOrLoadContinuesTheSessionWithoutReplayingIt) {
  for (const char* capability : {"--resume-cap", "--load"}) {
    ScratchDir state;
    const std::string args = std::string(capability) + " --state-dir " + state.path();
    AcpRun first = run_acp(args);
    ASSERT_FALSE(first.result.error) << first.result.error->message;
    ASSERT_TRUE(first.result.session_id);
    RunRequest again;
    again.prompt = "second";
    again.session_id = first.result.session_id;
    AcpRun second = run_acp(args, again);
    ASSERT_FALSE(second.result.error) << capability << ": " << second.result.error->message;
    EXPECT_EQ(second.result.text, "FAKE(fake-large): second") << capability << ": no replay";
    EXPECT_EQ(second.result.session_id, first.result.session_id);
    ASSERT_TRUE(first.result.usage && first.result.usage->cost_usd);
    ASSERT_TRUE(second.result.usage);
    EXPECT_FALSE(second.result.usage->cost_usd)
        << capability << ": usage_update's cost is the session's total, not this turn's";
    EXPECT_TRUE(second.result.warnings.empty()) << capability << ": " << second.result.warnings[0];
  }
}

TEST(AcpResume, WithoutTheCapabilityANewSessionAndAWarning) {
  RunRequest request;
  request.session_id = "old-session";
  AcpRun run = run_acp("", request);
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  ASSERT_FALSE(run.result.warnings.empty());
  EXPECT_NE(run.result.warnings[0].find("cannot resume sessions"), std::string::npos);
  EXPECT_EQ(run.result.session_id, "fake-session-1");
}

TEST(AcpResume, AnUnknownSessionFails) {
  ScratchDir state;
  RunRequest request;
  request.session_id = "nope";
  AcpRun run = run_acp("--resume-cap --state-dir " + state.path(), request);
  ASSERT_TRUE(run.result.error);
  EXPECT_NE(run.result.error->message.find("could not resume session nope"), std::string::npos)
      << run.result.error->message;
}

// ---- transcript, context ------------------------------------------------------------------------

TEST(AcpTranscript, EveryMessageBothWaysWithSecretsRedacted) {
  ScratchDir dir;
  RunRequest request;
  request.transcript_path = dir.path() + "/t.ndjson";
  AcpRun run = run_acp(acp_config({{"mcpServers",
                                 {{{"name", "m"},
                                   {"command", "/bin/true"},
                                   {"args", json::array()},
                                   {"env", {{{"name", "API_TOKEN"}, {"value", "s3cret"}}}}}}}}),
                    request);
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  std::ifstream in(*request.transcript_path);
  int out = 0, incoming = 0;
  std::string all;
  for (std::string line; std::getline(in, line);) {
    json entry = json::parse(line);
    (entry["dir"] == "out" ? out : incoming)++;
    EXPECT_TRUE(entry.contains("msg") || entry.contains("raw"));
    all += line;
  }
  EXPECT_GE(out, 4);  // initialize, session/new, set_config_option, prompt
  EXPECT_GE(incoming, 5);
  EXPECT_EQ(all.find("s3cret"), std::string::npos);
  EXPECT_NE(all.find("[redacted]"), std::string::npos);
}

TEST(AcpContext, CleanModeGivesTheAgentAFreshDirectory) {
  ScratchDir dir;
  RunRequest request;
  request.cwd = dir.path();
  request.context_mode = ContextMode::clean;
  request.transcript_path = dir.path() + "/t.ndjson";
  AcpRun run = run_acp("", request);
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  std::ifstream in(*request.transcript_path);
  std::string cwd;
  for (std::string line; std::getline(in, line);) {
    json entry = json::parse(line);
    if (entry["dir"] == "out" && entry["msg"].value("method", "") == "session/new")
      cwd = entry["msg"]["params"]["cwd"];
  }
  ASSERT_FALSE(cwd.empty());
  EXPECT_NE(cwd, dir.path());
  EXPECT_FALSE(fs::exists(cwd)) << "removed after the run";
}

TEST(AcpErrors, AMissingCommandIsNotFound) {
  json config = {{"providers",
                  {{"x",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport", {{"kind", "acp"}, {"command", "no-such-acp-agent-xyz"}}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "t.json");
  ASSERT_TRUE(parsed) << error->message;
  AcpRun run = run_acp(*parsed, RunRequest{});
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::not_found);
}

TEST(AcpErrors, RedactSecretsKeepsTheRest) {
  json in = json::parse(R"({"apiKey":"a","nested":{"Authorization":"b","keep":"c"},
                            "env":[{"name":"OPENAI_API_KEY","value":"d"},{"name":"HOME","value":"e"}]})");
  json out = redact_secrets(in);
  EXPECT_EQ(out["apiKey"], "[redacted]");
  EXPECT_EQ(out["nested"]["Authorization"], "[redacted]");
  EXPECT_EQ(out["nested"]["keep"], "c");
  EXPECT_EQ(out["env"][0]["value"], "[redacted]");
  EXPECT_EQ(out["env"][1]["value"], "e");
}

}  // namespace
}  // namespace drover::test

namespace drover::test {
namespace {

TEST(AcpFs, ANamedPipeIsRefusedNotOpened) {
  ScratchDir dir;
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  RunRequest request;
  request.cwd = dir.path();
  request.timeout_ms = 5000;
  AcpRun run = run_acp("--fs-read " + fifo, request, {{"fs", {{"read", true}}}});
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_NE(run.result.text.find("fs-read:error -32602"), std::string::npos) << run.result.text;
}

TEST(AcpHostile, AnAgentDyingDuringModelSelectionIsNotAModelRefusal) {
  ScratchDir dir;
  // Answers initialize and session/new, then exits when asked to select a model.
  const std::string agent = dir.write("agent.py", R"(#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["method"] == "initialize":
        r = {"protocolVersion": 1, "agentCapabilities": {}}
    elif m["method"] == "session/new":
        r = {"sessionId": "s", "configOptions": [{"id": "model", "category": "model", "type": "select",
             "currentValue": "a", "options": [{"value": "a"}, {"value": "fake-large"}]}]}
    else:
        sys.stderr.write("agent: giving up\n")
        sys.exit(7)
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}), flush=True)
)");
  std::filesystem::permissions(agent, std::filesystem::perms::owner_all);
  json config = {{"providers",
                  {{"p",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport", {{"kind", "acp"}, {"command", agent}}},
                        {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "t.json");
  ASSERT_TRUE(parsed);
  AcpRun run = run_acp(*parsed, RunRequest{});
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::harness_error);
  EXPECT_NE(run.result.error->message.find("exited with code 7 before answering"), std::string::npos)
      << run.result.error->message;
  EXPECT_NE(run.result.error->message.find("giving up"), std::string::npos);
}

TEST(AcpResume, RunsOnTheSameSessionWaitForEachOther) {
  ScratchDir state;
  Config config = acp_config({}, {"fake-large"}, "--resume-cap --state-dir " + state.path());
  const Route route = *config.resolve("").first;
  Loop loop;
  // Someone else (another drover) is on session s1.
  std::optional<SessionLock> held;
  acquire_session_lock(loop, route.provider + ":" + route.transport + ":" + route.account, "s1",
                       [&](std::optional<SessionLock> l, std::optional<Error>) {
                         if (l) held.emplace(std::move(*l));
                       });
  loop.run();
  ASSERT_TRUE(held);
  RunRequest request;
  request.prompt = "x";
  request.session_id = "s1";
  std::optional<Result> result;
  start_acp(loop, TransportAttempt{route, request, ""},
            TransportSink{nullptr, [&](TransportOutcome&& o) { result = std::move(o.result); }});
  LoopTimer release(loop);
  bool finished_while_held = false;
  release.start(300, [&] {
    finished_while_held = result.has_value();
    held.reset();
  });
  loop.run();
  EXPECT_FALSE(finished_while_held) << "the run did not wait for the session";
  ASSERT_TRUE(result);  // it ran once the lock was free (and failed: s1 does not exist)
}

// ---- RunControl: cancel and pause of a one-shot run --------------------------------------------

struct Seen {
  int done = 0;
  std::optional<Result> result;
  std::string deltas;
};

std::shared_ptr<RunControl> start_seen(Loop& loop, const Route& route, const RunRequest& request,
                                       Seen& seen, std::function<void(const Event&)> on_event = nullptr) {
  return start_acp(loop, TransportAttempt{route, request, ""},
                   TransportSink{[&seen, on_event](const Event& e) {
                                   if (e.kind == Event::Kind::delta) seen.deltas += e.text;
                                   if (on_event) on_event(e);
                                 },
                                 [&seen](TransportOutcome&& o) {
                                   ++seen.done;
                                   seen.result = std::move(o.result);
                                 }});
}

TEST(AcpControl, CancelDuringTheTurnSendsSessionCancelAndAborts) {
  ScratchDir dir;
  Config config = acp_config({}, {"fake-large"}, "--chunks 8 --chunk-delay-ms 200");
  const Route route = *config.resolve("").first;
  RunRequest request;
  request.prompt = "one two three four five six seven eight";
  request.transcript_path = dir.path() + "/t.ndjson";
  Loop loop;
  Seen seen;
  std::shared_ptr<RunControl> control;
  control = start_seen(loop, route, request, seen, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) control->cancel();
  });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.result->error);
  EXPECT_EQ(seen.result->error->code, ErrorCode::aborted) << seen.result->error->message;
  EXPECT_EQ(sent_in_transcript(*request.transcript_path, "session/cancel"), 1);
  EXPECT_EQ(loop.live_processes(), 0u);
  control->pause();  // after the end: nothing happens
  EXPECT_EQ(seen.done, 1);
}

TEST(AcpControl, PauseDuringTheTurnKeepsTheAnswerSoFar) {
  Config config = acp_config({}, {"fake-large"}, "--chunks 8 --chunk-delay-ms 200 --thought");
  const Route route = *config.resolve("").first;
  RunRequest request;
  request.prompt = "one two three four five six seven eight";
  Loop loop;
  Seen seen;
  std::shared_ptr<RunControl> control;
  control = start_seen(loop, route, request, seen, [&](const Event& e) {
    if (e.kind == Event::Kind::delta) control->pause();
  });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  const Result& r = *seen.result;
  EXPECT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.stop_reason, "paused");
  EXPECT_FALSE(r.text.empty());
  EXPECT_EQ(r.text, seen.deltas);
  EXPECT_EQ(r.text.find("eight"), std::string::npos) << "the whole answer came: " << r.text;
  EXPECT_TRUE(r.thinking) << "the thinking so far is kept too";
  EXPECT_EQ(loop.live_processes(), 0u);
}

TEST(AcpControl, CancelDuringTheHandshakeAborts) {
  Config config = acp_config({}, {"fake-large"}, "--hang-on-new");
  const Route route = *config.resolve("").first;
  RunRequest request;
  request.prompt = "x";
  request.start_timeout_ms = 20000;  // bounds the test where the cancel did nothing
  Loop loop;
  Seen seen;
  auto control = start_seen(loop, route, request, seen);
  LoopTimer stop(loop);
  stop.start(200, [&] { control->cancel(); });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.result->error);
  EXPECT_EQ(seen.result->error->code, ErrorCode::aborted) << seen.result->error->message;
  EXPECT_EQ(loop.live_processes(), 0u);
}

TEST(AcpControl, CancelWhileWaitingForTheSessionNeverStartsTheAgent) {
  ScratchDir state;
  Config config = acp_config({}, {"fake-large"}, "--resume-cap --state-dir " + state.path());
  const Route route = *config.resolve("").first;
  Loop loop;
  std::optional<SessionLock> held = hold_session_lock(loop, route, "s1");
  ASSERT_TRUE(held);
  RunRequest request;
  request.prompt = "x";
  request.session_id = "s1";
  request.timeout_ms = 20000;  // bounds the test where the cancel did nothing
  Seen seen;
  auto control = start_seen(loop, route, request, seen);
  LoopTimer stop(loop);
  stop.start(100, [&] { control->cancel(); });
  loop.run_until([&] { return seen.done > 0; });
  ASSERT_EQ(seen.done, 1);
  ASSERT_TRUE(seen.result->error);
  EXPECT_EQ(seen.result->error->code, ErrorCode::aborted) << seen.result->error->message;
  EXPECT_FALSE(seen.result->process) << "the agent was started although the run was cancelled";
  held.reset();
  loop.run();
  EXPECT_EQ(seen.done, 1);
}

// A request's timeout of 0 means no limit, also for the wait for a busy session.
TEST(AcpControl, NoTimeoutMeansTheSessionWaitHasNoLimitEither) {
  ScratchDir state;
  Config config = acp_config({}, {"fake-large"}, "--resume-cap --state-dir " + state.path());
  const Route route = *config.resolve("").first;
  Loop loop;
  std::optional<SessionLock> held = hold_session_lock(loop, route, "s1");
  ASSERT_TRUE(held);
  RunRequest request;
  request.prompt = "x";
  request.session_id = "s1";
  request.timeout_ms = 0;
  Seen seen;
  start_seen(loop, route, request, seen);
  LoopTimer release(loop);
  release.start(300, [&] { held.reset(); });
  loop.run();
  ASSERT_EQ(seen.done, 1);
  if (seen.result->error) {
    EXPECT_EQ(seen.result->error->message.find("session lock"), std::string::npos)
        << seen.result->error->message;
  }
}

TEST(AcpControl, FailuresBeforeStartArriveFromTheLoop) {
  ScratchDir dir;
  struct Case {
    const char* name;
    std::function<void(Config&, RunRequest&)> set_up;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"bad cwd", [](Config&, RunRequest& r) { r.cwd = "/nonexistent/drover-test"; },
       ErrorCode::config_error},
      {"missing command",
       [](Config& c, RunRequest&) {
         json j = {{"providers",
                    {{"fake",
                      {{"accounts",
                        {{{"id", "a"},
                          {"transport", {{"kind", "acp"}, {"command", "/nonexistent/agent"}}},
                          {"models", {"fake-large"}}}}}}}}}};
         c = *parse_config(j.dump(), "t.json").first;
       },
       ErrorCode::not_found},
      {"unwritable transcript",
       [](Config&, RunRequest& r) { r.transcript_path = "/nonexistent/dir/t.ndjson"; },
       ErrorCode::validation_error},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Config config = acp_config();
    RunRequest request;
    request.prompt = "x";
    c.set_up(config, request);
    const Route route = *config.resolve("").first;
    Loop loop;
    Seen seen;
    start_seen(loop, route, request, seen);
    EXPECT_EQ(seen.done, 0) << "on_done ran inside start_acp";
    loop.run();
    ASSERT_EQ(seen.done, 1);
    ASSERT_TRUE(seen.result->error);
    EXPECT_EQ(seen.result->error->code, c.code) << seen.result->error->message;
  }
}

}  // namespace
}  // namespace drover::test
