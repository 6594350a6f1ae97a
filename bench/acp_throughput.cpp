// JSON-RPC throughput of the ACP transport, end to end, on the fake ACP agent streaming one-word
// chunks as fast as it can (`fake_acp_agent --flood N`, default N = 100,000), in one run:
//
//   AcpFlood/drover       drover::Client::run on a config whose only route is kind "acp" on the
//                         fake agent: spawn, initialize, session/new, session/prompt, N
//                         session/update notifications through rpc::Connection and the update
//                         handling into delta events, the prompt result, shutdown and reaping.
//   AcpFlood/bare_pipe    the same agent and the same exchange with a trivial reader: pipes,
//                         initialize, session/new, session/prompt written one after the other,
//                         lines counted until the prompt's result, stdin closed, the agent reaped.
//   AcpFlood/bare_socket  the same over Unix socket pairs, which is what libuv gives drover's
//                         children for stdio (so the transport itself is not counted as drover's).
//
// items_per_second (= session/update messages per second, wall clock) is the figure; the
// Time column is wall time per run, CPU is this process's CPU time (drover's own for the drover
// side, the reader's for the bare ones) and agent_cpu_ms the fake agent's, per run. At the end a
// summary gives drover's rate as a ratio of each bare reader's (to stderr with
// --benchmark_format=json or csv, so the report stays parseable).
//
//   drover_acp_bench [--chunks N] [--agent PATH] [Google Benchmark flags]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "drover/config.h"

extern char** environ;

namespace {

long g_chunks = 100000;
std::string g_agent = DROVER_FAKE_ACP_AGENT;
constexpr std::size_t kReadSize = 64u << 10;

// Messages per second of the last (final) run of each benchmark, for the summary.
std::map<std::string, double> g_rates;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double children_cpu_ms() {
  struct rusage r {};
  getrusage(RUSAGE_CHILDREN, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

void finish(benchmark::State& state, const std::string& name, double wall_s, double child_cpu_ms) {
  const auto messages = static_cast<int64_t>(state.iterations()) * g_chunks;
  state.SetItemsProcessed(messages);
  state.counters["agent_cpu_ms"] = benchmark::Counter(child_cpu_ms, benchmark::Counter::kAvgIterations);
  if (wall_s > 0) g_rates[name] = static_cast<double>(messages) / wall_s;
}

// ---- drover ------------------------------------------------------------------------------------

drover::Config flood_config() {
  nlohmann::json config = {
      {"routing", {{"fallback", {{"on", nlohmann::json::object()}}}}},
      {"providers",
       {{"fake",
         {{"accounts",
           {{{"id", "a"},
             {"transport",
              {{"kind", "acp"},
               {"command", g_agent},
               {"acp", {{"args", {"--flood", std::to_string(g_chunks)}}}}}}}}}}}}}};
  auto [parsed, error] = drover::parse_config(config.dump(), "acp_throughput");
  if (!parsed) {
    std::fprintf(stderr, "acp_throughput: bad config: %s\n", error ? error->message.c_str() : "?");
    std::exit(1);
  }
  return std::move(*parsed);
}

void BM_AcpFloodDrover(benchmark::State& state) {
  drover::Client client(flood_config());
  drover::RunRequest request;
  request.prompt = "flood";
  request.stream = true;
  const std::string last_word = " w" + std::to_string(g_chunks);
  const double cpu0 = children_cpu_ms();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    long deltas = 0;
    drover::Result result = client.stream(request, [&](const drover::Event& e) {
      if (e.kind == drover::Event::Kind::delta) ++deltas;
    });
    if (!result.ok() || result.text.size() < last_word.size() ||
        result.text.compare(result.text.size() - last_word.size(), last_word.size(), last_word) != 0) {
      state.SkipWithError(result.error ? result.error->message.c_str() : "the answer is incomplete");
      break;
    }
    benchmark::DoNotOptimize(deltas);
  }
  finish(state, "drover", seconds_since(t0), children_cpu_ms() - cpu0);
}

// ---- a trivial reader ---------------------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin, our end
  int out = -1;  // its stdout, our end
};

// Spawns the fake agent with stdin/stdout on pipes (sockets=false) or Unix socket pairs, stderr
// to /dev/null.
Child spawn_agent(bool sockets) {
  int to_child[2], from_child[2];  // [0] read end, [1] write end (a socket pair is symmetric)
  if (sockets) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_child) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, from_child) != 0) {
      std::perror("socketpair");
      std::exit(1);
    }
  } else if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::exit(1);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const std::string flood = std::to_string(g_chunks);
  std::vector<char*> argv = {const_cast<char*>(g_agent.c_str()), const_cast<char*>("--flood"),
                             const_cast<char*>(flood.c_str()), nullptr};
  Child c;
  if (posix_spawn(&c.pid, g_agent.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  c.in = to_child[1];
  c.out = from_child[0];
  return c;
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n < 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads lines from `fd` until one contains `needle`; counts the lines. False at EOF first.
struct LineReader {
  std::vector<char> buf = std::vector<char>(kReadSize);
  std::size_t start = 0, end = 0;
  long lines = 0;

  bool until(int fd, std::string_view needle) {
    for (;;) {
      while (start < end) {
        const char* line = buf.data() + start;
        auto* nl = static_cast<const char*>(std::memchr(line, '\n', end - start));
        if (!nl) break;
        const auto len = static_cast<std::size_t>(nl - line);
        start += len + 1;
        ++lines;
        if (memmem(line, len, needle.data(), needle.size())) return true;
      }
      if (start > 0) {  // keep the partial line at the front
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
      }
      if (end == buf.size()) buf.resize(buf.size() * 2);
      ssize_t n = read(fd, buf.data() + end, buf.size() - end);
      if (n <= 0) return false;
      end += static_cast<std::size_t>(n);
    }
  }
};

// initialize → session/new → session/prompt, each after the previous answer, then EOF and reap.
// Returns the number of lines read before the prompt's result, or -1.
long bare_client_run(bool sockets, const std::string& cwd) {
  Child c = spawn_agent(sockets);
  LineReader r;
  const std::string init =
      R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1,"clientCapabilities":{"fs":{"readTextFile":false,"writeTextFile":false},"terminal":false},"clientInfo":{"name":"bare","version":"1"}}})"
      "\n";
  const std::string session = R"({"jsonrpc":"2.0","id":1,"method":"session/new","params":{"cwd":)" +
                              nlohmann::json(cwd).dump() + R"(,"mcpServers":[]}})" + "\n";
  // A fresh agent's first session is always fake-session-1.
  const std::string prompt =
      R"({"jsonrpc":"2.0","id":2,"method":"session/prompt","params":{"sessionId":"fake-session-1","prompt":[{"type":"text","text":"flood"}]}})"
      "\n";
  bool ok = write_all(c.in, init) && r.until(c.out, R"("protocolVersion")") &&
            write_all(c.in, session) && r.until(c.out, R"("sessionId")") &&
            write_all(c.in, prompt) && r.until(c.out, R"("stopReason")");
  const long lines = r.lines;
  close(c.in);
  char sink[4096];
  while (read(c.out, sink, sizeof sink) > 0) {
  }
  close(c.out);
  int status = 0;
  waitpid(c.pid, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? lines : -1;
}

