#include "src/api/api_transport.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

#include "parsers/sse_parser.h"
#include "parsers/utf8.h"
#include "src/api/http_client.h"
#include "src/api/wire.h"
#include "src/config/redact.h"
#include "src/loop/loop.h"
#include "src/transport/attachments.h"
#include "src/transport/run_control.h"

namespace drover {
namespace {

constexpr size_t kMaxErrorBody = 1 << 20;  // an error body is kept for its message, not streamed

// The route's secrets plus the key in use (an echo of either never reaches the Result).
Secrets call_secrets(const Route& route, const std::string& api_key) {
  Secrets secrets = route_secrets(route);
  secrets.add(api_key);
  return secrets;
}

// The HTTP request for a built wire request: the key's auth header, the route's extra headers and
// its connect timeout added.
api::HttpRequest http_request(api::HttpRequestSpec spec, api::WireFormat format,
                              const std::string& api_key, const ApiSpec& api_spec) {
  api::HttpRequest req;
  req.method = std::move(spec.method);
  req.url = std::move(spec.url);
  req.headers = std::move(spec.headers);
  req.body = std::move(spec.body);
  if (!api_key.empty()) req.headers.push_back(api::auth_header(format, api_key));
  for (const auto& [name, value] : api_spec.headers) req.headers.emplace_back(name, value);
  req.connect_timeout_ms = api_spec.connect_timeout_ms;
  return req;
}

const ModelSpec* find_model(const Route& route) {
  for (const auto& m : route.account_spec->models)
    if (m.id == route.model) return &m;
  return nullptr;
}

// The directory relative attachment paths resolve against: the request's cwd, else ours.
std::string api_workspace(const RunRequest& request) {
  std::error_code ec;
  std::string dir = request.cwd.value_or("");
  if (dir.empty()) dir = std::filesystem::current_path(ec).string();
  return std::filesystem::absolute(dir, ec).string();
}

bool has_category(const std::vector<AttachmentCategory>& list, AttachmentCategory c) {
  return std::find(list.begin(), list.end(), c) != list.end();
}

// What the wire format can carry, narrowed to what the route's fileInput.categories names.
std::vector<AttachmentCategory> narrowed(std::vector<AttachmentCategory> carried,
                                         const std::vector<AttachmentCategory>& configured) {
  if (configured.empty()) return carried;
  carried.erase(std::remove_if(carried.begin(), carried.end(),
                               [&](AttachmentCategory c) { return !has_category(configured, c); }),
                carried.end());
  return carried;
}

// Images and PDFs need a model that reads them (PDFs are read as page images by all three
// providers): a model saying supportsImages: false never gets them, and a custom endpoint only
// when its model says supportsImages: true. The reason when not; nullopt when it does.
std::optional<std::string> no_vision_reason(const Route& route, api::WireFormat format) {
  const ModelSpec* model = find_model(route);
  if (model != nullptr && model->supports_images == false)
    return "model " + route.model + " says \"supportsImages\": false";
  if (model != nullptr && model->supports_images == true) return std::nullopt;
  if (api::is_default_endpoint(format, route.account_spec->transport.api().base_url))
    return std::nullopt;
  return "a custom baseUrl is text-only unless the model says \"supportsImages\": true";
}

// One HTTP exchange of an API call; a second one may follow (response format fallback).
struct ApiCallRun : std::enable_shared_from_this<ApiCallRun> {
  Loop* loop = nullptr;
  Route route;
  RunRequest request;
  std::string api_key;
  Secrets secrets;  // the route's and the key in use
  EventHandler on_event;
  OutcomeHandler on_done;
  api::ApiCall call;
  TransportOutcome outcome;
  std::shared_ptr<StageControl> control = std::make_shared<StageControl>();
  std::string streamed_text;  // what the deltas carried: a paused stream's answer so far
  std::string streamed_thinking;
  // The request's attachments, staged (kept until the outcome is delivered), and how each went.
  std::optional<StagedAttachments> staged;
  std::vector<std::string> deliveries;
  bool sent = false;  // a request went out: the attachments were delivered

  // Per exchange
  int status = 0;
  std::string error_body;
  parsers::SseParser sse;
  std::unique_ptr<api::StreamDecoder> decoder;
  std::string plain_body;
  bool streaming_body = false;

