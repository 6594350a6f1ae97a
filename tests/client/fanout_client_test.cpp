// Fan-out limits through drover::Client on real processes: the fake agent behind a small shell
// wrapper that logs when each try started and ended, so the limits are measured from the
// harness's side (README "Fan-out limits").
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

// One line of the wrapper's log: "start|end <ns since the epoch> <prompt>".
struct Mark {
  bool start = false;
  int64_t ns = 0;
  std::string prompt;
};

// A harness that logs its start, answers as the fake agent's json mode after sleeping
// `sleep_s` seconds, and logs its end. A prompt starting with "limit" is rate-limited the first
// time (the fake agent's error-json: an API 429), answered after that.
class LoggingAgent {
 public:
  explicit LoggingAgent(const std::string& sleep_s) : log_(dir_.path() + "/starts.log") {
    script_ = dir_.path() + "/agent.sh";
    std::ofstream(script_) << "#!/bin/sh\n"
                           << "log='" << log_ << "'\n"
                           << "echo \"start $(date +%s%N) $1\" >> \"$log\"\n"
                           << "case \"$1\" in limit*) if [ ! -e \"$log.limited\" ]; then\n"
                           << "  : > \"$log.limited\"; echo \"end $(date +%s%N) $1\" >> \"$log\"\n"
                           << "  exec " << fake_agent() << " --mode error-json --prompt \"$1\"\n"
                           << "fi;; esac\n"
                           << "sleep " << sleep_s << "\n"
                           << fake_agent() << " --mode json --prompt \"$1\"\n"
                           << "rc=$?\n"
                           << "echo \"end $(date +%s%N) $1\" >> \"$log\"\n"
                           << "exit $rc\n";
    std::filesystem::permissions(script_, std::filesystem::perms::owner_all);
  }

  Config config() const {
    json cli = {{"argsTemplate", {"{prompt}"}},
                {"parser",
                 {{"kind", "json"},
                  {"textPath", "result"},
                  {"error", {{"path", "result"}, {"wherePath", "is_error"}, {"whereEquals", true}}}}}};
    json doc = {{"providers",
                 {{"t",
                   {{"accounts",
                     {{{"id", "a"},
                       {"transport", {{"kind", "cli"}, {"command", script_}, {"cli", cli}}},
                       {"models", {"m"}}}}}}}}}};
    auto [config, error] = parse_config(doc.dump(), "test.json");
    EXPECT_TRUE(config) << (error ? error->message : "");
    return config ? std::move(*config) : Config{};
  }

  std::vector<Mark> marks() const {
    std::vector<Mark> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string kind;
      Mark m;
      words >> kind >> m.ns >> m.prompt;
      m.start = kind == "start";
      out.push_back(m);
    }
    std::stable_sort(out.begin(), out.end(), [](const Mark& a, const Mark& b) { return a.ns < b.ns; });
    return out;
  }

 private:
  ScratchDir dir_;
  std::string log_;
  std::string script_;
};

std::vector<std::string> start_order(const std::vector<Mark>& marks) {
  std::vector<std::string> out;
  for (const Mark& m : marks)
    if (m.start) out.push_back(m.prompt);
  return out;
}

// The most tries running at once, by the harness's own log.
int most_at_once(const std::vector<Mark>& marks, int64_t from_ns = 0) {
  int now = 0, most = 0;
  for (const Mark& m : marks) {
    now += m.start ? 1 : -1;
    if (m.ns >= from_ns) most = std::max(most, now);
  }
  return most;
}

RunRequest prompt_request(const std::string& text) {
  RunRequest request;
  request.prompt = text;
  return request;
}

std::map<std::string, Result> run_all(Client& client, const std::vector<std::string>& prompts) {
  std::map<std::string, Result> results;
  for (const auto& p : prompts)
    client.submit(prompt_request(p), {}, [&results, p](Result r) { results[p] = std::move(r); });
  client.wait();
  for (const auto& p : prompts) {
    EXPECT_TRUE(results.count(p)) << p;
    EXPECT_FALSE(results[p].error) << p << ": " << results[p].error->message;
  }
  return results;
}

FanoutLimits concurrency(int64_t n) {
  FanoutLimits l;
  l.max_concurrency = n;
  return l;
}

TEST(ClientFanout, OneAtATimeRunsInSubmissionOrder) {
  LoggingAgent agent("0.05");
  Client client(agent.config());
  client.set_fanout(concurrency(1));
  run_all(client, {"p0", "p1", "p2", "p3", "p4"});
  const auto marks = agent.marks();
  EXPECT_THAT(start_order(marks), ElementsAre("p0", "p1", "p2", "p3", "p4"));
  EXPECT_EQ(most_at_once(marks), 1);
}

TEST(ClientFanout, ConcurrencyNeverExceedsTheLimit) {
  LoggingAgent agent("0.1");
  Client client(agent.config());
  client.set_fanout(concurrency(2));
  run_all(client, {"c0", "c1", "c2", "c3", "c4", "c5"});
  const auto marks = agent.marks();
  EXPECT_EQ(start_order(marks).size(), 6u);
  EXPECT_EQ(most_at_once(marks), 2);
}

TEST(ClientFanout, RequestsPerSecondSpacesTheStarts) {
  LoggingAgent agent("0");
  Client client(agent.config());
  FanoutLimits rps;
  rps.requests_per_second = 10;  // one start per 100 ms
  client.set_fanout(rps);
  run_all(client, {"q0", "q1", "q2", "q3", "q4"});
  std::vector<int64_t> starts;
  for (const Mark& m : agent.marks())
    if (m.start) starts.push_back(m.ns);
  ASSERT_EQ(starts.size(), 5u);
  for (size_t i = 1; i < starts.size(); ++i)
    EXPECT_GE(starts[i] - starts[i - 1], 80'000'000) << "start " << i << " came too soon";
}

