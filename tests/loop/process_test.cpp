// Process supervisor: spawn, pipes, watchdogs, group stop, drain, accounting, hygiene.
#include "src/loop/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/loop/loop.h"
#include "support/fixtures.h"

namespace drover {
namespace {

SpawnOptions agent(std::vector<std::string> args) {
  SpawnOptions options;
  options.file = test::fake_agent();
  options.args = {"fake_agent"};
  options.args.insert(options.args.end(), args.begin(), args.end());
  options.env = {"PATH=/usr/bin:/bin"};
  return options;
}

struct RunOutcome {
  ProcessOutcome outcome;
  std::string streamed_stdout;
  std::string streamed_stderr;
  int completions = 0;
};

// Runs one process on a fresh loop to completion; `during` may act on it once it started.
RunOutcome run_process(SpawnOptions options, const std::function<void(Process*)>& during = nullptr) {
  RunOutcome run;
  {
    Loop loop;
    ProcessCallbacks callbacks;
    callbacks.on_stdout = [&](std::string_view c) { run.streamed_stdout.append(c); };
    callbacks.on_stderr = [&](std::string_view c) { run.streamed_stderr.append(c); };
    callbacks.on_complete = [&](ProcessOutcome&& o) {
      run.outcome = std::move(o);
      ++run.completions;
    };
    Error error;
    Process* process = Process::start(loop, std::move(options), std::move(callbacks), error);
    EXPECT_NE(process, nullptr) << error.message;
    if (process && during) during(process);
    loop.run();
    EXPECT_EQ(loop.live_processes(), 0u);
  }
  EXPECT_EQ(run.completions, 1);
  return run;
}

// Gone, or a zombie waiting for its (new) parent: either way it runs no more.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  auto close = content.rfind(')');
  return close != std::string::npos && content.size() > close + 2 && content[close + 2] == 'Z';
}

// SIGKILL is delivered asynchronously: give the kernel a moment (bounded) to finish the job.
bool eventually_gone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (process_gone(pid)) return true;
    ::usleep(10000);
  }
  return false;
}

std::vector<pid_t> parse_pids(const std::string& out) {
  std::istringstream in(out.substr(out.find("pids")));
  std::string word;
  pid_t a = 0, b = 0;
  in >> word >> a >> b;
  return {a, b};
}

int count_open_fds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor
}

int count_children() {
  int n = 0;
  const std::string self = std::to_string(::getpid());
  DIR* dir = ::opendir("/proc");
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), {});
    auto close = content.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(content.substr(close + 2));
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == self) ++n;
  }
  ::closedir(dir);
  return n;
}

TEST(Process, CapturesStdoutAndExitCode) {
  RunOutcome run = run_process(agent({"--mode", "echo", "--prompt", "hello there"}));
  EXPECT_EQ(run.outcome.stdout_tail, "echo: hello there\n");
  EXPECT_EQ(run.streamed_stdout, run.outcome.stdout_tail);
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  EXPECT_FALSE(run.outcome.info.term_signal);
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::none);
  EXPECT_GT(run.outcome.info.pid, 0);
  EXPECT_GT(run.outcome.info.wall_ms, 0.0);
  ASSERT_TRUE(run.outcome.info.first_byte_ms);
  EXPECT_LE(*run.outcome.info.first_byte_ms, run.outcome.info.wall_ms + 1000);
  EXPECT_EQ(run.outcome.info.stdout_bytes, 18u);
  EXPECT_TRUE(run.outcome.info.evidence.empty()) << "evidence is kept for failures only";
}

TEST(Process, NonZeroExitAndStderr) {
  RunOutcome run = run_process(agent({"--mode", "stderr-error", "--text", "boom", "--exit", "7"}));
  EXPECT_EQ(run.outcome.info.exit_code, 7);
  EXPECT_EQ(run.outcome.stderr_tail, "fake_agent: fatal: boom\n");
  EXPECT_NE(run.outcome.info.evidence.find("fatal: boom"), std::string::npos);
}

TEST(Process, MissingExecutableIsNotFoundAndLeavesNothingOpen) {
  Loop loop;
  SpawnOptions options = agent({});
  options.file = "/nonexistent/harness";
  bool completed = false;
  ProcessCallbacks callbacks;
  callbacks.on_complete = [&](ProcessOutcome&&) { completed = true; };
  Error error;
  EXPECT_EQ(Process::start(loop, std::move(options), std::move(callbacks), error), nullptr);
  EXPECT_EQ(error.code, ErrorCode::not_found);
  EXPECT_NE(error.message.find("/nonexistent/harness"), std::string::npos);
  loop.run();
  EXPECT_FALSE(completed);
  EXPECT_EQ(uv_loop_alive(loop.uv()), 0);
}

