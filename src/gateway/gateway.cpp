#include "src/gateway/gateway.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "parsers/json_limits.h"
#include "src/gateway/replies.h"
#include "src/gateway/thread_pool.h"

namespace drover::gateway {

using Clock = std::chrono::steady_clock;
using oj = nlohmann::ordered_json;

struct Gateway::Pending {
  oj line;             ///< the log line, filled in as the exchange goes
  std::string secret;  ///< the request's API key: redacted from the line, never written
  Clock::time_point started = Clock::now();
  bool finished = false;  ///< logged already
};

namespace {

constexpr size_t kLoggedTextChars = 200;
constexpr int kListenBacklog = 1024;

/// httplib's Server with access to its listening socket (httplib 0.11 listens with a backlog of
/// 5, which drops connections when a benchmark opens 100+ at once).
class ListeningServer : public httplib::Server {
 public:
  int listening_socket() const { return svr_sock_; }
};

int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

std::string substitute(std::string text, const RequestInfo& info) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  };
  replace_all("{{prompt}}", info.last_user_text);
  replace_all("{{model}}", info.model);
  return text;
}

Answer make_answer(const RequestInfo& info, const ResponseSpec* spec, const std::string& id) {
  Answer a;
  a.id = id;
  a.created = static_cast<int64_t>(std::time(nullptr));
  a.model = info.model;
  if (spec != nullptr && spec->text) {
    a.text = substitute(*spec->text, info);
  } else if (spec == nullptr || spec->tool_calls.empty()) {
    a.text = "MOCK: " + info.last_user_text;
  }
  if (spec != nullptr) {
    if (spec->thinking) a.thinking = *spec->thinking;
    for (const auto& tc : spec->tool_calls) a.tool_calls.push_back({tc.id, tc.name, tc.arguments});
    if (spec->chunks) a.pieces = static_cast<size_t>(*spec->chunks);
    a.truncated = spec->stop_reason && *spec->stop_reason == "max_tokens";
  }
  int64_t output = count_words(a.text) + count_words(a.thinking);
  for (const auto& tc : a.tool_calls) output += 1 + count_words(tc.arguments);
  a.input_tokens = std::max<int64_t>(1, info.input_words);
  a.output_tokens = std::max<int64_t>(1, output);
  if (spec != nullptr) {
    if (spec->usage.input) a.input_tokens = *spec->usage.input;
    if (spec->usage.output) a.output_tokens = *spec->usage.output;
    if (spec->usage.cache_read) a.cache_read_tokens = *spec->usage.cache_read;
  }
  return a;
}

/// What the log says of each attachment: its part, type, MIME, name, decoded bytes or URL.
oj attachments_line(const RequestInfo& info) {
  oj out = oj::array();
  for (const AttachmentInfo& a : info.attachments) {
    oj item;
    item["part"] = a.part;
    item["type"] = a.type;
    item["mime"] = a.mime.empty() ? oj() : oj(a.mime);
    if (!a.name.empty()) item["name"] = a.name;
    if (a.bytes) item["bytes"] = *a.bytes;
    if (!a.url.empty()) item["url"] = a.url;
    if (!a.file_id.empty()) item["fileId"] = a.file_id;
    if (a.invalid) item["invalid"] = true;
    out.push_back(std::move(item));
  }
  return out;
}

Reply json_reply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

/// Splits a raw SSE body into its events (each with its blank-line terminator).
std::vector<std::string> split_sse(const std::string& body) {
  std::vector<std::string> events;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    end = end == std::string::npos ? body.size() : end + 2;
    events.push_back(body.substr(start, end - start));
    start = end;
  }
  return events;
}

Reply build_reply(const RequestInfo& info, const ResponseSpec* spec, const std::string& id,
                  const std::vector<std::string>& models) {
  const std::string request_id = "req_" + id;
  if (spec != nullptr && spec->is_error()) {
    Reply r = json_reply(spec->status, spec->body ? *spec->body
                                                  : error_body(info.provider, spec->status,
                                                               spec->message, spec->error_type,
                                                               request_id));
    if (spec->content_type) r.content_type = *spec->content_type;
    return r;
  }
  if (spec != nullptr && spec->body) {
    Reply r = json_reply(spec->status, *spec->body);
    r.content_type = spec->content_type ? *spec->content_type
                                        : info.stream && info.sse ? "text/event-stream"
                                                                  : "application/json";
    if (r.content_type.rfind("text/event-stream", 0) == 0) {
      r.streaming = true;
      r.events = split_sse(r.body);
      r.body.clear();
    }
    return r;
  }

  Reply r;
  switch (info.api) {
    case Api::health:
      r = json_reply(200, R"({"status":"ok","service":"drover mock gateway"})");
      break;
    case Api::models_list:
      r = json_reply(200, models_list(info.provider, models).dump());
      break;
    case Api::model_get:
      r = json_reply(200, model_object(info.provider, info.model).dump());
      break;
    case Api::count_tokens:
      r = render_count_tokens(info, std::max<int64_t>(1, info.input_words));
      break;
    case Api::chat:
    case Api::responses:
    case Api::messages:
    case Api::generate:
    case Api::stream_generate:
      if (!info.body_is_json) {
        r = json_reply(400, error_body(info.provider, 400,
                                       std::string("mock gateway: the request body is ") +
                                           (info.body_too_deep ? "JSON " + parsers::json_depth_problem()
                                                               : std::string("not JSON")),
                                       std::nullopt, request_id));
      } else {
        r = render_answer(info, make_answer(info, spec, id));
      }
      break;
    case Api::unknown:
      r = json_reply(404, error_body(info.provider, 404,
                                     "mock gateway: no route for " + info.method + " " + info.path,
                                     std::nullopt, request_id));
      break;
  }
  if (spec != nullptr) r.status = spec->status;
  return r;
}

}  // namespace

