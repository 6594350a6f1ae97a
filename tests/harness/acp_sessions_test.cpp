// The ACP client's session lifecycle against the fake ACP agent: session/close at the end of a
// run, a Session and a pooled run; session/list and session/delete (drover sessions);
// $/cancel_request for what is pending when drover gives up; authentication on auth_required.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/agent_sessions.h"
#include "drover/client.h"
#include "drover/session.h"
#include "harness/acp.h"
#include "src/loop/loop.h"
#include "src/route/run.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

json config_json(const std::string& fake_args, const json& acp = json::object()) {
  json block = {{"args", json::array()}};
  std::istringstream words(fake_args);
  for (std::string w; words >> w;) block["args"].push_back(w);
  block.merge_patch(acp);
  return {{"providers",
           {{"fake",
             {{"accounts",
               {{{"id", "a"},
                 {"transport", {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}}},
                 {"models", {"fake-large"}}}}}}}}}};
}

Config make_config(const std::string& fake_args, const json& acp = json::object()) {
  auto [parsed, error] = parse_config(config_json(fake_args, acp).dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

struct OneRun {
  Result result;
  std::vector<std::string> warning_events;
};

OneRun run_session_once(const Config& config, RunRequest request = {}) {
  OneRun run;
  if (request.prompt.empty()) request.prompt = "hello";
  Loop loop;
  start_run(loop, config, builtin_transports(), request,
            [&](const Event& e) {
              if (e.kind == Event::Kind::warning) run.warning_events.push_back(e.text);
            },
            [&](Result&& r) { run.result = std::move(r); });
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  return run;
}

// The fake agent's --record file: one JSON object a line.
std::vector<json> records(const std::string& file, const std::string& event = "") {
  std::vector<json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    if (event.empty() || e["event"] == event) out.push_back(std::move(e));
  }
  return out;
}

// What drover sent in a transcript: the messages of `method`.
std::vector<json> sent(const std::string& transcript, const std::string& method) {
  std::vector<json> out;
  std::ifstream in(transcript);
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    if (e["dir"] == "out" && e.contains("msg") && e["msg"].value("method", "") == method)
      out.push_back(e["msg"]);
  }
  return out;
}

// ---- session/close --------------------------------------------------------------------------

TEST(AcpSessionClose, AOneShotRunClosesItsSessionWhenTheAgentAdvertisesIt) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  OneRun run = run_session_once(make_config("--session-caps close --record " + record));
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text, "FAKE(fake-large): hello");
  EXPECT_TRUE(run.result.warnings.empty()) << run.result.warnings[0];
  auto closes = records(record, "close");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0]["sessionId"], "fake-session-1");

  // Not advertised: never sent.
  ScratchDir other;
  RunRequest request;
  request.transcript_path = other.path() + "/t.ndjson";
  OneRun plain = run_session_once(make_config(""), request);
  ASSERT_FALSE(plain.result.error) << plain.result.error->message;
  EXPECT_TRUE(sent(*request.transcript_path, "session/close").empty());
  EXPECT_FALSE(sent(*request.transcript_path, "session/prompt").empty());
}

TEST(AcpSessionClose, ASessionClosesItsAgentSessionWhenItCloses) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = make_config("--session-caps close --record " + record);
  {
    SessionOptions options;
    Session session(config, options);
    Result first = session.prompt("one");
    ASSERT_FALSE(first.error) << first.error->message;
    Result second = session.prompt("two");
    ASSERT_FALSE(second.error) << second.error->message;
    EXPECT_TRUE(records(record, "close").empty()) << "the session stays open between prompts";
    session.close();
  }
  auto closes = records(record, "close");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0]["sessionId"], "fake-session-1");
}

TEST(AcpSessionClose, EachPooledRunClosesItsSessionAndTheAgentStays) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Client client(make_config("--session-caps close --record " + record));
  client.keep_agents_warm(1);
  for (const char* prompt : {"one", "two"}) {
    RunRequest request;
    request.prompt = prompt;
    Result r = client.run(request);
    ASSERT_FALSE(r.error) << r.error->message;
  }
  client.wait();
  EXPECT_EQ(records(record, "start").size(), 1u) << "one warm agent ran both";
  std::vector<std::string> order;
  for (const auto& e : records(record))
    if (e["event"] == "session" || e["event"] == "close")
      order.push_back(e["event"].get<std::string>() +
                      (e.contains("sessionId") ? ":" + e["sessionId"].get<std::string>() : ""));
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(order[0], "session");
  EXPECT_EQ(order[1], "close:fake-session-1");
  EXPECT_EQ(order[2], "session");
}

