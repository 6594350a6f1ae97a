// The mock gateway's HTTP server: routes every request (any method, any path) to the script, the
// default mock answer, or the upstream, and logs each one as a JSON line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include "src/gateway/request_log.h"
#include "src/gateway/script.h"
#include "src/gateway/upstream.h"

namespace drover::gateway {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  int port = 8046;  ///< 0 = any free port
  std::optional<UpstreamTarget> upstream;
  bool verbose = false;
  size_t max_threads = 1024;
};

class Gateway {
 public:
  Gateway(GatewayOptions options, Script script, RequestLog& log);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Binds the listening socket. Returns the port, or -1 with `error` set.
  int bind(std::string& error);
  /// Serves until stop(). False when the listener failed.
  bool run();
  /// Thread-safe and idempotent: stops accepting, and makes running streams end early.
  void stop();
  bool stopping() const { return stopping_; }
  /// Requests being served (not yet logged).
  int in_flight() const { return in_flight_; }
  /// Upstream threads still running (they outlive their request only when the client left).
  int active_upstream_threads() const { return active_upstream_; }

 private:
  struct Pending;
  void handle(const httplib::Request& req, httplib::Response& res);
  void serve(const httplib::Request& req, httplib::Response& res,
             const std::shared_ptr<Pending>& pending);
  /// Sleeps `ms`; returns false early when the gateway stops.
  bool pause(int64_t ms) const;
  void finish(Pending& pending);

  GatewayOptions options_;
  Script script_;
  RequestLog& log_;
  std::vector<std::string> models_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_upstream_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> counter_{0};
};

}  // namespace drover::gateway