void BM_AcpFloodBare(benchmark::State& state, bool sockets) {
  char cwd_buf[4096];
  const std::string cwd = getcwd(cwd_buf, sizeof cwd_buf) ? cwd_buf : "/tmp";
  const double cpu0 = children_cpu_ms();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    long lines = bare_client_run(sockets, cwd);
    if (lines < g_chunks) {
      state.SkipWithError("the fake agent did not stream the whole flood");
      break;
    }
    benchmark::DoNotOptimize(lines);
  }
  finish(state, sockets ? "bare_socket" : "bare_pipe", seconds_since(t0), children_cpu_ms() - cpu0);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // Our own flags first; the rest goes to Google Benchmark.
  std::vector<char*> rest = {argv[0]};
  bool console = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--chunks" && i + 1 < argc) {
      g_chunks = std::atol(argv[++i]);
    } else if (a == "--agent" && i + 1 < argc) {
      g_agent = argv[++i];
    } else {
      if (a.rfind("--benchmark_format=", 0) == 0 && a != "--benchmark_format=console") console = false;
      rest.push_back(argv[i]);
    }
  }
  if (g_chunks < 1) {
    std::fprintf(stderr, "usage: %s [--chunks N] [--agent PATH] [benchmark flags]\n", argv[0]);
    return 2;
  }
  if (access(g_agent.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "acp_throughput: %s is not executable (--agent PATH)\n", g_agent.c_str());
    return 1;
  }
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;

  // Wall-clock time: the work happens in two processes. CPU is the whole process's (drover's loop
  // runs on the calling thread, but a helper thread would be counted too).
  benchmark::RegisterBenchmark("AcpFlood/drover", BM_AcpFloodDrover)
      ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("AcpFlood/bare_pipe", BM_AcpFloodBare, false)
      ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("AcpFlood/bare_socket", BM_AcpFloodBare, true)
      ->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  FILE* out = console ? stdout : stderr;
  std::fprintf(out, "\n%ld session/update messages per run, messages/s (wall clock, last run of each):\n", g_chunks);
  for (const auto& [name, rate] : g_rates) std::fprintf(out, "  %-12s %12.0f\n", name.c_str(), rate);
  if (g_rates.count("drover")) {
    for (const char* bare : {"bare_pipe", "bare_socket"})
      if (g_rates.count(bare))
        std::fprintf(out, "drover / %-11s %.3f\n", bare, g_rates["drover"] / g_rates[bare]);
  }
  return 0;
}