TEST(Process, ANulByteInAnArgumentOrTheEnvironmentIsRefusedBeforeSpawning) {
  for (bool in_env : {false, true}) {
    SpawnOptions options = agent({"--mode", "argv"});
    (in_env ? options.env : options.args).push_back(std::string(in_env ? "X=a\0b" : "a\0b", in_env ? 5 : 3));
    Loop loop;
    Error error;
    EXPECT_EQ(Process::start(loop, std::move(options), {}, error), nullptr);
    EXPECT_EQ(error.code, ErrorCode::validation_error);
    EXPECT_NE(error.message.find("NUL byte"), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(std::string("a\0b", 3)), std::string::npos);
    loop.run();
    EXPECT_EQ(loop.live_processes(), 0u);
  }
}

TEST(Process, MissingWorkingDirectoryIsAConfigError) {
  Loop loop;
  SpawnOptions options = agent({"--mode", "echo"});
  options.cwd = "/nonexistent/dir";
  Error error;
  EXPECT_EQ(Process::start(loop, std::move(options), {}, error), nullptr);
  EXPECT_EQ(error.code, ErrorCode::config_error);
  loop.run();
}

TEST(Process, FloodOnBothStreamsWithLargeStdinDoesNotDeadlock) {
  SpawnOptions options = agent({"--mode", "flood", "--stdin", "--bytes", "1048576"});
  options.stdin_data = std::string(1 << 20, 'p');
  options.max_output_bytes = 4u << 20;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  const std::string done = "flood done stdin=1048576\n";
  EXPECT_EQ(run.outcome.info.stdout_bytes, 1048576u + done.size());
  EXPECT_EQ(run.outcome.info.stderr_bytes, 1048576u);
  EXPECT_EQ(run.outcome.stdout_tail.substr(run.outcome.stdout_tail.size() - done.size()), done);
  EXPECT_EQ(run.streamed_stderr.size(), 1048576u);
}

TEST(Process, PromptOnStdinArrivesWhole) {
  SpawnOptions options = agent({"--mode", "stdin-echo"});
  std::string prompt = "line one\n\"quoted\" and $(not expanded) \xE2\x9C\x93\n";
  options.stdin_data = prompt;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.stdout_tail, prompt);
}

TEST(Process, NoStdinMeansImmediateEof) {
  RunOutcome run = run_process(agent({"--mode", "stdin-echo"}));
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  EXPECT_EQ(run.outcome.stdout_tail, "");
}

TEST(Process, StartTimeoutStopsASilentHarness) {
  SpawnOptions options = agent({"--mode", "hang"});
  options.watchdog.start_timeout_ms = 200;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::start_timeout);
  EXPECT_EQ(run.outcome.info.term_signal, SIGTERM);
  EXPECT_EQ(run.outcome.info.stop_signal_sent, SIGTERM);
}

TEST(Process, StartTimeoutDoesNotFireOnceOutputFlows) {
  SpawnOptions options = agent({"--mode", "drip", "--text", "abcdefghij", "--ms", "60"});
  options.watchdog.start_timeout_ms = 300;  // shorter than the whole drip, longer than a byte
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::none);
  EXPECT_EQ(run.outcome.stdout_tail, "abcdefghij\n");
}

TEST(Process, IdleTimeoutKeepsEvidence) {
  SpawnOptions options = agent({"--mode", "hang-after", "--text", "last words"});
  options.watchdog.idle_timeout_ms = 250;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::idle_timeout);
  EXPECT_NE(run.outcome.info.evidence.find("last words"), std::string::npos);
}

TEST(Process, IdleTimeoutIsResetByEveryByte) {
  SpawnOptions options = agent({"--mode", "drip", "--text", "abcdefgh", "--ms", "50"});
  options.watchdog.idle_timeout_ms = 400;  // the drip takes longer than this in total
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::none);
  EXPECT_EQ(run.outcome.info.exit_code, 0);
}

TEST(Process, TotalDeadlineStopsAChattyHarness) {
  SpawnOptions options = agent({"--mode", "drip", "--text", std::string(200, 'x'), "--ms", "20"});
  options.watchdog.total_timeout_ms = 300;
  options.watchdog.idle_timeout_ms = 5000;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::total_timeout);
  EXPECT_EQ(run.outcome.info.term_signal, SIGTERM);
  EXPECT_FALSE(run.outcome.info.evidence.empty());
}

