// Runs build/drover-gateway as a child for the gateway tests and talks to it over HTTP.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace drover::test::gateway {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// A private directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/drover-gw-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary) << content;
    return file(name);
  }

 private:
  std::string path_;
};

/// The gateway as a child process: started with `--port 0 ARGS…`, stdout read up to the
/// `listening on` line, stderr captured to a file. The destructor stops it.
class GatewayProcess {
 public:
  explicit GatewayProcess(const std::vector<std::string>& args, bool add_port = true) {
    stderr_path_ = dir_.file("stderr.txt");
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv_s = {DROVER_GATEWAY_BINARY};
    if (add_port) argv_s.insert(argv_s.end(), {"--port", "0"});
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err_fd, 2);
      int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, 0);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err_fd);
    out_fd_ = out[0];
    if (pid_ < 0) throw std::runtime_error("fork failed");
    read_until_listening();
  }
  ~GatewayProcess() {
    stop();
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  int port() const { return port_; }
  const std::string& url() const { return url_; }
  /// Everything printed to stdout so far (the listening line included).
  const std::string& stdout_text() const { return stdout_; }
  std::string stderr_text() const { return slurp(stderr_path_); }
  pid_t pid() const { return pid_; }

  /// Sends `sig` and waits for the exit (SIGKILL after `timeout`). Returns the exit code, 128+N
  /// for death by signal N, or the previous result when already stopped.
  int stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, sig);
    auto deadline = Clock::now() + timeout;
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        killed_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  /// True when stop() had to resort to SIGKILL.
  bool was_killed() const { return killed_; }

 private:
  void read_until_listening() {
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (stdout_.find('\n') == std::string::npos) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) throw std::runtime_error("the gateway did not print its listening line");
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) continue;
      char buf[512];
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("the gateway exited before listening: " + stderr_text());
      stdout_.append(buf, static_cast<size_t>(n));
    }
    const std::string prefix = "listening on ";
    std::string line = stdout_.substr(0, stdout_.find('\n'));
    if (line.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: " + line);
    url_ = line.substr(prefix.size());
    port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
  }

  TempDir dir_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string stdout_;
  std::string url_;
  int port_ = 0;
  int exit_code_ = -1;
  bool killed_ = false;
};

/// The outcome of one HTTP exchange, with each body piece and when it arrived.
struct HttpResult {
  int status = -1;
  httplib::Headers headers;
  std::string body;
  httplib::Error error = httplib::Error::Unknown;
  std::vector<double> chunk_times_ms;  ///< arrival of each piece, from the request's start
  double total_ms = 0;
  json json_body() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline HttpResult http(int port, const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const httplib::Headers& headers = {{"Content-Type", "application/json"}}) {
  HttpResult r;
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  client.set_connection_timeout(5, 0);
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  req.body = body;
  auto start = Clock::now();
  req.response_handler = [&](const httplib::Response& res) {
    r.status = res.status;
    r.headers = res.headers;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    r.body.append(data, n);
    r.chunk_times_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    return true;
  };
  auto result = client.send(req);
  r.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  r.error = result.error();
  if (result) {
    r.status = result->status;
    r.headers = result->headers;
  }
  return r;
}

inline HttpResult post(int port, const std::string& path, const json& body,
                       httplib::Headers headers = {}) {
  headers.emplace("Content-Type", "application/json");
  return http(port, "POST", path, body.dump(), headers);
}

inline HttpResult get(int port, const std::string& path, httplib::Headers headers = {}) {
  return http(port, "GET", path, "", headers);
}

struct SseEvent {
  std::string event;  ///< the `event:` field, "" when absent
  std::string data;
  nlohmann::json parsed() const { return nlohmann::json::parse(data); }
};

/// Parses an SSE body (LF or CRLF line ends); multi-line data joins with "\n".
inline std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> events;
  SseEvent current;
  bool has_fields = false;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    if (nl == std::string::npos) nl = body.size();
    std::string line = body.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (has_fields) events.push_back(current);
      current = SseEvent();
      has_fields = false;
      continue;
    }
    if (line[0] == ':') continue;
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "event") {
      current.event = value;
    } else if (field == "data") {
      if (!current.data.empty()) current.data += "\n";
      current.data += value;
    }
    has_fields = true;
  }
  if (has_fields) events.push_back(current);
  return events;
}

