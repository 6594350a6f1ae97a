// Starts the mock gateway (build/drover-gateway) on a free loopback port for one test.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/fixtures.h"

namespace drover::test {

class MockGateway {
 public:
  /// `args` are extra flags (e.g. --script FILE --log FILE).
  explicit MockGateway(const std::vector<std::string>& args = {}) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test
      ::dup2(out[1], 1);
      // The test main called uv_disable_stdio_inheritance(): stdin/stderr are close-on-exec.
      ::fcntl(0, F_SETFD, 0);
      ::fcntl(2, F_SETFD, 0);
      std::vector<std::string> all = {DROVER_GATEWAY_BINARY, "--port", "0"};
      all.insert(all.end(), args.begin(), args.end());
      if (std::find(args.begin(), args.end(), "--log") == args.end()) {
        all.push_back("--log");  // request lines would only clutter the test output
        all.push_back("/dev/null");
      }
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    // Read the one "listening on http://HOST:PORT" line (bounded).
    std::string line;
    char c;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && ::read(out[0], &c, 1) == 1) {
      if (c == '\n') break;
      line.push_back(c);
    }
    ::close(out[0]);
    auto at = line.find("http://");
    if (at != std::string::npos) url_ = line.substr(at);
  }
  ~MockGateway() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 300; ++i) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  MockGateway(const MockGateway&) = delete;
  MockGateway& operator=(const MockGateway&) = delete;

  bool ok() const { return !url_.empty(); }
  /// http://127.0.0.1:PORT (no trailing slash)
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace drover::test