TEST(Process, SigtermIgnoredEscalatesToSigkill) {
  SpawnOptions options = agent({"--mode", "ignore-term"});
  options.watchdog.total_timeout_ms = 200;
  options.watchdog.grace_ms = 200;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::total_timeout);
  EXPECT_EQ(run.outcome.info.term_signal, SIGKILL);
  EXPECT_EQ(run.outcome.info.stop_signal_sent, SIGKILL);
}

TEST(Process, GroupStopReachesGrandchildren) {
  SpawnOptions options = agent({"--mode", "tree"});
  options.watchdog.idle_timeout_ms = 300;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::idle_timeout);
  auto pids = parse_pids(run.outcome.stdout_tail);
  ASSERT_GT(pids[0], 0);
  ASSERT_GT(pids[1], 0);
  EXPECT_TRUE(eventually_gone(pids[0]));
  EXPECT_TRUE(eventually_gone(pids[1]));
}

TEST(Process, GroupKillReachesGrandchildrenThatIgnoreSigterm) {
  SpawnOptions options = agent({"--mode", "tree-ignore-term"});
  options.watchdog.idle_timeout_ms = 300;
  options.watchdog.grace_ms = 200;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.term_signal, SIGKILL);
  auto pids = parse_pids(run.outcome.stdout_tail);
  EXPECT_TRUE(eventually_gone(pids[0]));
  EXPECT_TRUE(eventually_gone(pids[1]));
}

TEST(Process, GrandchildHoldingStdoutCannotHangTheRun) {
  SpawnOptions options = agent({"--mode", "grandchild", "--text", "answer", "--ms", "60000"});
  options.watchdog.drain_ms = 300;
  RunOutcome run = run_process(std::move(options));
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  EXPECT_TRUE(run.outcome.info.output_held_open);
  EXPECT_EQ(run.outcome.stdout_tail, "answer\n");
  const std::string& err = run.outcome.stderr_tail;
  ASSERT_NE(err.find("grandchild "), std::string::npos);
  pid_t grandchild = std::atoi(err.c_str() + err.find("grandchild ") + 11);
  EXPECT_TRUE(eventually_gone(grandchild)) << "the holder is killed with the group";
  bool warned = false;
  for (const auto& w : run.outcome.warnings) warned |= w.find("stayed open") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(Process, LeftoverGroupMembersAreKilledAfterANormalExit) {
  // The grandchild closes nothing but the agent exits; with a generous drain the grandchild's
  // sleep would outlive the run, so the leftover sweep must end it.
  SpawnOptions options = agent({"--mode", "grandchild", "--text", "ok", "--ms", "400"});
  options.watchdog.drain_ms = 10000;
  RunOutcome run = run_process(std::move(options));
  EXPECT_FALSE(run.outcome.info.output_held_open);
  const std::string& err = run.outcome.stderr_tail;
  pid_t grandchild = std::atoi(err.c_str() + err.find("grandchild ") + 11);
  EXPECT_TRUE(eventually_gone(grandchild));
}

TEST(Process, StoppingTwiceIsHarmless) {
  SpawnOptions options = agent({"--mode", "hang"});
  RunOutcome run = run_process(std::move(options), [](Process* p) {
    p->stop(StopCause::cancelled);
    p->stop(StopCause::total_timeout);
    p->stop(StopCause::cancelled);
  });
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::cancelled) << "the first cause is kept";
  EXPECT_EQ(run.outcome.info.term_signal, SIGTERM);
}

TEST(Process, KillAfterStopEscalatesAtOnce) {
  SpawnOptions options = agent({"--mode", "ignore-term"});
  options.watchdog.grace_ms = 60000;
  RunOutcome run;
  {
    Loop loop;
    ProcessCallbacks callbacks;
    // Act only once the agent says it ignores SIGTERM, so the test does not race its start.
    callbacks.on_stdout = [&](std::string_view) {
      loop.stop_all(StopCause::cancelled);
      loop.kill_all();  // the second Ctrl-C
    };
    callbacks.on_complete = [&](ProcessOutcome&& o) { run.outcome = std::move(o); };
    Error error;
    ASSERT_NE(Process::start(loop, std::move(options), std::move(callbacks), error), nullptr);
    loop.run();
  }
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::cancelled);
  EXPECT_EQ(run.outcome.info.term_signal, SIGKILL);
}