TEST(ClientFanout, MaxCallsRefusesWithoutStartingAnything) {
  LoggingAgent agent("0");
  Client client(agent.config());
  FanoutLimits two;
  two.max_calls = 2;
  client.set_fanout(two);
  run_all(client, {"m0", "m1"});
  Result third = client.run(prompt_request("m2"));
  ASSERT_TRUE(third.error);
  EXPECT_EQ(third.error->code, ErrorCode::fanout_limit) << third.error->message;
  EXPECT_TRUE(third.attempts.empty());
  EXPECT_EQ(start_order(agent.marks()).size(), 2u) << "no process for the refused run";
}

TEST(ClientFanout, ARateLimitPausesEveryRunThenItRecovers) {
  LoggingAgent agent("0.5");
  Client client(agent.config());
  client.set_fanout(concurrency(4));
  // No event handler: the harness's error text reaches the parser as answer text, and a run
  // whose deltas a consumer saw is not retried.
  auto results = run_all(client, {"limit0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"});
  EXPECT_EQ(results["limit0"].attempts.size(), 2u);
  EXPECT_THAT(results["limit0"].warnings,
              Contains("rate limited by t:cli:a:m: no new call for 1 s, then every run slowed to 2 "
                       "in flight (one more per successful call)"));

  const auto marks = agent.marks();
  std::optional<int64_t> limited_at;
  for (const Mark& m : marks)
    if (!m.start && m.prompt == "limit0" && !limited_at) limited_at = m.ns;
  ASSERT_TRUE(limited_at);
  // The first wave (limit0, s1, s2, s3) started together; their log lines may come in any order.
  int64_t first_after = 0;
  for (const Mark& m : marks)
    if (m.start && m.ns > *limited_at && m.prompt != "s1" && m.prompt != "s2" && m.prompt != "s3") {
      first_after = m.ns;
      break;
    }
  ASSERT_GT(first_after, 0);
  EXPECT_GE(first_after - *limited_at, 800'000'000)
      << "no run may start within the second after the rate limit";
  EXPECT_EQ(most_at_once(marks, first_after), 4) << "after the pause, back to four at once";
}

TEST(ClientFanout, CancellingAQueuedRunEndsItBeforeAnyProcess) {
  ScratchDir dir;
  const std::string marker = dir.path() + "/marker";
  auto [config, error] = parse_config(
      fake_agent_config({{"argsTemplate", {"--mode", "{prompt}", "--text", "answer", "--marker", marker}},
                         {"parser", {{"kind", "text"}}}}),
      "test.json");
  ASSERT_TRUE(config) << error->message;
  Client client(std::move(*config));
  client.set_fanout(concurrency(1));
  std::map<std::string, Result> results;
  RunRequest hang = prompt_request("hang");
  hang.timeout_ms = 60000;
  client.submit(prompt_request("echo"), {}, [&](Result r) {
    results["first"] = std::move(r);
    client.cancel_all();
  });
  client.submit(hang, {}, [&](Result r) { results["hang"] = std::move(r); });
  client.submit(prompt_request("echo"), {}, [&](Result r) { results["queued"] = std::move(r); });
  client.wait();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results["first"].error);
  ASSERT_TRUE(results["queued"].error);
  EXPECT_EQ(results["queued"].error->code, ErrorCode::aborted);
  EXPECT_EQ(results["queued"].error->message, "cancelled while waiting for a fan-out slot");
  EXPECT_TRUE(results["queued"].attempts.empty());
  ASSERT_TRUE(results["hang"].error);
  EXPECT_EQ(results["hang"].error->code, ErrorCode::aborted);
  const std::string started = read_file(marker);
  EXPECT_LE(std::count(started.begin(), started.end(), '\n'), 2) << "the queued run never started";
}

TEST(ClientFanout, ARouteOfItsOwnIsNotHeldByTheClientsQueueAndDestroyingTheClientDropsIt) {
  ScratchDir dir;
  const std::string marker = dir.path() + "/marker";
  json cli = {{"argsTemplate", {"--mode", "{prompt}", "--text", "answer", "--marker", marker}},
              {"parser", {{"kind", "text"}}}};
  json doc = {{"providers",
               {{"t",
                 {{"accounts",
                   {{{"id", "slow"},
                     {"transport", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", cli}}},
                     {"models", {"m"}}},
                    {{"id", "fast"},
                     {"fanout", {{"maxConcurrency", 5}}},
                     {"transport", {{"kind", "cli"}, {"command", fake_agent()}, {"cli", cli}}},
                     {"models", {"m"}}}}}}}}}};
  auto [config, error] = parse_config(doc.dump(), "test.json");
  ASSERT_TRUE(config) << error->message;
  bool queued_done = false;
  {
    Client client(std::move(*config));
    client.set_fanout(concurrency(1));
    RunRequest hang = prompt_request("hang");
    hang.route = "t:cli:slow";
    hang.timeout_ms = 60000;
    client.submit(hang);
    RunRequest queued = prompt_request("echo");
    queued.route = "t:cli:slow";
    client.submit(queued, {}, [&](Result) { queued_done = true; });
    RunRequest fast = prompt_request("echo");
    fast.route = "t:cli:fast";
    Result r = client.run(fast);
    ASSERT_FALSE(r.error) << r.error->message;
    EXPECT_EQ(client.pending(), 2u) << "the hanging run and the one queued behind it";
  }
  EXPECT_FALSE(queued_done) << "a destroyed Client calls no handler";
  const std::string started = read_file(marker);
  EXPECT_LE(std::count(started.begin(), started.end(), '\n'), 2) << "the queued run never started";
}

}  // namespace
}  // namespace drover::test
