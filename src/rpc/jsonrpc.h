// JSON-RPC 2.0 over newline-delimited JSON, independent of any transport: bytes in through
// feed(), lines out through a writer callback. No I/O, no loop, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parsers/line_splitter.h"

namespace drover::rpc {

/// The error object of a response.
struct RpcError {
  int code = 0;
  std::string message;
  nlohmann::json data;  ///< null when absent
};

namespace code {
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int internal_error = -32603;
constexpr int request_cancelled = -32800;
constexpr int auth_required = -32000;
constexpr int resource_not_found = -32002;
/// Ours, never on the wire: the stream ended (or could not be written) before the answer came.
constexpr int connection_closed = -32099;
}  // namespace code

/// NDJSON framing (shared with the print-mode parsers).
using LineSplitter = parsers::LineSplitter;

/// One decoded line.
struct Message {
  enum class Kind { request, notification, response, invalid };
  Kind kind = Kind::invalid;
  /// Requests and responses: an int64 or a string (an integer id is always stored as int64).
  /// Invalid lines: an id that can still be used (see looks_like), else null.
  nlohmann::json id;
  std::string method;
  nlohmann::json params;  ///< null when absent (or null)
  nlohmann::json result;  ///< responses
  std::optional<RpcError> error;
  std::string problem;  ///< invalid: why (not JSON, not an object, missing jsonrpc/method/id ...)
  /// What the line seemed meant to be, from its members: request (method and id), notification
  /// (method), response (id, result or error), or invalid (none of these, or not an object at
  /// all). The same as kind for valid messages. For an invalid one it tells what `id` is good for:
  /// a request's id (any number or string) to echo in a -32600 answer, a response's id (an int64
  /// or a string) to settle the request it names.
  Kind looks_like = Kind::invalid;
};

/// Decodes one line (without its newline). Never throws: anything malformed is Kind::invalid.
/// Strict about JSON-RPC 2.0: "jsonrpc" must be "2.0", an id must be an integer that fits int64
/// or a string (1.0 is not an id), params must be an object or an array (or null, taken as
/// absent), a response has exactly one of result and error, and an error has an integer code
/// and a string message.
Message decode(std::string_view line);

/// One JSON-RPC 2.0 peer: sends requests, notifications and responses through `writer`, decodes
/// what feed() receives, matches responses to pending requests and dispatches the rest to the
/// handlers. Single-threaded.
///
/// Handlers may call request(), notify(), respond(), respond_error(), feed() and close()
/// re-entrantly. Lines are always dispatched in the order received: a feed() from inside a
/// handler only queues its lines behind those already waiting. Handlers must not throw, and must
/// not destroy the Connection (it is still in use when they return).
class Connection {
 public:
  /// Gets one compact JSON text + "\n" (never a raw newline inside). Returns false when the
  /// stream is closed.
  using Writer = std::function<bool(std::string_view line)>;
  /// The outcome of a request: result (error empty), or error (result null).
  using ResponseHandler =
      std::function<void(nlohmann::json result, std::optional<RpcError> error)>;

  struct Handlers {
    /// An incoming request. Return false when the method is unknown: the connection answers
    /// -32601 itself. Return true and answer later (now or asynchronously) with
    /// respond()/respond_error(). Unset: every request gets -32601.
    std::function<bool(const nlohmann::json& id, const std::string& method,
                       nlohmann::json& params)>
        on_request;
    std::function<void(const std::string& method, nlohmann::json& params)> on_notification;
    /// A line that is not a usable JSON-RPC message (banner, garbage, bad UTF-8, too long, a
    /// response nobody waits for): a warning, never fatal. An invalid request with an id that
    /// can be echoed is also answered -32600; an invalid response whose id is pending fails that
    /// request with internal_error.
    std::function<void(std::string_view line, const std::string& problem)> on_invalid;
    /// Every line both ways, for transcripts, without its "\n": outgoing=true for what we write
    /// (given just before the write, so that it precedes any answer), false for every non-blank
    /// line received (valid or not; over-long lines only reach on_invalid).
    std::function<void(bool outgoing, std::string_view line)> on_message;
  };

  Connection(Writer writer, Handlers handlers,
             std::size_t max_line_bytes = LineSplitter::kDefaultMaxLineBytes);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends a request; ids are int64 counting from 0. Returns the id. The handler (which may be
  /// empty) runs once: with the answer, or with connection_closed at close(). When the
  /// connection is already closed or the writer fails, it runs before request() returns; a
  /// failed write does not close the connection. Destroying the Connection without close()
  /// drops pending handlers without calling them.
  int64_t request(const std::string& method, nlohmann::json params, ResponseHandler on_response);
  /// params null: the "params" member is left out. False when closed or the write failed.
  bool notify(const std::string& method, nlohmann::json params);
  /// Answers an incoming request. False when closed or the write failed.
  bool respond(const nlohmann::json& id, nlohmann::json result);
  bool respond_error(const nlohmann::json& id, const RpcError& error);

  /// Incoming bytes from the peer's stdout. Ignored once closed.
  void feed(std::string_view bytes);
  /// The stream ended (EOF / process exit): decodes a final unterminated line, then fails every
  /// pending request (in id order) with connection_closed and `reason`. From then on nothing is
  /// written and request() fails at once. Idempotent. Called from inside a handler while lines
  /// are being dispatched, it drops the lines still queued and the partial line (they are not
  /// known to be complete) instead of decoding them.
  void close(const std::string& reason);

  /// Gives up on a pending request (it was cancelled, e.g. with `$/cancel_request`): its handler
  /// is dropped without being called, and an answer that still comes for it later is dropped
  /// without reaching on_invalid. The last kMaxAbandoned ids abandoned are remembered. False
  /// when `id` is not pending.
  bool abandon(int64_t id);
  /// The ids of the requests still waiting for an answer, in id order.
  std::vector<int64_t> pending_ids() const;
  static constexpr std::size_t kMaxAbandoned = 1024;

  std::size_t pending_count() const noexcept { return pending_.size(); }
  bool closed() const noexcept { return closed_; }

 private:
  struct Line {
    std::string text;
    bool too_long = false;
  };

  bool send(const nlohmann::json& message);
  void enqueue(std::string_view line, bool too_long);
  void drain();
  void dispatch(Line& line);
  void fail_pending(int64_t id, const RpcError& error);

  Writer writer_;
  Handlers handlers_;
  LineSplitter splitter_;
  std::deque<Line> incoming_;  // split but not yet dispatched
  std::map<int64_t, ResponseHandler> pending_;
  std::set<int64_t> abandoned_;  // answers to these are dropped without a word
  int64_t next_id_ = 0;
  bool draining_ = false;
  bool closed_ = false;
  std::string close_reason_;
};

}  // namespace drover::rpc