TEST(Process, DeathBySignalIsReported) {
  RunOutcome run = run_process(agent({"--mode", "die", "--signal", "SEGV", "--text", "x"}));
  EXPECT_EQ(run.outcome.info.term_signal, SIGSEGV);
  EXPECT_FALSE(run.outcome.info.exit_code);
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::none);
}

TEST(Process, OutputBeyondTheCapKeepsTheTailAndWarns) {
  SpawnOptions options = agent({"--mode", "many-lines", "--bytes", "120000"});
  options.max_output_bytes = 1000;
  RunOutcome run = run_process(std::move(options));
  EXPECT_TRUE(run.outcome.info.stdout_truncated);
  EXPECT_EQ(run.outcome.stdout_tail.size(), 1000u);
  EXPECT_EQ(run.outcome.stdout_tail.substr(run.outcome.stdout_tail.size() - 12), "line 010000\n");
  EXPECT_EQ(run.outcome.info.stdout_bytes, 120000u);
  ASSERT_FALSE(run.outcome.warnings.empty());
  EXPECT_NE(run.outcome.warnings[0].find("stdout exceeded 1000 bytes"), std::string::npos);
}

TEST(Process, EvidenceIsTheLastTwentyLines) {
  SpawnOptions options = agent({"--mode", "many-lines", "--bytes", "12000", "--exit", "3"});
  RunOutcome run = run_process(std::move(options));
  const std::string& ev = run.outcome.info.evidence;
  EXPECT_LE(ev.size(), 4096u);
  EXPECT_EQ(std::count(ev.begin(), ev.end(), '\n'), 20);
  EXPECT_EQ(ev.substr(0, 12), "line 000981\n");
}

TEST(Process, AccountsCpuTimeAndPeakRss) {
  RunOutcome spin = run_process(agent({"--mode", "spin", "--ms", "300"}));
  ASSERT_TRUE(spin.outcome.info.cpu_user_ms) << "rusage was not read before the reap";
  EXPECT_GT(*spin.outcome.info.cpu_user_ms + *spin.outcome.info.cpu_system_ms, 100.0);
  RunOutcome alloc = run_process(agent({"--mode", "alloc", "--mb", "64"}));
  ASSERT_TRUE(alloc.outcome.info.peak_rss_kb);
  EXPECT_GT(*alloc.outcome.info.peak_rss_kb, 60 * 1024);
}

TEST(Process, ConcurrentExitsEachGetTheirOwnAccounting) {
  // The kernel's peak RSS of a child includes the image it was forked from (the test program,
  // tens of MB under sanitizers), so the allocating children use far more than that.
  Loop loop;
  std::vector<ProcessOutcome> outcomes;
  for (int i = 0; i < 6; ++i) {
    ProcessCallbacks callbacks;
    callbacks.on_complete = [&](ProcessOutcome&& o) { outcomes.push_back(std::move(o)); };
    Error error;
    auto options = agent({"--mode", i % 2 ? "alloc" : "echo", "--mb", "192"});
    ASSERT_NE(Process::start(loop, std::move(options), std::move(callbacks), error), nullptr);
  }
  loop.run();
  ASSERT_EQ(outcomes.size(), 6u);
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.info.peak_rss_kb);
    bool allocated = o.stdout_tail.find("allocated") != std::string::npos;
    if (allocated)
      EXPECT_GT(*o.info.peak_rss_kb, 180 * 1024);
    else
      EXPECT_LT(*o.info.peak_rss_kb, 150 * 1024);
  }
}

TEST(Process, ChildInheritsNoDescriptors) {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  RunOutcome run = run_process(agent({"--mode", "fds"}));
  ::close(leaked);
  auto fds = nlohmann::json::parse(run.outcome.stdout_tail);
  EXPECT_EQ(fds, nlohmann::json::parse("[0,1,2]"));
}

TEST(Process, EnvironmentAndWorkingDirectoryAreExplicit) {
  SpawnOptions options = agent({"--mode", "env"});
  options.env = {"ONLY_THIS=1"};
  RunOutcome env = run_process(std::move(options));
  EXPECT_EQ(nlohmann::json::parse(env.outcome.stdout_tail), nlohmann::json({{"ONLY_THIS", "1"}}));

  SpawnOptions cwd_options = agent({"--mode", "cwd"});
  cwd_options.cwd = "/tmp";
  RunOutcome cwd = run_process(std::move(cwd_options));
  EXPECT_EQ(cwd.outcome.stdout_tail, "/tmp\n");
}

