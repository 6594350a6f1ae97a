// HTTP on the one loop: libcurl's multi interface driven by libuv (curl_multi_socket_action with
// a uv_poll per socket and one uv_timer). No thread per request; many requests in flight.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drover/result.h"
#include "src/loop/loop.h"

namespace drover::api {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t connect_timeout_ms = 10000;
  std::optional<int64_t> total_timeout_ms;  ///< the whole exchange
  std::optional<int64_t> idle_timeout_ms;   ///< no response byte for this long
};

struct HttpOutcome {
  int status = 0;  ///< 0 when no response arrived
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  /// Set when the exchange failed below HTTP (refused, reset, DNS, TLS, timeout).
  std::optional<std::string> transport_error;
  bool timed_out = false;      ///< total or idle timeout (ours), or curl's connect timeout
  bool total_deadline = false; ///< specifically the total deadline
  bool cancelled = false;
  /// Set when on_headers or on_body threw (the message names the exception): the transfer was
  /// ended there, and its run must fail with harness_error.
  std::optional<std::string> callback_error;
  double elapsed_ms = 0;
  std::optional<double> first_byte_ms;

  std::optional<std::string> header(std::string_view lower_name) const;
};

struct HttpCallbacks {
  /// Once the final status line and headers are in (not for 1xx).
  std::function<void(int status, const HttpOutcome& so_far)> on_headers;
  /// Every body chunk, in order.
  std::function<void(std::string_view chunk)> on_body;
  /// Exactly once, last.
  std::function<void(HttpOutcome&&)> on_done;
};

/// Lives on a Loop as a LoopService (one per loop). libcurl is loaded on first use, so commands
/// that never make an HTTP call pay nothing for it at start-up.
class HttpClient : public LoopService {
 public:
  /// The loop's client, created on first use. nullptr (and `error`) when libcurl cannot be
  /// loaded.
  static HttpClient* for_loop(Loop& loop, Error& error);

  ~HttpClient() override;

  /// Starts a request; returns its id (for cancel). 0 and `error` when it could not start.
  uint64_t start(HttpRequest request, HttpCallbacks callbacks, Error& error);
  /// Ends a request now; its on_done runs with cancelled = true. Unknown ids are ignored.
  void cancel(uint64_t id);
  void stop_all(StopCause cause) override;
  size_t in_flight() const noexcept;

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace drover::api
