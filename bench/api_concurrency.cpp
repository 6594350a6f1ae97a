// Many concurrent streaming requests against the mock gateway: drover's one loop (libcurl multi
// on libuv) versus the same requests made by the `curl` command line, in parallel, in the same
// run. Reports requests/s and the median time to the first delta, as ratios.
//
//   drover_api_bench [--requests N] [--concurrency C]
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <uv.h>

#include "drover/config.h"
#include "src/loop.h"
#include "src/process.h"
#include "src/run.h"

namespace {

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

// Keeps `concurrency` requests in flight until `total` have been started. The state lives on
// the heap: requests complete after pump() has returned, inside loop.run().
void pump(int total, int concurrency,
          const std::function<void(int index, std::function<void()> done)>& start) {
  struct State {
    int total;
    int started = 0;
    std::function<void(int, std::function<void()>)> start;
    std::function<void()> next;
  };
  auto state = std::make_shared<State>();
  state->total = total;
  state->start = start;
  std::weak_ptr<State> weak = state;
  state->next = [weak] {
    auto s = weak.lock();
    if (!s || s->started == s->total) return;
    int index = s->started++;
    s->start(index, [s] { s->next(); });
  };
  for (int i = 0; i < concurrency && i < total; ++i) state->next();
}

Figures run_drover(const drover::Config& config, int total, int concurrency) {
  Figures f;
  drover::Loop loop;
  const uint64_t t0 = uv_hrtime();
  pump(total, concurrency, [&](int index, std::function<void()> done) {
    auto started = std::make_shared<uint64_t>(uv_hrtime());
    auto seen = std::make_shared<bool>(false);
    drover::RunRequest request;
    request.prompt = "benchmark request " + std::to_string(index);
    drover::start_run(
        loop, config, drover::builtin_transports(), request,
        [&f, started, seen](const drover::Event& e) {
          if (e.kind == drover::Event::Kind::delta && !*seen) {
            *seen = true;
            f.first_delta_ms.push_back(static_cast<double>(uv_hrtime() - *started) / 1e6);
          }
        },
        [&f, done](drover::Result&& r) {
          if (!r.ok()) ++f.failures;
          done();
        });
  });
  loop.run();
  f.wall_ms = static_cast<double>(uv_hrtime() - t0) / 1e6;
  return f;
}

Figures run_curl(const std::string& url, int total, int concurrency) {
  Figures f;
  drover::Loop loop;
  const uint64_t t0 = uv_hrtime();
  pump(total, concurrency, [&](int index, std::function<void()> done) {
    nlohmann::json body = {{"model", "gpt-4.1"},
                           {"messages", {{{"role", "user"}, {"content", "benchmark request " + std::to_string(index)}}}},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
    drover::SpawnOptions options;
    options.file = "/usr/bin/curl";
    options.args = {"curl", "-sN", url + "/v1/chat/completions", "-H", "content-type: application/json",
                    "-H", "authorization: Bearer sk-bench", "-d", body.dump()};
    options.env = {"PATH=/usr/bin:/bin"};
    auto started = std::make_shared<uint64_t>(uv_hrtime());
    auto seen = std::make_shared<bool>(false);
    auto buffer = std::make_shared<std::string>();
    drover::ProcessCallbacks callbacks;
    callbacks.on_stdout = [&f, started, seen, buffer](std::string_view chunk) {
      if (*seen) return;
      buffer->append(chunk);
      if (buffer->find("\"content\":\"") != std::string::npos) {
        *seen = true;
        f.first_delta_ms.push_back(static_cast<double>(uv_hrtime() - *started) / 1e6);
      }
    };
    callbacks.on_complete = [&f, done](drover::ProcessOutcome&& o) {
      if (o.info.exit_code != 0) ++f.failures;
      done();
    };
    drover::Error error;
    if (drover::Process::start(loop, std::move(options), std::move(callbacks), error) == nullptr) {
      std::fprintf(stderr, "cannot run curl: %s\n", error.message.c_str());
      std::exit(1);
    }
  });
  loop.run();
  f.wall_ms = static_cast<double>(uv_hrtime() - t0) / 1e6;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  int total = 400, concurrency = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--requests") total = std::atoi(argv[i + 1]);
    if (a == "--concurrency") concurrency = std::atoi(argv[i + 1]);
  }
  Gateway gateway;
  if (gateway.url.empty()) {
    std::fprintf(stderr, "the mock gateway did not start\n");
    return 1;
  }
  ::setenv("DROVER_BENCH_KEY", "sk-bench", 1);
  nlohmann::json cfg = {
      {"routing", {{"fallback", {{"on", nlohmann::json::object()}}}}},
      {"providers",
       {{"openai",
         {{"accounts",
           {{{"id", "main"},
             {"transport", {{"kind", "api"}, {"api", {{"baseUrl", gateway.url + "/v1"}, {"apiKeyEnv", "DROVER_BENCH_KEY"}}}}},
             {"models", {"gpt-4.1"}}}}}}}}}};
  auto [config, error] = drover::parse_config(cfg.dump(), "bench");
  if (!config) {
    std::fprintf(stderr, "%s\n", error->message.c_str());
    return 1;
  }
  run_drover(*config, 20, 5);  // warm-up: libcurl loaded, connections made
  Figures d = run_drover(*config, total, concurrency);
  Figures c = run_curl(gateway.url, total, concurrency);
  const double d_rps = total / (d.wall_ms / 1000.0), c_rps = total / (c.wall_ms / 1000.0);
  const double d_first = median(d.first_delta_ms), c_first = median(c.first_delta_ms);
  std::printf("%d streaming requests, %d in flight, mock gateway on loopback\n", total, concurrency);
  std::printf("drover (one loop)   : %8.1f req/s, median first delta %7.3f ms, failures %d\n", d_rps,
              d_first, d.failures);
  std::printf("curl CLI (parallel) : %8.1f req/s, median first delta %7.3f ms, failures %d\n", c_rps,
              c_first, c.failures);
  std::printf("ratio drover/curl   : throughput %.2fx, first-delta latency %.2fx\n", d_rps / c_rps,
              d_first / c_first);
  return d.failures + c.failures == 0 ? 0 : 1;
}