TEST(Process, InvalidUtf8PassesThroughUntouched) {
  RunOutcome run = run_process(agent({"--mode", "invalid-utf8"}));
  EXPECT_EQ(run.outcome.stdout_tail, "valid start \xff\xfe bad \xc3\x28 end \xe2\x82\n");
}

TEST(Process, ThousandRunsLeakNoDescriptorAndNoZombie) {
  run_process(agent({"--mode", "echo"}));  // libuv's process-wide signal pipe opens once
  const int fds_before = count_open_fds();
  int completed = 0;
  constexpr int kRuns = 1000;
  constexpr int kParallel = 8;
  {
    Loop loop;
    int started = 0;
    std::function<void()> start_one = [&] {
      if (started == kRuns) return;
      ++started;
      ProcessCallbacks callbacks;
      callbacks.on_complete = [&](ProcessOutcome&& o) {
        EXPECT_EQ(o.info.exit_code, 0);
        ++completed;
        start_one();
      };
      Error error;
      SpawnOptions options = agent({"--mode", "echo", "--prompt", "p"});
      if (started % 2) options.stdin_data = "stdin too";
      ASSERT_NE(Process::start(loop, std::move(options), std::move(callbacks), error), nullptr);
    };
    for (int i = 0; i < kParallel; ++i) start_one();
    loop.run();
  }
  EXPECT_EQ(completed, kRuns);
  EXPECT_EQ(count_children(), 0) << "zombies or live children left";
  EXPECT_EQ(count_open_fds(), fds_before);
}

TEST(TailLines, CutsLinesAndBytes) {
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2, 100), "b\nc\n");
  EXPECT_EQ(tail_lines("a\nb\nc", 2, 100), "b\nc");
  EXPECT_EQ(tail_lines("abc", 5, 100), "abc");
  EXPECT_EQ(tail_lines("0123456789", 5, 4), "6789");
  // never starts inside a UTF-8 sequence
  EXPECT_EQ(tail_lines("x\xE2\x9C\x93y", 5, 3), "y");
}

}  // namespace
}  // namespace drover

namespace drover {
namespace {

TEST(ProcessInteractiveStdin, WritesGoOutInOrderAndCloseGivesEof) {
  SpawnOptions options = agent({"--mode", "stdin-echo"});
  options.interactive_stdin = true;
  const std::string big(1 << 20, 'x');  // more than a pipe holds: the writes queue
  RunOutcome run = run_process(std::move(options), [&](Process* p) {
    EXPECT_TRUE(p->write_stdin("first\n"));
    EXPECT_TRUE(p->write_stdin(big));
    EXPECT_TRUE(p->write_stdin("last\n"));
    EXPECT_GT(p->stdin_queued_bytes(), 0u);
    p->close_stdin();
    EXPECT_FALSE(p->write_stdin("after close\n"));
  });
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  EXPECT_EQ(run.streamed_stdout, "first\n" + big + "last\n");
  EXPECT_TRUE(run.outcome.warnings.empty());
}

TEST(ProcessInteractiveStdin, AChildThatNeverReadsGivesAWarningNotACrash) {
  SpawnOptions options = agent({"--mode", "exit", "--exit", "0"});
  options.interactive_stdin = true;
  RunOutcome run = run_process(std::move(options), [&](Process* p) {
    EXPECT_TRUE(p->write_stdin(std::string(1 << 20, 'y')));  // beyond the pipe buffer: EPIPE
  });
  EXPECT_EQ(run.outcome.info.exit_code, 0);
  ASSERT_EQ(run.outcome.warnings.size(), 1u);
  EXPECT_NE(run.outcome.warnings[0].find("closed its stdin"), std::string::npos)
      << run.outcome.warnings[0];
}

TEST(ProcessInteractiveStdin, StopWithoutACauseRecordsNone) {
  SpawnOptions options = agent({"--mode", "hang"});
  options.interactive_stdin = true;
  options.watchdog.grace_ms = 100;
  RunOutcome run = run_process(std::move(options), [](Process* p) { p->stop(StopCause::none); });
  EXPECT_EQ(run.outcome.info.stopped_by, StopCause::none);
  EXPECT_EQ(run.outcome.info.term_signal, SIGTERM);
}

}  // namespace
}  // namespace drover