// ---- $/cancel_request -----------------------------------------------------------------------

TEST(AcpCancelRequest, AHandshakeGivenUpOnCancelsItsPendingRequest) {
  ScratchDir dir;
  RunRequest request;
  request.start_timeout_ms = 300;
  request.transcript_path = dir.path() + "/t.ndjson";
  OneRun run = run_session_once(make_config("--hang-on-new", {{"watchdog", {{"killGrace", 0.2}}}}), request);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  auto news = sent(*request.transcript_path, "session/new");
  auto cancels = sent(*request.transcript_path, "$/cancel_request");
  ASSERT_EQ(news.size(), 1u);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0]["params"]["requestId"], news[0]["id"]);
  EXPECT_FALSE(cancels[0].contains("id")) << "a notification";
}

TEST(AcpCancelRequest, APromptTheAgentWillNotCancelGetsCancelRequestBeforeTheStop) {
  ScratchDir dir;
  Config config = make_config("--ignore-cancel --chunks 40 --chunk-delay-ms 50",
                              {{"cancelGrace", 0.2}, {"watchdog", {{"killGrace", 0.2}}}});
  RunRequest request;
  request.prompt = "one two three four";
  request.transcript_path = dir.path() + "/t.ndjson";
  request.timeout_ms = 300;
  OneRun run = run_session_once(config, request);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::timeout);
  auto prompts = sent(*request.transcript_path, "session/prompt");
  auto cancels = sent(*request.transcript_path, "$/cancel_request");
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_EQ(sent(*request.transcript_path, "session/cancel").size(), 1u) << "session/cancel first";
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0]["params"]["requestId"], prompts[0]["id"]);
}

TEST(AcpCancelRequest, ALateAnswerToACancelledRequestIsDroppedWithoutAWarning) {
  // session/close is left unanswered: after the cancel grace drover gives up on it
  // ($/cancel_request) and closes stdin; the agent answers it then (-32800) and leaves.
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.transcript_path = dir.path() + "/t.ndjson";
  OneRun run = run_session_once(make_config("--session-caps close --hang session/close --answer-cancelled "
                                 "--record " + record,
                                 {{"cancelGrace", 0.2}, {"exitGrace", 10}}),
                     request);
  ASSERT_FALSE(run.result.error) << run.result.error->message;
  EXPECT_EQ(run.result.text, "FAKE(fake-large): hello");
  EXPECT_TRUE(run.result.warnings.empty()) << run.result.warnings[0];
  EXPECT_TRUE(run.warning_events.empty()) << run.warning_events[0];
  auto cancels = records(record, "cancel_request");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0]["hung"], true) << "the agent had the request and answered it late";
  auto closes = sent(*request.transcript_path, "session/close");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(cancels[0]["requestId"], closes[0]["id"]);
  // The late answer did come (drover read it: the transcript has it) and changed nothing.
  bool late_answer_read = false;
  std::ifstream in(*request.transcript_path);
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    if (e["dir"] == "in" && e.contains("msg") && e["msg"].value("id", json()) == closes[0]["id"])
      late_answer_read = true;
  }
  EXPECT_TRUE(late_answer_read);
}

// ---- authentication -------------------------------------------------------------------------

TEST(AcpAuthMethod, TheRoutesMethodOrTheOnlyOneTheAgentAuthenticatesItself) {
  const json offered = json::parse(R"([{"id":"key","name":"API key"},
      {"type":"terminal","id":"login","name":"Log in"}])");
  std::string problem;
  EXPECT_EQ(acp_auth_method(std::string("key"), offered, problem), "key");
  EXPECT_EQ(acp_auth_method(std::string("anything"), offered, problem), "anything");
  EXPECT_EQ(acp_auth_method(std::string("auto"), offered, problem), "key") << "terminal skipped";
  EXPECT_FALSE(acp_auth_method(std::nullopt, offered, problem));
  EXPECT_THAT(problem, HasSubstr(R"(key "API key")"));
  EXPECT_THAT(problem, HasSubstr(R"(login "Log in" (terminal login))"));
  EXPECT_THAT(problem, HasSubstr("acp.authMethod"));
  // Two the agent authenticates itself: auto cannot choose.
  const json two = json::parse(R"([{"id":"a","name":"A"},{"id":"b","name":"B"}])");
  EXPECT_FALSE(acp_auth_method(std::string("auto"), two, problem));
  EXPECT_THAT(problem, HasSubstr("exactly one"));
  EXPECT_THAT(problem, HasSubstr(R"(a "A", b "B")"));
  // An agent method literally called "auto" is taken as named.
  EXPECT_EQ(acp_auth_method(std::string("auto"), json::parse(R"([{"id":"auto"},{"id":"b"}])"),
                            problem),
            "auto");
  // Nothing offered.
  EXPECT_FALSE(acp_auth_method(std::string("auto"), json(), problem));
  EXPECT_THAT(problem, HasSubstr("offers none"));
}