  /// Turns the staged attachments into the call's (moving the bytes), refusing what the model
  /// cannot read or the provider cannot carry inline.
  std::optional<Error> attach(StagedAttachments&& staged_set) {
    staged = std::move(staged_set);
    const std::optional<std::string> no_vision = no_vision_reason(route, call.format);
    const uint64_t inline_max = api::max_inline_attachment_bytes(call.format);
    for (StagedAttachment& file : staged->files) {
      const std::string what = "attachment \"" + file.name + "\"";
      const bool visual = file.category == AttachmentCategory::image ||
                          file.category == AttachmentCategory::document;
      if (visual && no_vision)
        return Error::make(ErrorCode::unsupported_capability,
                           "route " + route.id + " does not take " +
                               std::string(to_string(file.category)) + " attachments (" + what +
                               " is " + file.mime + "): " + *no_vision);
      api::ApiAttachment a;
      a.name = file.name;
      a.category = file.category;
      a.mime = file.mime;
      a.url = file.url;
      if (!file.url) {
        if (!file.content)
          return Error::make(ErrorCode::validation_error,
                             what + " is " + std::to_string(file.bytes) + " bytes, over the " +
                                 std::to_string(inline_max) + " bytes " +
                                 std::string(api::to_string(call.format)) + " can carry inline");
        a.content = std::move(*file.content);
        file.content.reset();
      }
      deliveries.emplace_back(api::attachment_delivery(a));
      call.attachments.push_back(std::move(a));
    }
    return api::check_attachments(call);
  }

  void start() {
    Error error;
    api::HttpClient* http = api::HttpClient::for_loop(*loop, error);
    if (http == nullptr) return fail(std::move(error));
    api::HttpRequestSpec spec = api::build_request(call);
    if (!call.attachments.empty()) {
      if (auto over = api::check_request_size(call.format, spec.body.size()))
        return fail(std::move(*over));
    }
    const ApiSpec& api_spec = route.account_spec->transport.api();
    api::HttpRequest req = http_request(std::move(spec), call.format, api_key, api_spec);
    // A request's 0 means no limit (RunRequest::timeout_ms).
    auto pick = [](const std::optional<int64_t>& asked, const std::optional<int64_t>& route) {
      return !asked ? route : *asked > 0 ? asked : std::nullopt;
    };
    req.total_timeout_ms = pick(request.timeout_ms, api_spec.total_timeout_ms);
    req.idle_timeout_ms = pick(request.idle_timeout_ms, api_spec.idle_timeout_ms);

    status = 0;
    error_body.clear();
    plain_body.clear();
    sse = parsers::SseParser();
    decoder = api::make_stream_decoder(call.format);
    streaming_body = false;

    auto self = shared_from_this();
    api::HttpCallbacks callbacks;
    callbacks.on_headers = [self](int code, const api::HttpOutcome&) {
      self->status = code;
      self->streaming_body = code >= 200 && code < 300 && self->call.parameters.stream;
    };
    callbacks.on_body = [self](std::string_view chunk) { self->body(chunk); };
    callbacks.on_done = [self](api::HttpOutcome&& out) { self->done(std::move(out)); };
    const uint64_t id = http->start(std::move(req), std::move(callbacks), error);
    if (id == 0) return fail(std::move(error));
    sent = true;
    // A cancel or a pause aborts this transfer; done() sees it cancelled.
    control->set_stage([http, id](StageControl::Stop) { http->cancel(id); });
  }

  void body(std::string_view chunk) {
    if (status < 200 || status >= 300) {
      if (error_body.size() < kMaxErrorBody) error_body.append(chunk);
      return;
    }
    if (!streaming_body) {
      plain_body.append(chunk);
      return;
    }
    std::vector<parsers::SseEvent> events;
    sse.feed(chunk, events);
    emit(events);
  }

  void emit(const std::vector<parsers::SseEvent>& events) {
    std::vector<Event> out;
    for (const auto& e : events) decoder->on_event(e, out);
    deliver(out);
  }

  void deliver(std::vector<Event>& out) {
    for (auto& event : out) {
      if (event.kind == Event::Kind::delta) streamed_text += event.text;
      if (event.kind == Event::Kind::thinking) streamed_thinking += event.text;
      if (!on_event) continue;
      secrets.redact(event);
      guarded("the event handler", [&] { on_event(event); });
    }
  }

