#include "src/rpc/jsonrpc.h"

#include <climits>
#include <cstring>
#include <utility>

#include "parsers/json_limits.h"

namespace drover::rpc {
namespace {

using nlohmann::json;

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

/// An integer that fits int64 (stored as int64 whatever the parser chose) or a string.
std::optional<json> as_id(const json& value) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return json(value.get<int64_t>());
  }
  if (value.is_number_integer() || value.is_string()) return value;
  return std::nullopt;
}

std::optional<RpcError> as_error(json& value) {
  if (!value.is_object()) return std::nullopt;
  const auto code = value.find("code");
  const auto message = value.find("message");
  if (code == value.end() || !code->is_number_integer() || message == value.end() ||
      !message->is_string())
    return std::nullopt;
  const bool fits_int =
      code->is_number_unsigned()
          ? code->get<uint64_t>() <= static_cast<uint64_t>(INT_MAX)
          : (code->get<int64_t>() >= INT_MIN && code->get<int64_t>() <= INT_MAX);
  if (!fits_int) return std::nullopt;
  RpcError error{code->get<int>(), message->get<std::string>(), nullptr};
  if (const auto data = value.find("data"); data != value.end()) error.data = std::move(*data);
  return error;
}

std::string dump(const json& value) {
  // Strings we pass on may hold bytes that are not UTF-8 (file contents, tool output): replace
  // them instead of throwing.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// ---- decode -------------------------------------------------------------------------------------

Message decode(std::string_view line) {
  Message m;
  parsers::JsonLimit limit = parsers::JsonLimit::none;
  json doc = parsers::parse_untrusted(line, &limit);
  if (limit == parsers::JsonLimit::too_deep) {
    // Refused, but its envelope (id, method) is read from the shallow part: the request a hostile
    // answer names is still settled instead of waiting forever.
    Message shallow = decode(parsers::prune_json_depth(line));
    m.id = std::move(shallow.id);
    m.looks_like = shallow.looks_like;
    m.problem = "the message is " + parsers::json_depth_problem();
    return m;
  }
  const auto fail = [&m](std::string problem) {
    m.kind = Message::Kind::invalid;
    m.problem = std::move(problem);
    return std::move(m);
  };
  if (doc.is_discarded()) return fail("not JSON");
  if (!doc.is_object()) return fail("not a JSON object");

  const auto version = doc.find("jsonrpc");
  const auto method = doc.find("method");
  const auto id = doc.find("id");
  const auto params = doc.find("params");
  const auto result = doc.find("result");
  const auto error = doc.find("error");
  const bool has_id = id != doc.end();
  const bool has_result = result != doc.end();
  const bool has_error = error != doc.end();

  using Kind = Message::Kind;
  if (method != doc.end())
    m.looks_like = has_id ? Kind::request : Kind::notification;
  else if (has_id || has_result || has_error)
    m.looks_like = Kind::response;
  // Kept even when something else is wrong: an invalid request is answered with its id (any
  // number can be echoed back), an invalid response still settles the request it names.
  const std::optional<json> valid_id = has_id ? as_id(*id) : std::nullopt;
  if (valid_id)
    m.id = *valid_id;
  else if (m.looks_like == Kind::request && id->is_number())
    m.id = *id;

  if (version == doc.end() || *version != "2.0") return fail(R"("jsonrpc" is not "2.0")");
  if (m.looks_like == Kind::invalid) return fail("no method, id, result or error");

  if (method != doc.end()) {
    if (!method->is_string()) return fail("method is not a string");
    if (has_id && !valid_id) return fail("id is neither an integer nor a string");
    if (params != doc.end() && !params->is_null() && !params->is_object() && !params->is_array())
      return fail("params is neither an object nor an array");
    m.kind = m.looks_like;
    m.method = method->get<std::string>();
    if (params != doc.end()) m.params = std::move(*params);
    return m;
  }

  if (!has_id) return fail("response without an id");
  if (!valid_id)
    return fail(id->is_null() ? "response with a null id"
                              : "id is neither an integer nor a string");
  if (has_result && has_error) return fail("response with both result and error");
  if (!has_result && !has_error) return fail("response with neither result nor error");
  if (has_error) {
    m.error = as_error(*error);
    if (!m.error) return fail("error is not an object with an integer code and a string message");
  } else {
    m.result = std::move(*result);
  }
  m.kind = Kind::response;
  return m;
}

// ---- Connection ---------------------------------------------------------------------------------

Connection::Connection(Writer writer, Handlers handlers, std::size_t max_line_bytes)
    : writer_(std::move(writer)), handlers_(std::move(handlers)), splitter_(max_line_bytes) {}

int64_t Connection::request(const std::string& method, json params, ResponseHandler on_response) {
  const int64_t id = next_id_++;
  if (closed_) {
    if (on_response)
      on_response(nullptr, RpcError{code::connection_closed, close_reason_, nullptr});
    return id;
  }
  json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  // Registered before the write: a writer that delivers synchronously may bring the answer back
  // before it returns.
  pending_.emplace(id, std::move(on_response));
  if (!send(message))
    fail_pending(id, RpcError{code::connection_closed,
                              closed_ ? close_reason_ : "could not write the request", nullptr});
  return id;
}

bool Connection::notify(const std::string& method, json params) {
  json message = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  return send(message);
}

bool Connection::respond(const json& id, json result) {
  json message = {{"jsonrpc", "2.0"}, {"id", id}};
  message["result"] = std::move(result);
  return send(message);
}

bool Connection::respond_error(const json& id, const RpcError& error) {
  json body = {{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) body["data"] = error.data;
  json message = {{"jsonrpc", "2.0"}, {"id", id}};
  message["error"] = std::move(body);
  return send(message);
}

void Connection::feed(std::string_view bytes) {
  if (closed_) return;
  splitter_.feed(bytes, [this](std::string_view line, bool too_long) { enqueue(line, too_long); });
  drain();
}

void Connection::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = reason;
  if (draining_) {
    incoming_.clear();
    splitter_.reset();
  } else {
    splitter_.finish([this](std::string_view line, bool too_long) { enqueue(line, too_long); });
    drain();
  }
  // Handlers may call request() (which now fails at once): iterate over a map nobody else sees.
  std::map<int64_t, ResponseHandler> pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, handler] : pending)
    if (handler) handler(nullptr, RpcError{code::connection_closed, reason, nullptr});
}