/// The log file's lines, parsed.
inline std::vector<json> read_log(const std::string& path) {
  std::vector<json> lines;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

/// Waits until the log holds at least `n` lines (streams are logged when they end).
inline std::vector<json> wait_for_log(const std::string& path, size_t n,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto lines = read_log(path);
    if (lines.size() >= n || Clock::now() > deadline) return lines;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// The log line whose lastUserText is `text` (streams are logged when they end, so the order of
/// lines is the order in which requests finished). A null json when there is none.
inline json find_line(const std::vector<json>& log, const std::string& text) {
  for (const auto& line : log)
    if (line.value("lastUserText", "") == text) return line;
  return json();
}

/// A gateway started with `--script` (written from `script`) and `--log`, plus `extra` arguments.
class ScriptedGateway {
 public:
  explicit ScriptedGateway(const json& script, const std::vector<std::string>& extra = {}) {
    script_path_ = dir_.write("script.json", script.dump(2));
    log_path_ = dir_.file("log.jsonl");
    std::vector<std::string> args = {"--script", script_path_, "--log", log_path_};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<GatewayProcess>(args);
  }
  int port() const { return process_->port(); }
  const std::string& url() const { return process_->url(); }
  const std::string& log_path() const { return log_path_; }
  GatewayProcess& process() { return *process_; }
  std::vector<json> log(size_t at_least = 0) const { return wait_for_log(log_path_, at_least); }

 private:
  TempDir dir_;
  std::string script_path_;
  std::string log_path_;
  std::unique_ptr<GatewayProcess> process_;
};

/// Runs the gateway to completion (for arguments that make it exit at once).
struct ExitResult {
  int code = -1;
  std::string out;
  std::string err;
};
inline ExitResult run_gateway_to_exit(const std::vector<std::string>& args) {
  TempDir dir;
  std::string cmd = std::string("'") + DROVER_GATEWAY_BINARY + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " </dev/null >'" + dir.file("out") + "' 2>'" + dir.file("err") + "'";
  ExitResult r;
  int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir.file("out"));
  r.err = slurp(dir.file("err"));
  return r;
}

// ---- reassembling streamed answers -----------------------------------------------------------

inline std::string chat_stream_text(const std::vector<SseEvent>& events) {
  std::string text;
  for (const auto& e : events) {
    if (e.data == "[DONE]") continue;
    json j = e.parsed();
    if (j["choices"].empty()) continue;
    const json& delta = j["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string()) text += delta["content"].get<std::string>();
  }
  return text;
}

inline std::string responses_stream_text(const std::vector<SseEvent>& events) {
  std::string text;
  for (const auto& e : events) {
    json j = e.parsed();
    if (j["type"] == "response.output_text.delta") text += j["delta"].get<std::string>();
  }
  return text;
}

inline std::string anthropic_stream_text(const std::vector<SseEvent>& events) {
  std::string text;
  for (const auto& e : events) {
    json j = e.parsed();
    if (j["type"] == "content_block_delta" && j["delta"]["type"] == "text_delta")
      text += j["delta"]["text"].get<std::string>();
  }
  return text;
}

inline std::string gemini_chunk_text(const json& chunk) {
  std::string text;
  for (const auto& part : chunk["candidates"][0]["content"]["parts"])
    if (part.contains("text") && !part.value("thought", false)) text += part["text"].get<std::string>();
  return text;
}

inline std::string gemini_stream_text(const std::vector<SseEvent>& events) {
  std::string text;
  for (const auto& e : events) text += gemini_chunk_text(e.parsed());
  return text;
}

inline std::vector<std::string> event_types(const std::vector<SseEvent>& events) {
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.parsed()["type"].get<std::string>());
  return types;
}

}  // namespace drover::test::gateway