  void done(api::HttpOutcome&& http) {
    Result& result = outcome.result;
    control->set_stage(nullptr);  // the transfer is over
    if (http.callback_error) return fail(Error::make(ErrorCode::harness_error, *http.callback_error));
    if (http.cancelled) {
      // A pause keeps what the stream delivered so far (StageControl::shape drops the error).
      result.text = std::move(streamed_text);
      if (!streamed_thinking.empty()) result.thinking = std::move(streamed_thinking);
      if (http.status != 0) ++outcome.calls;
      return fail(Error::make(ErrorCode::aborted, "the request was cancelled"));
    }
    if (http.status == 0 || (http.transport_error && status == 0)) {
      if (http.total_deadline)
        return fail(Error::make(ErrorCode::timeout, "no complete answer from " + call.base_url +
                                                        " within the timeout"));
      return fail(Error::make(ErrorCode::temporary_unavailable,
                              "cannot reach " + call.base_url + ": " +
                                  http.transport_error.value_or("no response")));
    }
    ++outcome.calls;
    if (status < 200 || status >= 300) {
      Error error = api::map_http_error(call.format, status, error_body, http.header("retry-after"),
                                        http.header("retry-after-ms"));
      if (status == 400 && call.parameters.response_format &&
          api::rejects_response_format(status, error_body)) {
        result.warnings.push_back("the endpoint rejected the response format (" +
                                  error.message + "); retried once without it");
        call.parameters.response_format.reset();
        return start();
      }
      return fail(std::move(error));
    }
    api::DecodedResponse decoded;
    if (streaming_body) {
      std::vector<parsers::SseEvent> tail;
      sse.finish(tail);
      emit(tail);
      decoded = decoder->finish();
      if (!decoded.error && !decoded.complete) {
        decoded.error = Error::make(
            ErrorCode::temporary_unavailable,
            http.transport_error ? "the stream broke off: " + *http.transport_error
                                 : std::string("the stream ended before the response was complete"));
      }
    } else {
      decoded = api::decode_response_body(call.format, plain_body);
      if (!decoded.error) {
        // A whole body: the events a stream would have carried, in the same shapes.
        std::vector<Event> out;
        if (!decoded.text.empty()) out.push_back(Event::make_text(Event::Kind::delta, decoded.text));
        for (const auto& tool : decoded.tool_calls) out.push_back(api::tool_call_event(tool));
        if (decoded.usage) out.push_back(Event::make_usage(decoded.usage));
        deliver(out);
      }
    }
    result.text = std::move(decoded.text);
    if (!decoded.thinking.empty()) result.thinking = std::move(decoded.thinking);
    result.usage = decoded.usage;
    result.stop_reason = decoded.stop_reason;
    result.model = decoded.model.value_or(route.model);
    result.error = decoded.error;
    // A turn that only asks for tools has said something, though not in text.
    if (!result.error && decoded.tool_calls.empty())
      result.error = empty_answer_error(result.text, "the model returned an empty answer");
    finish();
  }

  void fail(Error error) {
    outcome.result.error = std::move(error);
    finish();
  }