bool Connection::send(const json& message) {
  if (closed_) return false;
  std::string line = dump(message);
  if (handlers_.on_message) {
    handlers_.on_message(true, line);
    if (closed_) return false;
  }
  line.push_back('\n');
  return writer_(line);
}

void Connection::enqueue(std::string_view line, bool too_long) {
  incoming_.push_back(Line{std::string(line), too_long});
}

void Connection::drain() {
  // A feed() from inside a handler only queues; the outermost drain() dispatches in order.
  if (draining_) return;
  draining_ = true;
  while (!incoming_.empty()) {
    Line line = std::move(incoming_.front());
    incoming_.pop_front();
    try {
      dispatch(line);
    } catch (...) {
      // Handlers must not throw; if one does anyway (bad_alloc), the next lines still dispatch.
      draining_ = false;
      throw;
    }
  }
  draining_ = false;
}

void Connection::dispatch(Line& line) {
  if (line.too_long) {
    if (handlers_.on_invalid)
      handlers_.on_invalid(
          line.text,
          "line longer than " + std::to_string(splitter_.max_line_bytes()) + " bytes; skipped");
    return;
  }
  if (is_blank(line.text)) return;
  if (handlers_.on_message) handlers_.on_message(false, line.text);

  Message m = decode(line.text);
  switch (m.kind) {
    case Message::Kind::request:
      if (!handlers_.on_request || !handlers_.on_request(m.id, m.method, m.params))
        respond_error(m.id,
                      RpcError{code::method_not_found, "method not found: " + m.method, nullptr});
      break;
    case Message::Kind::notification:
      if (handlers_.on_notification) handlers_.on_notification(m.method, m.params);
      break;
    case Message::Kind::response: {
      const auto it =
          m.id.is_number_integer() ? pending_.find(m.id.get<int64_t>()) : pending_.end();
      if (it == pending_.end()) {
        if (m.id.is_number_integer() && abandoned_.erase(m.id.get<int64_t>()) > 0) break;
        if (handlers_.on_invalid)
          handlers_.on_invalid(line.text, "response to unknown id " + dump(m.id));
        break;
      }
      // Out of the map before it runs: the handler may send requests or close().
      ResponseHandler handler = std::move(it->second);
      pending_.erase(it);
      if (handler) handler(std::move(m.result), std::move(m.error));
      break;
    }
    case Message::Kind::invalid:
      if (m.looks_like == Message::Kind::response && m.id.is_number_integer() &&
          abandoned_.erase(m.id.get<int64_t>()) > 0)
        break;  // a late answer to a request given up on, malformed or not
      if (handlers_.on_invalid) handlers_.on_invalid(line.text, m.problem);
      if (m.looks_like == Message::Kind::request && !m.id.is_null())
        respond_error(m.id,
                      RpcError{code::invalid_request, "invalid request: " + m.problem, nullptr});
      else if (m.looks_like == Message::Kind::response && m.id.is_number_integer())
        fail_pending(m.id.get<int64_t>(),
                     RpcError{code::internal_error, "invalid response: " + m.problem, nullptr});
      break;
  }
}

bool Connection::abandon(int64_t id) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  pending_.erase(it);
  abandoned_.insert(id);
  // Ids only grow: the oldest abandoned request is the one least likely to be answered still.
  while (abandoned_.size() > kMaxAbandoned) abandoned_.erase(abandoned_.begin());
  return true;
}

std::vector<int64_t> Connection::pending_ids() const {
  std::vector<int64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& [id, handler] : pending_) ids.push_back(id);
  return ids;
}

void Connection::fail_pending(int64_t id, const RpcError& error) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;
  ResponseHandler handler = std::move(it->second);
  pending_.erase(it);
  if (handler) handler(nullptr, error);
}

}  // namespace drover::rpc
