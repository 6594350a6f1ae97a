// --upstream: the gateway as a transparent recorder in front of a real endpoint. The request goes
// out as it came in (method, path, query, body, auth headers), the response streams back as it
// arrives, and the caller gets what happened for its log. Credentials are forwarded, never
// reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <httplib.h>

namespace drover::gateway {

struct UpstreamTarget {
  std::string scheme_host_port;  ///< "https://api.openai.com:443", as httplib::Client takes it
  std::string path_prefix;       ///< "" or e.g. "/proxy" (prepended to every forwarded path)
  std::string display;           ///< the URL as given, for the log
};

/// Parses "http[s]://host[:port][/prefix]"; nullopt (with `error`) otherwise.
std::optional<UpstreamTarget> parse_upstream_url(const std::string& url, std::string& error);

struct ForwardOutcome {
  int status = 0;              ///< the upstream's status; 502 when it could not be reached
  std::string error;           ///< transport error, "" when none
  int64_t upstream_latency_ms = -1;  ///< until the upstream's response headers
  std::string response_body;   ///< as relayed (capped; see `response_truncated`)
  bool response_truncated = false;
  bool client_closed = false;  ///< our client went away mid-response
};

/// Forwards `req` to `target` and fills `res` so that httplib streams the upstream's answer back.
/// `done` runs once, when the exchange is over (after the last byte, or on failure). `stopping`
/// ends waits early when the gateway shuts down. `active` counts the background threads.
void forward_request(const httplib::Request& req, httplib::Response& res,
                     const UpstreamTarget& target, const std::atomic<bool>& stopping,
                     std::atomic<int>& active, std::function<void(ForwardOutcome&&)> done);

}  // namespace drover::gateway