TEST(AcpAuthMethod, TheListOfMethodsIsBoundedAndHostileNamesAreCut) {
  json many = json::array();
  for (int i = 0; i < 12; ++i)
    many.push_back({{"id", "m" + std::to_string(i)}, {"name", std::string(500, 'x')}});
  std::string problem;
  EXPECT_FALSE(acp_auth_method(std::nullopt, many, problem));
  EXPECT_THAT(problem, HasSubstr("m7"));
  EXPECT_THAT(problem, Not(HasSubstr("m8 ")));
  EXPECT_THAT(problem, HasSubstr("and 4 more"));
  EXPECT_LT(problem.size(), 1500u);
}

TEST(AcpAuth, AutoAuthenticatesWithTheOnlyMethodThenRetriesSessionNewOnce) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  OneRun ok = run_session_once(make_config("--require-auth --auth-methods fake-key,terminal:fake-login "
                                "--record " + record,
                                {{"authMethod", "auto"}, {"env", {{"FAKE_ACP_KEY", "k"}}}}));
  ASSERT_FALSE(ok.result.error) << ok.result.error->message;
  EXPECT_EQ(ok.result.text, "FAKE(fake-large): hello");
  auto auths = records(record, "authenticate");
  ASSERT_EQ(auths.size(), 1u);
  EXPECT_EQ(auths[0]["methodId"], "fake-key");
  EXPECT_EQ(records(record, "session").size(), 1u) << "session/new succeeded on the retry";
}

TEST(AcpAuth, WithoutAMethodToUseTheErrorNamesWhatTheAgentOffers) {
  OneRun none = run_session_once(make_config("--require-auth --auth-methods fake-key,fake-oauth"));
  ASSERT_TRUE(none.result.error);
  EXPECT_EQ(none.result.error->code, ErrorCode::auth_error);
  EXPECT_THAT(none.result.error->message,
              HasSubstr(R"(fake-key "Fake API key", fake-oauth "Fake fake-oauth")"));
  OneRun ambiguous = run_session_once(make_config("--require-auth --auth-methods fake-key,fake-oauth",
                                       {{"authMethod", "auto"}}));
  ASSERT_TRUE(ambiguous.result.error);
  EXPECT_EQ(ambiguous.result.error->code, ErrorCode::auth_error);
  EXPECT_THAT(ambiguous.result.error->message, HasSubstr("exactly one"));
}

TEST(AcpAuth, AFailedAuthenticationIsAnAuthErrorAndSessionNewIsNotRetried) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  // No FAKE_ACP_KEY: authenticate itself answers -32000.
  OneRun run = run_session_once(make_config("--require-auth --record " + record, {{"authMethod", "fake-key"}}));
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::auth_error);
  EXPECT_THAT(run.result.error->message, HasSubstr("authentication with fake-key failed"));
  EXPECT_EQ(records(record, "authenticate").size(), 1u);
}

// ---- session/list, session/delete -----------------------------------------------------------

// Two sessions made by runs in `cwd_a` and one in `cwd_b`, kept in `state`.
void make_sessions(const ScratchDir& state, const std::string& cwd_a, const std::string& cwd_b) {
  Config config = make_config("--state-dir " + state.path());
  for (const auto& [cwd, prompt] :
       std::vector<std::pair<std::string, std::string>>{{cwd_a, "first"}, {cwd_a, "second \x1b[31m"},
                                                        {cwd_b, "third"}}) {
    RunRequest request;
    request.prompt = prompt;
    request.cwd = cwd;
    OneRun run = run_session_once(config, request);
    ASSERT_FALSE(run.result.error) << run.result.error->message;
  }
}

