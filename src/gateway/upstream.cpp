#include "src/gateway/upstream.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace drover::gateway {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRecordedBytes = 8u << 20;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Headers that describe one hop (or that httplib sets itself), never forwarded either way.
bool is_hop_header(const std::string& name) {
  static const char* const kHop[] = {
      "host", "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
      "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "content-length",
      "accept-encoding", "content-encoding",
      // httplib's server adds these to every request it receives.
      "remote_addr", "remote_port", "local_addr", "local_port"};
  std::string n = lower(name);
  for (const char* h : kHop)
    if (n == h) return true;
  return false;
}

/// Shared by the handler thread, the upstream thread and httplib's content provider.
struct Exchange {
  std::mutex mutex;
  std::condition_variable cond;
  bool have_headers = false;
  bool finished = false;
  bool cancel = false;
  int status = 0;
  httplib::Headers headers;
  std::deque<std::string> chunks;
  std::string error;  // transport error once finished
  Clock::time_point started = Clock::now();
  Clock::time_point headers_at;
};

}  // namespace

std::optional<UpstreamTarget> parse_upstream_url(const std::string& url, std::string& error) {
  UpstreamTarget t;
  t.display = url;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    error = "--upstream: expected http://host[:port][/prefix] or https://…, got " + url;
    return std::nullopt;
  }
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    error = "--upstream: the scheme must be http or https";
    return std::nullopt;
  }
  std::string rest = url.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos) {
    error = "--upstream: credentials in the URL are not supported (send them as headers)";
    return std::nullopt;
  }
  if (authority.empty()) {
    error = "--upstream: no host in " + url;
    return std::nullopt;
  }
  t.path_prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!t.path_prefix.empty() && t.path_prefix.back() == '/') t.path_prefix.pop_back();
  t.scheme_host_port = scheme + "://" + authority;
  return t;
}

void forward_request(const httplib::Request& req, httplib::Response& res,
                     const UpstreamTarget& target, const std::atomic<bool>& stopping,
                     std::atomic<int>& active, std::function<void(ForwardOutcome&&)> done) {
  auto ex = std::make_shared<Exchange>();

  httplib::Request out;
  out.method = req.method;
  out.path = target.path_prefix + req.target;  // raw path and query, as received
  out.body = req.body;
  for (const auto& [name, value] : req.headers)
    if (!is_hop_header(name)) out.headers.emplace(name, value);

  out.response_handler = [ex](const httplib::Response& up) {
    std::lock_guard<std::mutex> lock(ex->mutex);
    ex->status = up.status;
    ex->headers = up.headers;
    ex->have_headers = true;
    ex->headers_at = Clock::now();
    ex->cond.notify_all();
    return !ex->cancel;
  };
  out.content_receiver = [ex](const char* data, size_t n, uint64_t, uint64_t) {
    std::lock_guard<std::mutex> lock(ex->mutex);
    if (ex->cancel) return false;
    ex->chunks.emplace_back(data, n);
    ex->cond.notify_all();
    return true;
  };

  ++active;
  std::thread([ex, out = std::move(out), base = target.scheme_host_port, &active]() mutable {
    {
      httplib::Client client(base);
      client.set_url_encode(false);
      client.set_follow_location(false);
      client.set_connection_timeout(10, 0);
      client.set_read_timeout(600, 0);
      client.set_write_timeout(60, 0);
      httplib::Result result = client.send(out);
      std::lock_guard<std::mutex> lock(ex->mutex);
      if (result && !ex->have_headers) {
        // No body callbacks (204, HEAD): take the response as a whole.
        ex->status = result->status;
        ex->headers = result->headers;
        ex->have_headers = true;
        ex->headers_at = Clock::now();
        if (!result->body.empty()) ex->chunks.push_back(result->body);
      }
      if (!result) ex->error = httplib::to_string(result.error());
      ex->finished = true;
      ex->cond.notify_all();
    }
    --active;
  }).detach();

  // Wait for the upstream's status line and headers.
  {
    std::unique_lock<std::mutex> lock(ex->mutex);
    while (!ex->have_headers && !ex->finished) {
      ex->cond.wait_for(lock, std::chrono::milliseconds(100));
      if (stopping) {
        ex->cancel = true;
        break;
      }
    }
    if (!ex->have_headers) {
      ex->cancel = true;
      ForwardOutcome outcome;
      outcome.status = 502;
      outcome.error = ex->error.empty() ? "gateway stopping" : ex->error;
      lock.unlock();
      res.status = 502;
      nlohmann::json body = {{"error",
                              {{"message", "mock gateway: upstream request failed: " + outcome.error},
                               {"type", "upstream_error"},
                               {"code", nullptr}}}};
      res.set_content(body.dump(), "application/json");
      outcome.response_body = res.body;
      done(std::move(outcome));
      return;
    }
  }

  res.status = ex->status;
  std::string content_type = "application/octet-stream";
  for (const auto& [name, value] : ex->headers) {
    if (lower(name) == "content-type") {
      content_type = value;
      continue;
    }
    if (!is_hop_header(name)) res.headers.emplace(name, value);
  }

  struct Relay {
    ForwardOutcome outcome;
    std::function<void(ForwardOutcome&&)> done;
  };
  auto relay = std::make_shared<Relay>();
  relay->outcome.status = ex->status;
  relay->outcome.upstream_latency_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ex->headers_at - ex->started).count();
  relay->done = std::move(done);

  res.set_chunked_content_provider(
      content_type,
      [ex, relay, &stopping](size_t, httplib::DataSink& sink) {
        std::unique_lock<std::mutex> lock(ex->mutex);
        while (ex->chunks.empty() && !ex->finished) {
          ex->cond.wait_for(lock, std::chrono::milliseconds(100));
          if (stopping) {
            ex->cancel = true;
            return false;
          }
        }
        if (!ex->chunks.empty()) {
          std::string chunk = std::move(ex->chunks.front());
          ex->chunks.pop_front();
          lock.unlock();
          ForwardOutcome& o = relay->outcome;
          if (o.response_body.size() < kMaxRecordedBytes) {
            size_t room = kMaxRecordedBytes - o.response_body.size();
            o.response_body.append(chunk, 0, std::min(room, chunk.size()));
            if (chunk.size() > room) o.response_truncated = true;
          } else {
            o.response_truncated = true;
          }
          if (chunk.empty()) return true;
          if (!sink.write(chunk.data(), chunk.size())) {
            o.client_closed = true;
            std::lock_guard<std::mutex> relock(ex->mutex);
            ex->cancel = true;
            return false;
          }
          return true;
        }
        // Finished, nothing queued: end the response, or cut it like the upstream did.
        relay->outcome.error = ex->error;
        if (!ex->error.empty()) return false;
        lock.unlock();
        sink.done();
        return true;
      },
      [ex, relay](bool) {
        {
          std::lock_guard<std::mutex> lock(ex->mutex);
          ex->cancel = true;
          if (relay->outcome.error.empty()) relay->outcome.error = ex->error;
        }
        if (relay->done) relay->done(std::move(relay->outcome));
      });
}

}  // namespace drover::gateway
