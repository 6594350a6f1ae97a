// Many concurrent streaming requests against the mock gateway: drover (drover::Client over
// libcurl on libuv) versus the same requests made by the `curl` command line, in parallel, in the
// same run. Reports requests/s and the median time to the first delta, as ratios.
//
// Both sides keep C requests in flight until N have been started: drover as C submissions on
// one Client (one loop), curl as C threads each spawning one curl process after the other.
//
//   drover_api_bench [--requests N] [--concurrency C] [--base-url URL] [--no-curl]
//                    [--prompt TEXT]
//
// --base-url uses a gateway already running (another benchmark's, so that both measure against
// the same server) instead of starting one; --no-curl skips the curl side; --prompt is each
// request's prompt with {n} standing for its number (default "benchmark request {n}"): the mock
// gateway echoes it, so it sets how much each answer streams.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "drover/config.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::string prompt_template = "benchmark request {n}";

std::string prompt_for(int n) {
  std::string out = prompt_template;
  for (std::size_t at; (at = out.find("{n}")) != std::string::npos;)
    out.replace(at, 3, std::to_string(n));
  return out;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Gateway {
  pid_t pid = -1;
  std::string url;
  Gateway() {
    int out[2];
    if (::pipe(out) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed benchmark
      ::dup2(out[1], 1);
      ::execl(DROVER_GATEWAY_BINARY, "drover-gateway", "--port", "0", "--log", "/dev/null",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    auto at = line.find("http://");
    if (at != std::string::npos) url = line.substr(at);
  }
  ~Gateway() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

struct Figures {
  double wall_ms = 0;
  std::vector<double> first_delta_ms;
  int failures = 0;
};

// Keeps `concurrency` curl requests in flight until `total` have been made: `concurrency` threads, each
// taking the next index and calling `one(thread, index, its figures)` until none is left.
Figures pump(int total, int concurrency, const std::function<void(int, int, Figures&)>& one) {
  Figures f;
  std::atomic<int> next{0};
  std::mutex merge;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < concurrency && t < total; ++t) {
    threads.emplace_back([&, t] {
      Figures mine;
      for (int index = next++; index < total; index = next++) one(t, index, mine);
      std::lock_guard<std::mutex> lock(merge);
      f.failures += mine.failures;
      f.first_delta_ms.insert(f.first_delta_ms.end(), mine.first_delta_ms.begin(),
                              mine.first_delta_ms.end());
    });
  }
  for (auto& thread : threads) thread.join();
  f.wall_ms = ms_since(t0);
  return f;
}

Figures run_drover(const drover::Config& config, int total, int concurrency) {
  // One Client, one loop: each completion submits the next request until `total` have started.
  drover::Client client(config);
  Figures f;
  int next = 0;
  std::function<void()> submit_next = [&] {
    if (next >= total) return;
    drover::RunRequest request;
    request.prompt = prompt_for(next++);
    request.stream = true;
    const auto started = Clock::now();
    auto seen = std::make_shared<bool>(false);
    client.submit(
        std::move(request),
        [&f, started, seen](const drover::Event& e) {
          if (e.kind == drover::Event::Kind::delta && !*seen) {
            *seen = true;
            f.first_delta_ms.push_back(ms_since(started));
          }
        },
        [&f, &submit_next](drover::Result r) {
          if (!r.ok()) ++f.failures;
          submit_next();
        });
  };
  const auto t0 = Clock::now();
  for (int i = 0; i < concurrency && i < total; ++i) submit_next();
  client.wait();
  f.wall_ms = ms_since(t0);
  return f;
}

// One `curl -sN` streaming request: spawned with its stdout on a pipe, read until the first
// content delta (timed) and then to EOF, reaped.
bool curl_once(const std::string& url, int index, Figures& f) {
  nlohmann::json body = {{"model", "gpt-4.1"},
                         {"messages", {{{"role", "user"}, {"content", prompt_for(index)}}}},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
  const std::string endpoint = url + "/v1/chat/completions", data = body.dump();
  std::vector<const char*> argv = {"curl", "-sN", endpoint.c_str(), "-H", "content-type: application/json",
                                   "-H", "authorization: Bearer sk-bench", "-d", data.c_str(), nullptr};
  const char* envp[] = {"PATH=/usr/bin:/bin", nullptr};
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const auto started = Clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, "/usr/bin/curl", &actions, nullptr,
                                  const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp));
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    std::fprintf(stderr, "cannot run curl: %s\n", std::strerror(spawned));
    std::exit(1);
  }
  std::string buffer;
  bool seen = false;
  char chunk[65536];
  for (ssize_t n; (n = ::read(out[0], chunk, sizeof chunk)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (seen) continue;
    buffer.append(chunk, static_cast<size_t>(n));
    if (buffer.find("\"content\":\"") != std::string::npos) {
      seen = true;
      f.first_delta_ms.push_back(ms_since(started));
    }
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Figures run_curl(const std::string& url, int total, int concurrency) {
  return pump(total, concurrency, [&url](int, int index, Figures& f) {
    if (!curl_once(url, index, f)) ++f.failures;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  int total = 400, concurrency = 50;
  std::string base_url;
  bool curl = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--requests" && has_value) total = std::atoi(argv[++i]);
    else if (a == "--concurrency" && has_value) concurrency = std::atoi(argv[++i]);
    else if (a == "--base-url" && has_value) base_url = argv[++i];
    else if (a == "--no-curl") curl = false;
    else if (a == "--prompt" && has_value) prompt_template = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: drover_api_bench [--requests N] [--concurrency C] [--base-url URL] "
                   "[--no-curl] [--prompt TEXT]\n");
      return 2;
    }
  }
  std::optional<Gateway> gateway;
  if (base_url.empty()) {
    gateway.emplace();
    if (gateway->url.empty()) {
      std::fprintf(stderr, "the mock gateway did not start\n");
      return 1;
    }
    base_url = gateway->url;
  }
  ::setenv("DROVER_BENCH_KEY", "sk-bench", 1);
  nlohmann::json cfg = {
      {"routing", {{"fallback", {{"on", nlohmann::json::object()}}}}},
      {"providers",
       {{"openai",
         {{"accounts",
           {{{"id", "main"},
             {"transport", {{"kind", "api"}, {"api", {{"baseUrl", base_url + "/v1"}, {"apiKeyEnv", "DROVER_BENCH_KEY"}}}}},
             {"models", {"gpt-4.1"}}}}}}}}}};
  auto [config, error] = drover::parse_config(cfg.dump(), "bench");
  if (!config) {
    std::fprintf(stderr, "%s\n", error->message.c_str());
    return 1;
  }
  run_drover(*config, 20, 5);  // warm-up: libcurl loaded, the gateway warm
  Figures d = run_drover(*config, total, concurrency);
  const double d_rps = total / (d.wall_ms / 1000.0), d_first = median(d.first_delta_ms);
  std::printf("%d streaming requests, %d in flight, mock gateway on loopback\n", total, concurrency);
  std::printf("drover (Clients)    : %8.1f req/s, median first delta %7.3f ms, failures %d\n", d_rps,
              d_first, d.failures);
  if (!curl) return d.failures == 0 ? 0 : 1;
  Figures c = run_curl(base_url, total, concurrency);
  const double c_rps = total / (c.wall_ms / 1000.0), c_first = median(c.first_delta_ms);
  std::printf("curl CLI (parallel) : %8.1f req/s, median first delta %7.3f ms, failures %d\n", c_rps,
              c_first, c.failures);
  std::printf("ratio drover/curl   : throughput %.2fx, first-delta latency %.2fx\n", d_rps / c_rps,
              d_first / c_first);
  return d.failures + c.failures == 0 ? 0 : 1;
}