Gateway::Gateway(GatewayOptions options, Script script, RequestLog& log)
    : options_(std::move(options)), script_(std::move(script)), log_(log) {
  models_ = default_models();
  for (const auto& m : script_.models())
    if (std::find(models_.begin(), models_.end(), m) == models_.end()) models_.push_back(m);

  server_ = std::make_unique<ListeningServer>();
  // httplib sets SO_REUSEPORT, which lets a second gateway share a port that is taken (and the
  // kernel split requests between them). SO_REUSEADDR alone still allows quick restarts.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  const size_t max_threads = options_.max_threads;
  server_->new_task_queue = [max_threads] { return new GrowingThreadPool(8, max_threads); };
  server_->set_tcp_nodelay(true);  // SSE events are small: never wait for Nagle
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(30, 0);
  server_->set_write_timeout(30, 0);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  server_->Options(".*", handler);
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(R"({"error":{"message":"mock gateway: internal error","type":"server_error","code":null}})",
                    "application/json");
  });
}

Gateway::~Gateway() = default;

int Gateway::bind(std::string& error) {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port < 0) {
    error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port);
    return port;
  }
  // Listening again on a listening socket only changes its backlog.
  ::listen(static_cast<ListeningServer*>(server_.get())->listening_socket(), kListenBacklog);
  return port;
}

bool Gateway::run() { return server_->listen_after_bind(); }

void Gateway::stop() {
  stopping_ = true;
  server_->stop();
}

bool Gateway::pause(int64_t ms) const {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (stopping_) return false;
    auto now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
}

void Gateway::finish(Pending& pending) {
  if (pending.finished) return;
  pending.finished = true;
  pending.line["latencyMs"] = elapsed_ms(pending.started);
  log_.write(pending.line, pending.secret);
  --in_flight_;
}

void Gateway::handle(const httplib::Request& req, httplib::Response& res) {
  ++in_flight_;
  auto pending = std::make_shared<Pending>();
  try {
    serve(req, res, pending);
  } catch (const std::exception& e) {
    res = httplib::Response();
    res.status = 500;
    nlohmann::json body = {{"error", {{"message", std::string("mock gateway: internal error: ") + e.what()},
                                      {"type", "server_error"},
                                      {"code", nullptr}}}};
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
    pending->line["status"] = 500;
    pending->line["error"] = e.what();
    finish(*pending);
  }
}

