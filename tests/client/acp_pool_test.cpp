// Client::keep_agents_warm: warm ACP agent pools on the fake ACP agent. Its --record file counts
// the agent processes spawned (one "start" line each, with its pid) and the sessions made.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// One ACP route on the fake agent, recording into `dir`/record.jsonl. --state-dir makes session
// ids unique across the agent processes.
Config pool_config(const ScratchDir& dir, const std::string& fake_args,
                   const std::string& context = "workspace") {
  json args = json::array({"--record", dir.path() + "/record.jsonl", "--state-dir", dir.path()});
  std::istringstream words(fake_args);
  for (std::string w; words >> w;) args.push_back(w);
  json config = {
      {"providers",
       {{"fake",
         {{"accounts",
           {{{"id", "a"},
             {"transport",
              {{"kind", "acp"},
               {"command", fake_acp_agent()},
               {"acp", {{"args", args}, {"contextMode", context}}}}},
             {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "t.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

std::vector<json> records(const ScratchDir& dir, const std::string& event) {
  std::vector<json> out;
  std::ifstream in(dir.path() + "/record.jsonl");
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == event) out.push_back(std::move(j));
  }
  return out;
}

std::vector<long> agent_pids(const ScratchDir& dir) {
  std::vector<long> pids;
  for (const auto& start : records(dir, "start")) pids.push_back(start["pid"].get<long>());
  return pids;
}

bool running(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH; }

RunRequest doc(int i) {
  RunRequest request;
  request.prompt = "document " + std::to_string(i);
  return request;
}

std::string answer(int i) { return "FAKE(fake-large): document " + std::to_string(i); }

// Submits `n` documents at once and waits; each one's Results, by document.
std::map<int, std::vector<Result>> run_documents(Client& client, int n) {
  std::map<int, std::vector<Result>> results;
  for (int i = 0; i < n; ++i)
    client.submit(doc(i), {}, [&results, i](Result r) { results[i].push_back(std::move(r)); });
  client.wait();
  return results;
}

TEST(AcpPool, ThreeAgentsServeFortyRunsEachInItsOwnSession) {
  ScratchDir dir;
  std::vector<long> pids;
  {
    Client client(pool_config(dir, "--chunk-delay-ms 5"));
    client.keep_agents_warm(3);
    auto results = run_documents(client, 40);
    ASSERT_EQ(results.size(), 40u);
    std::set<std::string> sessions;
    for (auto& [i, list] : results) {
      ASSERT_EQ(list.size(), 1u) << "document " << i;
      const Result& r = list[0];
      ASSERT_FALSE(r.error) << r.error->message;
      EXPECT_EQ(r.text, answer(i));  // its own answer, nobody else's
      ASSERT_TRUE(r.session_id);
      sessions.insert(*r.session_id);
    }
    EXPECT_EQ(sessions.size(), 40u);
    EXPECT_EQ(records(dir, "session").size(), 40u);
    pids = agent_pids(dir);
    EXPECT_GE(pids.size(), 1u);
    EXPECT_LE(pids.size(), 3u);
    // A second batch on the same Client reuses the warm agents.
    auto again = run_documents(client, 6);
    for (auto& [i, list] : again) EXPECT_EQ(list.at(0).text, answer(i));
    EXPECT_EQ(agent_pids(dir).size(), pids.size());
  }
  for (long pid : pids) EXPECT_FALSE(running(pid)) << "agent " << pid << " outlived the Client";
}

TEST(AcpPool, EachPooledSessionGetsTheRunsTitleWhereTheAgentTakesOne) {
  // session/set_title once per session, before its prompt; not sent to an agent that does not
  // advertise sessionCapabilities.title, and a run without a title sends none.
  ScratchDir dir;
  {
    Client client(pool_config(dir, "--session-caps title,close"));
    client.keep_agents_warm(2);
    std::map<int, Result> results;
    for (int i = 0; i < 6; ++i) {
      RunRequest request = doc(i);
      if (i < 5) request.session_title = "title " + std::to_string(i);
      client.submit(request, {}, [&results, i](Result r) { results[i] = std::move(r); });
    }
    client.wait();
    for (auto& [i, r] : results) ASSERT_FALSE(r.error) << i << ": " << r.error->message;
    const auto titles = records(dir, "set_title");
    ASSERT_EQ(titles.size(), 5u);
    std::map<std::string, std::string> title_of_session;
    for (const auto& t : titles) title_of_session[t["sessionId"]] = t["title"];
    ASSERT_EQ(title_of_session.size(), 5u);  // one per session
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(title_of_session[*results[i].session_id], "title " + std::to_string(i));
    EXPECT_EQ(title_of_session.count(*results[5].session_id), 0u);
  }
  ScratchDir plain;
  Client client(pool_config(plain, ""));
  client.keep_agents_warm(1);
  RunRequest request = doc(1);
  request.session_title = "unheard";
  Result r = client.run(request);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.text, answer(1));
  EXPECT_TRUE(records(plain, "set_title").empty());
}

TEST(AcpPool, NoRunSeesAnotherRunsConversation) {
  // The fake replays a session's history on session/load; with fresh sessions the token count of
  // each turn covers its own prompt only (usage_update's `used` is the session's running total).
  ScratchDir dir;
  Client client(pool_config(dir, ""));
  client.keep_agents_warm(1);
  std::vector<int64_t> used;
  for (int i = 0; i < 4; ++i) {
    Result r = client.stream(doc(i), [&](const Event& e) {
      if (e.kind == Event::Kind::usage && e.raw.contains("used")) used.push_back(e.raw["used"]);
    });
    ASSERT_FALSE(r.error) << r.error->message;
    EXPECT_EQ(r.text, answer(i));
  }
  ASSERT_EQ(used.size(), 4u);
  for (int64_t u : used) EXPECT_EQ(u, used[0]);  // the same prompt size, nothing carried over
  EXPECT_EQ(agent_pids(dir).size(), 1u);
}

TEST(AcpPool, CleanModeGivesEachRunAFreshDirectoryRemovedAfterwards) {
  ScratchDir dir;
  Client client(pool_config(dir, "", "clean"));
  client.keep_agents_warm(2);
  auto results = run_documents(client, 10);
  for (auto& [i, list] : results) ASSERT_FALSE(list.at(0).error) << list[0].error->message;
  std::set<std::string> cwds;
  for (const auto& session : records(dir, "session")) {
    const std::string cwd = session["cwd"];
    cwds.insert(cwd);
    EXPECT_FALSE(fs::exists(cwd)) << cwd << " is still there after its run";
  }
  EXPECT_EQ(cwds.size(), 10u);
  EXPECT_LE(agent_pids(dir).size(), 2u);
}

// The agent dies (exit 3, or SIGKILL) during every 7th prompt of each process: the pool replaces
// it and runs that document once more on a fresh agent.
void every_run_succeeds_once_despite_deaths(const std::string& how) {
  ScratchDir dir;
  Client client(pool_config(dir, "--die-every 7 " + how));
  client.keep_agents_warm(3);
  auto results = run_documents(client, 40);
  ASSERT_EQ(results.size(), 40u);
  int retried = 0;
  for (auto& [i, list] : results) {
    ASSERT_EQ(list.size(), 1u) << "document " << i;
    const Result& r = list[0];
    ASSERT_FALSE(r.error) << "document " << i << ": " << r.error->message;
    EXPECT_EQ(r.text, answer(i));
    for (const auto& w : r.warnings)
      if (w.find("retried on a fresh agent") != std::string::npos) ++retried;
  }
  // 40 prompts plus one per death, each agent dying at its 7th and the 3 last ones short of it:
  // 6 deaths take 40 - (at most 18) prompts, so at least 4 deaths. Each death spawns one agent.
  EXPECT_GE(retried, 4);
  EXPECT_EQ(agent_pids(dir).size(), 3u + static_cast<size_t>(retried));
  EXPECT_EQ(records(dir, "prompt").size(), 40u + static_cast<size_t>(retried));
}

TEST(AcpPool, AnAgentDyingEverySeventhPromptIsReplacedAndItsRunRetriedOnce) {
  every_run_succeeds_once_despite_deaths("");
}

TEST(AcpPool, AnAgentKilledBySignalIsReplacedAndItsRunRetriedOnce) {
  every_run_succeeds_once_despite_deaths("--die-kill");
}

TEST(AcpPool, ARunWhoseAnswerAConsumerSawInPartIsNotRetried) {
  ScratchDir dir;
  Client client(pool_config(dir, "--die-every 2"));
  client.keep_agents_warm(1);
  std::string seen;
  auto on_event = [&](const Event& e) {
    if (e.kind == Event::Kind::delta) seen += e.text;
  };
  Result first = client.stream(doc(1), on_event);
  ASSERT_FALSE(first.error) << first.error->message;
  seen.clear();
  Result second = client.stream(doc(2), on_event);
  ASSERT_TRUE(second.error);  // died after its first chunk, which reached the handler
  EXPECT_FALSE(seen.empty());
  EXPECT_EQ(records(dir, "prompt").size(), 2u);
  // The next run gets a fresh agent.
  Result third = client.stream(doc(3), on_event);
  ASSERT_FALSE(third.error) << third.error->message;
  EXPECT_EQ(third.text, answer(3));
  EXPECT_EQ(agent_pids(dir).size(), 2u);
}

TEST(AcpPool, ARunCancelledWhileWaitingForAnAgentIsAbortedAndGetsNoSession) {
  ScratchDir dir;
  std::vector<long> pids;
  {
    Client client(pool_config(dir, "--chunk-delay-ms 200"));
    client.keep_agents_warm(1);
    std::optional<Result> first, second;
    RunHandle waiting;
    bool cancelled = false;
    client.submit(
        doc(1),
        [&](const Event& e) {
          // The only agent is busy with this run: the second one waits for it.
          if (e.kind == Event::Kind::delta && !cancelled) {
            cancelled = true;
            waiting.cancel();
          }
        },
        [&](Result r) { first = std::move(r); });
    waiting = client.submit(doc(2), {}, [&](Result r) { second = std::move(r); });
    client.wait();
    ASSERT_TRUE(first && second);
    ASSERT_FALSE(first->error) << first->error->message;
    ASSERT_TRUE(second->error);
    EXPECT_EQ(second->error->code, ErrorCode::aborted);
    EXPECT_EQ(records(dir, "session").size(), 1u);
    pids = agent_pids(dir);
    EXPECT_EQ(pids.size(), 1u);
    // The agent is still there for the next run.
    Result third = client.run(doc(3));
    ASSERT_FALSE(third.error) << third.error->message;
    EXPECT_EQ(agent_pids(dir).size(), 1u);
  }
  for (long pid : pids) EXPECT_FALSE(running(pid));
}

TEST(AcpPool, DestroyingTheClientWithIdleAgentsLeavesNoProcess) {
  ScratchDir dir;
  std::vector<long> pids;
  {
    Client client(pool_config(dir, "--chunk-delay-ms 100 --no-exit-on-eof"));
    client.keep_agents_warm(3);
    run_documents(client, 3);
    pids = agent_pids(dir);
    ASSERT_EQ(pids.size(), 3u);
    for (long pid : pids) EXPECT_TRUE(running(pid)) << "idle agent " << pid << " is gone";
  }
  for (long pid : pids) EXPECT_FALSE(running(pid)) << "agent " << pid << " outlived the Client";
}

TEST(AcpPool, CancelAllStopsBusyAgentsAndLeavesNoProcess) {
  ScratchDir dir;
  std::vector<long> pids;
  {
    Client client(pool_config(dir, "--chunk-delay-ms 2000"));
    client.keep_agents_warm(2);
    std::vector<Result> results;
    bool cancelled = false;
    for (int i = 0; i < 3; ++i)
      client.submit(
          doc(i),
          [&](const Event& e) {
            if (e.kind == Event::Kind::delta && !cancelled) {
              cancelled = true;
              client.cancel_all();
            }
          },
          [&](Result r) { results.push_back(std::move(r)); });
    client.wait();
    ASSERT_EQ(results.size(), 3u);
    for (const auto& r : results) {
      ASSERT_TRUE(r.error);
      EXPECT_EQ(r.error->code, ErrorCode::aborted);
    }
    pids = agent_pids(dir);
    // The pool still serves later runs, on fresh agents.
    Result later = client.run(doc(7));
    ASSERT_FALSE(later.error) << later.error->message;
    for (long pid : pids) EXPECT_FALSE(running(pid)) << "agent " << pid << " survived cancel_all";
    pids = agent_pids(dir);
  }
  for (long pid : pids) EXPECT_FALSE(running(pid));
}

TEST(AcpPool, KeepingNoAgentsShutsTheIdleOnesDownAndRunsGoOneShot) {
  ScratchDir dir;
  Client client(pool_config(dir, ""));
  client.keep_agents_warm(2);
  run_documents(client, 2);
  const std::vector<long> warm = agent_pids(dir);
  ASSERT_GE(warm.size(), 1u);
  client.keep_agents_warm(0);
  // Each run now spawns its own agent; running them drives the loop that reaps the idle ones.
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(client.run(doc(i)).error);
  EXPECT_EQ(agent_pids(dir).size(), warm.size() + 3);
  for (int i = 0; i < 50; ++i) {
    bool any = false;
    for (long pid : warm) any = any || running(pid);
    if (!any) break;
    ASSERT_FALSE(client.run(doc(i)).error);
  }
  for (long pid : warm) EXPECT_FALSE(running(pid)) << "idle agent " << pid << " was not shut down";
}

TEST(AcpPool, ARouteTakingOneCallAtATimeKeepsOneAgent) {
  ScratchDir dir;
  Config config = pool_config(dir, "--chunk-delay-ms 5");
  config.providers.at(0).accounts.at(0).fanout.max_concurrency = 1;
  Client client(std::move(config));
  client.keep_agents_warm(4);
  auto results = run_documents(client, 8);
  for (auto& [i, list] : results) {
    ASSERT_FALSE(list.at(0).error) << list[0].error->message;
    EXPECT_EQ(list[0].text, answer(i));
  }
  EXPECT_EQ(agent_pids(dir).size(), 1u);
}

TEST(AcpPool, AttachmentsOfAPooledRunAreStagedInItsCleanDirectoryAndGoWithIt) {
  ScratchDir dir;
  Client client(pool_config(dir, "", "clean"));
  client.keep_agents_warm(1);
  for (int i = 0; i < 3; ++i) {
    RunRequest request = doc(i);
    request.attachments.push_back(
        Attachment::bytes("notes-" + std::to_string(i) + ".txt", "note " + std::to_string(i)));
    Result r = client.run(request);
    ASSERT_FALSE(r.error) << r.error->message;
    // The text went embedded: its length is in the answer.
    EXPECT_NE(r.text.find("len=6]"), std::string::npos) << r.text;
    ASSERT_EQ(r.attachments.size(), 1u);
  }
  const auto sessions = records(dir, "session");
  ASSERT_EQ(sessions.size(), 3u);
  for (const auto& session : sessions) EXPECT_FALSE(fs::exists(session["cwd"].get<std::string>()));
  const auto prompts = records(dir, "prompt");
  ASSERT_EQ(prompts.size(), 3u);
  for (const auto& prompt : prompts) EXPECT_EQ(prompt["blocks"].size(), 2u) << prompt.dump();
  EXPECT_EQ(agent_pids(dir).size(), 1u);
}

TEST(AcpPool, ATimeoutEndsItsRunOnlyAndTheAgentServesTheNext) {
  ScratchDir dir;
  Client client(pool_config(dir, "--chunk-delay-ms 300"));
  client.keep_agents_warm(1);
  RunRequest slow = doc(1);
  slow.timeout_ms = 150;
  Result timed_out = client.run(slow);
  ASSERT_TRUE(timed_out.error);
  EXPECT_EQ(timed_out.error->code, ErrorCode::timeout);
  Result next = client.run(doc(2));
  ASSERT_FALSE(next.error) << next.error->message;
  EXPECT_EQ(next.text, answer(2));
  // The agent honoured session/cancel and stayed.
  EXPECT_EQ(agent_pids(dir).size(), 1u);
}

TEST(AcpPool, AnAgentThatFailsToStartIsTriedOnceMoreForItsRun) {
  ScratchDir dir;
  Client client(pool_config(dir, "--fail-init-once " + dir.path() + "/failed-once"));
  client.keep_agents_warm(2);
  auto results = run_documents(client, 4);
  int retried = 0;
  for (auto& [i, list] : results) {
    ASSERT_EQ(list.size(), 1u);
    ASSERT_FALSE(list[0].error) << list[0].error->message;
    EXPECT_EQ(list[0].text, answer(i));
    for (const auto& w : list[0].warnings) retried += w.find("failed to start") != std::string::npos;
  }
  EXPECT_EQ(retried, 1);
  EXPECT_EQ(agent_pids(dir).size(), 3u);  // the failed one and the two kept
}

TEST(AcpPool, ResumedRunsBypassThePool) {
  ScratchDir dir;
  Client client(pool_config(dir, "--resume-cap"));
  client.keep_agents_warm(2);
  Result first = client.run(doc(1));
  ASSERT_FALSE(first.error) << first.error->message;
  RunRequest resume = doc(2);
  resume.session_id = first.session_id;
  Result second = client.run(resume);
  ASSERT_FALSE(second.error) << second.error->message;
  EXPECT_EQ(second.session_id, first.session_id);
  EXPECT_EQ(agent_pids(dir).size(), 2u);  // the warm one, and the resumed run's own
  ASSERT_TRUE(second.process);             // a one-shot run reports its process
}

}  // namespace
}  // namespace drover::test