  /// Hands the outcome on from the loop: never from inside start_api_call or a RunControl call
  /// (an HTTP cancel completes the transfer at once).
  void finish() {
    Result& result = outcome.result;
    if (staged && sent) result.attachments = staged->reports(deliveries);
    control->shape(result);
    control->complete();
    secrets.redact(result);
    if (result.error) result.error->message = redact_url(std::move(result.error->message));
    auto done = std::move(on_done);
    auto shared = std::make_shared<TransportOutcome>(std::move(outcome));
    // The staged set (and any directory it owns) goes once the outcome has been handed on.
    auto keep = std::make_shared<std::optional<StagedAttachments>>(std::move(staged));
    staged.reset();
    if (done) loop->post([done = std::move(done), shared, keep] { done(std::move(*shared)); });
  }
};

}  // namespace

std::shared_ptr<RunControl> start_api_call(Loop& loop, const TransportAttempt& attempt,
                                           TransportSink sink) {
  const Route& route = attempt.route;
  const RunRequest& request = attempt.request;
  const std::string& api_key = attempt.api_key;
  EventHandler on_event = std::move(sink.on_event);
  OutcomeHandler on_done = std::move(sink.on_done);
  auto run = std::make_shared<ApiCallRun>();
  run->loop = &loop;
  run->route = route;
  run->request = request;
  run->api_key = api_key;
  run->secrets = call_secrets(route, api_key);
  run->on_event = std::move(on_event);
  run->on_done = std::move(on_done);
  const ApiSpec& spec = route.account_spec->transport.api();
  auto format = api::wire_format_from_string(spec.format);
  if (!format) {
    run->fail(Error::make(ErrorCode::config_error,
                          "route " + route.id + " has no API wire format"));
    return run->control;
  }
  api::ApiCall& call = run->call;
  call.format = *format;
  call.base_url = spec.base_url.empty() ? std::string(api::default_base_url(*format)) : spec.base_url;
  call.model = route.model;
  call.prompt = request.prompt;
  call.parameters = spec.parameters;
  if (request.system_prompt) call.parameters.system_prompt = request.system_prompt;
  // A schema the answer must satisfy wins over the route's responseFormat: OpenAI gets it as
  // json_schema (not strict: strict mode refuses many schemas), Gemini as responseJsonSchema,
  // Anthropic as an instruction in the system prompt (src/api/wire_*.cpp).
  if (request.json_schema)
    call.parameters.response_format = nlohmann::json{
        {"type", "json_schema"}, {"name", "answer"}, {"schema", *request.json_schema},
        {"strict", false}};
  if (const ModelSpec* model = find_model(route)) call.compat = model->compat;
  if (call.model.empty()) {
    run->fail(Error::make(ErrorCode::config_error,
                          "route " + route.id + " names no model: add models[] to the "
                          "account or pass --model"));
    return run->control;
  }
  // Attachments first, before any request: staged off the loop into memory (no copies on disk),
  // gated by what the wire format carries inline and as URLs.
  StagingOptions options = staging_options_for(route, api_workspace(request));
  options.copy = false;
  options.load_max_bytes = api::max_inline_attachment_bytes(*format);
  options.categories = narrowed(api::inline_categories(*format), options.categories);
  options.remote_categories = narrowed(api::remote_categories(*format), options.categories);
  if (!request.attachments.empty() && options.categories.empty()) {
    run->fail(Error::make(ErrorCode::unsupported_capability,
                          "route " + route.id + " takes no attachments: its fileInput.categories "
                          "names none of image, document, text"));
    return run->control;
  }
  stage_for_run(loop, run->control, request, std::move(options),
                [run](std::optional<StagedAttachments> staged, std::optional<Error> error) {
                  if (error) return run->fail(std::move(*error));
                  if (auto refused = run->attach(std::move(staged).value_or(StagedAttachments{})))
                    return run->fail(std::move(*refused));
                  run->start();
                });
  return run->control;
}

void list_api_models(Loop& loop, const Route& route, const std::string& api_key,
                     std::function<void(ModelListing&&)> on_done) {
  const ApiSpec& spec = route.account_spec->transport.api();
  auto format = api::wire_format_from_string(spec.format);
  // A failure before the request started is answered from the loop all the same.
  auto fail_later = [&loop, &on_done](Error error) {
    auto listing = std::make_shared<ModelListing>();
    listing->error = std::move(error);
    loop.post([on_done, listing] { on_done(std::move(*listing)); });
  };
  if (!format)
    return fail_later(Error::make(ErrorCode::config_error, "route " + route.id + " has no API wire format"));
  std::string base = spec.base_url.empty() ? std::string(api::default_base_url(*format)) : spec.base_url;
  Error error;
  api::HttpClient* http = api::HttpClient::for_loop(loop, error);
  if (http == nullptr) return fail_later(std::move(error));
  api::HttpRequestSpec spec_req = api::build_models_request(*format, base);
  api::HttpRequest req = http_request(std::move(spec_req), *format, api_key, spec);
  req.total_timeout_ms = 30000;
  auto body = std::make_shared<std::string>();
  api::HttpCallbacks callbacks;
  callbacks.on_body = [body](std::string_view chunk) {
    if (body->size() < (8u << 20)) body->append(chunk);
  };
  callbacks.on_done = [body, format = *format, base, secrets = call_secrets(route, api_key),
                       on_done](api::HttpOutcome&& out) {
    ModelListing result;
    if (out.cancelled) {
      result.error = Error::make(ErrorCode::aborted, "cancelled");
    } else if (out.status == 0) {
      result.error = Error::make(ErrorCode::temporary_unavailable,
                                 "cannot reach " + base + ": " + out.transport_error.value_or("no response"));
    } else if (out.status < 200 || out.status >= 300) {
      result.error = api::map_http_error(format, out.status, *body, out.header("retry-after"));
    } else if (auto models = api::parse_models_response(format, *body)) {
      for (auto& m : *models) result.models.push_back(ModelSpec{m.id, m.context_window, {}, {}});
    } else {
      result.error = Error::make(ErrorCode::harness_error,
                                 "the models listing from " + base + " is not in the expected shape");
    }
    if (result.error) result.error->message = redact_url(secrets.redact(std::move(result.error->message)));
    on_done(std::move(result));
  };
  if (http->start(std::move(req), std::move(callbacks), error) == 0) fail_later(std::move(error));
}

}  // namespace drover