TEST(AgentSessions, ListFollowsEveryPageAndFiltersByCwd) {
  ScratchDir state, a, b;
  make_sessions(state, a.path(), b.path());
  Config config = make_config("--session-caps list --list-page 1 --state-dir " + state.path());
  AgentSessionsReport all = list_agent_sessions(config, "");
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.route, "fake:acp:a:fake-large");
  ASSERT_EQ(all.sessions.size(), 3u) << "three pages of one";
  EXPECT_EQ(all.sessions[0].id, "fake-session-1");
  EXPECT_EQ(all.sessions[0].title, "Fake: first");
  EXPECT_EQ(all.sessions[0].cwd, fs::weakly_canonical(a.path()).string());
  EXPECT_EQ(all.sessions[0].updated_at, "2026-01-01T00:00:00Z");
  EXPECT_FALSE(all.truncated);

  AgentSessionsOptions only_b;
  only_b.cwd = fs::weakly_canonical(b.path()).string();
  AgentSessionsReport in_b = list_agent_sessions(config, "", only_b);
  ASSERT_FALSE(in_b.error) << in_b.error->message;
  ASSERT_EQ(in_b.sessions.size(), 1u);
  EXPECT_EQ(in_b.sessions[0].title, "Fake: third");

  AgentSessionsOptions capped;
  capped.max_sessions = 2;
  AgentSessionsReport cut = list_agent_sessions(config, "", capped);
  ASSERT_FALSE(cut.error) << cut.error->message;
  EXPECT_EQ(cut.sessions.size(), 2u);
  EXPECT_TRUE(cut.truncated);
  EXPECT_THAT(cut.warnings, ElementsAre(HasSubstr("cut at 2 sessions")));
}

TEST(AgentSessions, DeleteRemovesWhatListShowedAndNamesWhatFailed) {
  ScratchDir state, a, b;
  make_sessions(state, a.path(), b.path());
  Config config = make_config("--session-caps list,delete --state-dir " + state.path());
  AgentSessionsReport deleted =
      delete_agent_sessions(config, "", {"fake-session-1", "fake-session-9", "fake-session-3"});
  EXPECT_THAT(deleted.deleted, ElementsAre("fake-session-1", "fake-session-3"));
  ASSERT_TRUE(deleted.error);
  EXPECT_EQ(deleted.error->code, ErrorCode::harness_error);
  EXPECT_THAT(deleted.error->message, HasSubstr("could not delete 1 of 3"));
  EXPECT_THAT(deleted.error->message, HasSubstr("fake-session-9"));
  AgentSessionsReport left = list_agent_sessions(config, "");
  ASSERT_FALSE(left.error) << left.error->message;
  ASSERT_EQ(left.sessions.size(), 1u);
  EXPECT_EQ(left.sessions[0].id, "fake-session-2");
}

TEST(AgentSessions, AnAgentThatDoesNotAdvertiseThemIsRefusedClearly) {
  Config config = make_config("--session-caps close");
  AgentSessionsReport list = list_agent_sessions(config, "");
  ASSERT_TRUE(list.error);
  EXPECT_EQ(list.error->code, ErrorCode::unsupported_capability);
  EXPECT_THAT(list.error->message, HasSubstr("does not advertise session/list"));
  EXPECT_THAT(list.error->message, HasSubstr("fake-acp-agent"));
  AgentSessionsReport del = delete_agent_sessions(config, "", {"fake-session-1"});
  ASSERT_TRUE(del.error);
  EXPECT_EQ(del.error->code, ErrorCode::unsupported_capability);
  EXPECT_THAT(del.error->message, HasSubstr("session/delete"));
  EXPECT_TRUE(del.deleted.empty());
}

TEST(AgentSessions, BadRoutesAndIdsAreRefusedBeforeAnythingStarts) {
  auto [print, error] = parse_config(fake_agent_config({{"argsTemplate", {"{prompt}"}}}), "t.json");
  ASSERT_TRUE(print) << error->message;
  AgentSessionsReport not_acp = list_agent_sessions(*print, "");
  ASSERT_TRUE(not_acp.error);
  EXPECT_EQ(not_acp.error->code, ErrorCode::unsupported_capability);
  EXPECT_THAT(not_acp.error->message, HasSubstr("not an ACP route"));
  Config config = make_config("--session-caps list,delete");
  AgentSessionsReport unknown = list_agent_sessions(config, "nope:acp");
  ASSERT_TRUE(unknown.error);
  AgentSessionsReport empty_id = delete_agent_sessions(config, "", {""});
  ASSERT_TRUE(empty_id.error);
  EXPECT_EQ(empty_id.error->code, ErrorCode::validation_error);
  AgentSessionsReport long_id = delete_agent_sessions(config, "", {std::string(2000, 'x')});
  ASSERT_TRUE(long_id.error);
  EXPECT_EQ(long_id.error->code, ErrorCode::validation_error);
}

