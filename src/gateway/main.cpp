// drover-gateway: the mock model endpoint behind `drover mock-gateway` (which execs this program
// with the same arguments). See src/gateway/README.md.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "src/gateway/gateway.h"

namespace {

constexpr int kExitUsage = 2;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "drover mock-gateway: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace drover::gateway;
  // Started with stdin/stdout/stderr closed, the listening socket would take fd 0..2 and log lines
  // meant for stderr would go to a client. Keep the three standard descriptors occupied.
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) == -1 && ::open("/dev/null", O_RDWR) != fd) return 2;

  CLI::App app{
      "A mock model endpoint on loopback: the OpenAI (chat completions, responses), Anthropic "
      "(messages) and Gemini (generateContent) APIs, streamed and not. Answers `MOCK: <last user "
      "text>` unless a --script rule says otherwise. Logs one JSON line per request (never an API "
      "key). Prints `listening on http://HOST:PORT` once ready; SIGINT/SIGTERM stop it."};
  app.name("drover mock-gateway");
  std::string host = "127.0.0.1";
  int port = 8046;
  std::string script_path, log_path, upstream_url;
  bool verbose = false;
  size_t max_threads = 1024;
  app.add_option("--host", host, "Address to listen on (loopback unless told otherwise)")
      ->capture_default_str();
  app.add_option("--port", port, "Port to listen on; 0 picks a free one")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--script", script_path, "JSON script of rules: scripted answers, errors, delays")
      ->check(CLI::ExistingFile);
  app.add_option("--log", log_path, "Append the JSON request log to FILE (default: stderr)");
  app.add_option("--upstream", upstream_url,
                 "Forward requests no rule answers to this endpoint (http[s]://host[:port][/prefix]) "
                 "and record them");
  app.add_flag("--verbose", verbose, "Log whole request and response bodies (never headers)");
  app.add_option("--max-threads", max_threads, "Most connections served at once")
      ->capture_default_str()
      ->check(CLI::Range(static_cast<size_t>(1), static_cast<size_t>(100000)));
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGPIPE, SIG_IGN);

  Script script;
  if (!script_path.empty()) {
    std::string error;
    auto loaded = Script::load_file(script_path, error);
    if (!loaded) return fail(kExitUsage, "invalid script: " + error);
    script = std::move(*loaded);
  }
  GatewayOptions options;
  options.host = host;
  options.port = port;
  options.verbose = verbose;
  options.max_threads = max_threads;
  if (!upstream_url.empty()) {
    std::string error;
    options.upstream = parse_upstream_url(upstream_url, error);
    if (!options.upstream) return fail(kExitUsage, error);
  }
  RequestLog log;
  {
    std::string error;
    if (!log.open(log_path, error)) return fail(kExitUsage, error);
  }

  // SIGINT and SIGTERM go to one thread that waits for them; every thread started from here on
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Gateway gateway(options, std::move(script), log);
  std::string error;
  const int bound = gateway.bind(error);
  if (bound < 0) return fail(1, error);

  std::atomic<bool> served{false};
  std::thread waiter([&gateway, &served, &log, signals] {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) return;
    gateway.stop();
    // Let running requests end (streams notice the stop within a few ms) and log; connections
    // idling in keep-alive would hold httplib's workers for seconds, so don't wait for those.
    for (int i = 0; i < 200 && gateway.in_flight() > 0 && !served; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log.flush();
    std::fflush(stdout);
    std::_Exit(0);
  });
  waiter.detach();

  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::printf("listening on http://%s:%d\n", shown_host.c_str(), bound);
  std::fflush(stdout);

  const bool ok = gateway.run();
  const bool stopped = gateway.stopping();
  served = true;
  log.flush();
  std::fflush(stdout);
  // Leave without destructors: the signal thread may still wait, and upstream exchanges whose
  // client left may still be running.
  if (!ok && !stopped) {
    fail(1, "the listener failed");
    std::_Exit(1);
  }
  std::_Exit(0);
}