void Gateway::serve(const httplib::Request& req, httplib::Response& res,
                    const std::shared_ptr<Pending>& pending) {
  const uint64_t number = ++counter_;
  char id_buf[32];
  std::snprintf(id_buf, sizeof id_buf, "mock_%06llu", static_cast<unsigned long long>(number));
  const std::string id = id_buf;

  HttpInput input;
  input.method = req.method;
  input.path = req.path;
  input.params.insert(req.params.begin(), req.params.end());
  input.header = [&req](const std::string& name) { return req.get_header_value(name); };
  input.body = req.body;
  const RequestInfo info = analyze_request(input);
  pending->secret = info.api_key;

  const bool record_bodies = options_.verbose || options_.upstream.has_value();
  oj& line = pending->line;
  line["ts"] = iso8601_utc_now();
  line["method"] = req.method;
  line["path"] = info.path;
  line["provider"] = std::string(to_string(info.provider));
  line["api"] = std::string(to_string(info.api));
  line["model"] = info.model.empty() ? oj() : oj(info.model);
  line["stream"] = info.stream;
  line["messages"] = info.message_count;
  line["lastUserText"] = truncate_utf8(info.last_user_text, kLoggedTextChars);
  if (!info.attachments.empty()) line["attachments"] = attachments_line(info);
  if (info.attachments_omitted > 0) line["attachmentsOmitted"] = info.attachments_omitted;
  line["status"] = nullptr;
  line["latencyMs"] = nullptr;
  line["rule"] = nullptr;

  const std::optional<size_t> rule = script_.select(info);
  const ResponseSpec* spec = nullptr;
  if (rule) {
    line["rule"] = *rule;
    if (!script_.rule(*rule).name.empty()) line["ruleName"] = script_.rule(*rule).name;
    spec = &script_.rule(*rule).respond;
  }
  auto record_request = [&] {
    if (!record_bodies) return;
    if (req.body.empty()) {
      line["request"] = nullptr;
      return;
    }
    oj body = parsers::parse_untrusted<oj>(req.body);
    line["request"] = body.is_discarded() ? oj(req.body) : std::move(body);
  };

  if (spec != nullptr && spec->delay_ms > 0) pause(spec->delay_ms);

  if (spec == nullptr && options_.upstream) {
    line["upstream"] = options_.upstream->display;
    record_request();
    forward_request(req, res, *options_.upstream, stopping_, active_upstream_,
                    [this, pending](ForwardOutcome&& o) {
                      oj& l = pending->line;
                      l["status"] = o.status;
                      l["upstreamLatencyMs"] = o.upstream_latency_ms;
                      if (!o.error.empty()) l["upstreamError"] = o.error;
                      if (o.client_closed) l["clientClosed"] = true;
                      l["response"] = o.response_body;
                      if (o.response_truncated) l["responseTruncated"] = true;
                      finish(*pending);
                    });
    return;
  }

  Reply reply = build_reply(info, spec, id, models_);
  record_request();
  res.status = reply.status;
  res.set_header("x-request-id", "req_" + id);
  res.set_header("request-id", "req_" + id);
  if (spec != nullptr) {
    if (spec->retry_after) {
      double secs = *spec->retry_after;
      char buf[32];
      if (secs == static_cast<double>(static_cast<int64_t>(secs)))
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(secs));
      else
        std::snprintf(buf, sizeof buf, "%g", secs);
      res.set_header("Retry-After", buf);
    }
    if (spec->retry_after_ms) res.set_header("retry-after-ms", std::to_string(*spec->retry_after_ms));
    for (const auto& [name, value] : spec->headers) res.set_header(name, value);
  }
  line["status"] = reply.status;

  const std::optional<int64_t> drop = spec != nullptr ? spec->drop_after_chunks : std::nullopt;
  if (!reply.streaming) {
    if (options_.verbose) line["response"] = reply.body;
    if (!drop) {
      res.set_content(reply.body, reply.content_type);
      finish(*pending);
      return;
    }
    // A body cut short: the full Content-Length is announced, half of it is sent.
    auto body = std::make_shared<std::string>(std::move(reply.body));
    const size_t cut = *drop == 0 ? 0 : body->size() / 2;
    res.set_content_provider(
        body->size(), reply.content_type,
        [body, cut](size_t offset, size_t, httplib::DataSink& sink) {
          if (offset < cut) return sink.write(body->data() + offset, cut - offset);
          return false;
        },
        [this, pending](bool) {
          pending->line["dropped"] = true;
          finish(*pending);
        });
    return;
  }

  struct StreamState {
    std::vector<std::string> events;
    size_t next = 0;
    int64_t chunk_delay_ms = 0;
    std::optional<int64_t> drop_after;
    bool dropped = false;
    bool client_closed = false;
    std::string sent;
  };
  auto state = std::make_shared<StreamState>();
  state->events = std::move(reply.events);
  state->chunk_delay_ms = spec != nullptr ? spec->chunk_delay_ms : 0;
  state->drop_after = drop;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      reply.content_type,
      [this, state](size_t, httplib::DataSink& sink) {
        if (state->drop_after && static_cast<int64_t>(state->next) >= *state->drop_after &&
            state->next < state->events.size()) {
          state->dropped = true;
          return false;  // close the connection mid-stream
        }
        if (state->next >= state->events.size()) {
          sink.done();
          return true;
        }
        if (state->next > 0 && state->chunk_delay_ms > 0 && !pause(state->chunk_delay_ms))
          return false;  // shutting down
        const std::string& event = state->events[state->next];
        if (!sink.write(event.data(), event.size())) {
          state->client_closed = true;
          return false;
        }
        if (options_.verbose) state->sent += event;
        ++state->next;
        return true;
      },
      [this, state, pending](bool) {
        oj& l = pending->line;
        l["chunks"] = state->next;
        if (state->dropped) l["dropped"] = true;
        if (state->client_closed) l["clientClosed"] = true;
        if (stopping_ && !state->dropped && state->next < state->events.size())
          l["interrupted"] = true;
        if (options_.verbose) l["response"] = state->sent;
        finish(*pending);
      });
}

}  // namespace drover::gateway