TEST(AgentSessions, ListingAuthenticatesWhenAskedLikeSessionNew) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = make_config("--require-auth --session-caps list --record " + record,
                              {{"authMethod", "auto"}, {"env", {{"FAKE_ACP_KEY", "k"}}}});
  AgentSessionsReport report = list_agent_sessions(config, "");
  ASSERT_FALSE(report.error) << report.error->message;
  EXPECT_TRUE(report.sessions.empty());
  EXPECT_EQ(records(record, "authenticate").size(), 1u);
  EXPECT_EQ(records(record, "list").size(), 2u) << "refused (-32000), then asked again once";
  EXPECT_TRUE(records(record, "session").empty()) << "no session is made to list them";

  AgentSessionsReport refused =
      list_agent_sessions(make_config("--require-auth --session-caps list"), "");
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, ErrorCode::auth_error);
  EXPECT_THAT(refused.error->message, HasSubstr(R"(fake-key "Fake API key")"));
}

TEST(AgentSessions, AnAgentThatNeverAnswersIsStoppedAtTheTimeout) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = make_config("--session-caps list --hang session/list --record " + record,
                              {{"watchdog", {{"killGrace", 0.2}}}});
  AgentSessionsOptions options;
  options.timeout_ms = 300;
  AgentSessionsReport report = list_agent_sessions(config, "", options);
  ASSERT_TRUE(report.error);
  EXPECT_EQ(report.error->code, ErrorCode::timeout) << report.error->message;
  EXPECT_EQ(records(record, "hang").size(), 1u) << "the agent had the request";
}

// ---- the CLI --------------------------------------------------------------------------------

TEST(SessionsCli, TableJsonAndDelete) {
  ScratchDir state, a, b, dir;
  make_sessions(state, a.path(), b.path());
  const std::string config =
      dir.write("drover.json", config_json("--session-caps list,delete --state-dir " + state.path()).dump());
  CliRun table = run_drover({"sessions", "-c", config});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::istringstream lines(table.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << table.out;
  EXPECT_THAT(rows[0], HasSubstr("ID"));
  EXPECT_THAT(rows[0], HasSubstr("TITLE"));
  EXPECT_THAT(rows[0], HasSubstr("CWD"));
  EXPECT_THAT(rows[0], HasSubstr("UPDATED"));
  EXPECT_THAT(rows[1], HasSubstr("fake-session-1"));
  EXPECT_THAT(rows[1], HasSubstr("Fake: first"));
  EXPECT_THAT(rows[1], HasSubstr("2026-01-01T00:00:00Z"));
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << "an agent's escape codes never reach the terminal";
  EXPECT_THAT(rows[2], HasSubstr("Fake: second ?[31m"));

  CliRun listed = run_drover({"sessions", "-c", config, "--json", "--cwd", b.path()});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json j = listed.json();
  ASSERT_EQ(j["sessions"].size(), 1u);
  EXPECT_EQ(j["sessions"][0]["sessionId"], "fake-session-3");
  EXPECT_EQ(j["error"], nullptr);

  CliRun removed = run_drover({"sessions", "delete", "-c", config, "fake-session-3"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "deleted fake-session-3\n");
  CliRun after = run_drover({"sessions", "-c", config, "--json"});
  EXPECT_EQ(after.json()["sessions"].size(), 2u);

  const std::string bare = dir.write("bare.json", config_json("").dump());
  CliRun refused = run_drover({"sessions", "-c", bare});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("unsupported_capability"));
  EXPECT_THAT(refused.err, HasSubstr("does not advertise session/list"));
  CliRun refused_json = run_drover({"sessions", "delete", "-c", bare, "--json", "x"});
  EXPECT_EQ(refused_json.exit_code, 1);
  EXPECT_EQ(refused_json.json()["error"]["code"], "unsupported_capability");
  CliRun no_id = run_drover({"sessions", "delete", "-c", bare});
  EXPECT_EQ(no_id.exit_code, 2);
}

}  // namespace
}  // namespace drover::test
