// What the wire formats share: endpoints, models listings, error mapping, retry hints,
// and the stream decoders' common state.
#include "src/api/wire_common.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>

#include "parsers/json_limits.h"
#include "parsers/output_parser.h"
#include "parsers/utf8.h"
#include "src/core/text.h"

namespace drover::api {
namespace wire {
namespace {

using text::lower;
using text::contains_any;

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

/// A non-negative decimal number ("30", "1.5"); nullopt for anything else.
std::optional<double> parse_decimal(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  for (char c : text)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.')) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!std::isfinite(value) || value < 0) return std::nullopt;
  return value;
}

// Beyond this a hint is garbage (and the arithmetic below stays far from overflow).
constexpr double kMaxHintMs = 1e13;

std::optional<int64_t> to_ms(double ms) {
  if (!std::isfinite(ms) || ms < 0 || ms > kMaxHintMs) return std::nullopt;
  return static_cast<int64_t>(std::llround(ms));
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

/// The Gemini QuotaFailure details say every exhausted quota is a per-minute one: the
/// "exceeded your current quota" wording then means "slow down", not "out of quota".
bool only_per_minute_quotas(const json& payload) {
  const json& error = error_object(payload);
  const json* details = field(error, "details");
  if (details == nullptr || !details->is_array()) return false;
  bool any = false;
  for (const json& detail : *details) {
    if (!detail.is_object()) continue;
    const std::string type = string_field(detail, "@type");
    if (type.find("google.rpc.QuotaFailure") == std::string::npos) continue;
    const json* violations = field(detail, "violations");
    if (violations == nullptr || !violations->is_array()) continue;
    for (const json& violation : *violations) {
      if (!violation.is_object()) continue;
      const std::string id = string_field(violation, "quotaId");
      if (id.find("PerMinute") == std::string::npos) return false;
      any = true;
    }
  }
  return any;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "";
  }
}

/// The provider's message for an error payload, or a printable excerpt of a non-JSON body
/// (nothing for an HTML page: the status line says more than markup).
std::string error_message(const json& payload, std::string_view raw) {
  if (!payload.is_discarded() && !payload.is_null()) return parsers::unwrap_error_message(payload);
  if (parsers::json_too_deep(raw)) return "the error body is JSON " + parsers::json_depth_problem();
  const std::string_view text = trim(raw);
  if (text.empty() || text.front() == '<') return {};
  return parsers::excerpt(text, 500);
}

}  // namespace

std::optional<json> parse_json(std::string_view text) {
  parsers::JsonLimit limit = parsers::JsonLimit::none;
  json value = parsers::parse_untrusted(text, &limit);
  if (!value.is_discarded()) return value;
  if (limit != parsers::JsonLimit::none) return std::nullopt;
  std::string repaired;
  if (parsers::append_valid_utf8(repaired, text) == 0) return std::nullopt;
  value = parsers::parse_untrusted(repaired);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

const json* field(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string string_field(const json& object, std::string_view key) {
  const json* v = field(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<std::string> nonempty_string(const json& object, std::string_view key) {
  std::string s = string_field(object, key);
  if (s.empty()) return std::nullopt;
  return s;
}

std::string base_url_or_default(WireFormat format, std::string_view base_url) {
  std::string_view base = trim(base_url);
  if (base.empty()) base = default_base_url(format);
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base);
}

ResponseFormat read_response_format(const std::optional<json>& parameter) {
  ResponseFormat out;
  if (!parameter || !parameter->is_object()) return out;
  out.raw = *parameter;
  const std::string type = string_field(*parameter, "type");
  if (type.empty() || type == "text") return out;
  if (type == "json_object") {
    out.kind = ResponseFormat::Kind::json_object;
    return out;
  }
  if (type != "json_schema") {
    out.kind = ResponseFormat::Kind::other;
    return out;
  }
  out.kind = ResponseFormat::Kind::json_schema;
  const json* nested = field(*parameter, "json_schema");
  const json& spec = nested != nullptr && nested->is_object() ? *nested : *parameter;
  if (auto name = nonempty_string(spec, "name")) out.name = *name;
  out.description = nonempty_string(spec, "description");
  if (const json* schema = field(spec, "schema")) out.schema = *schema;
  if (const json* strict = field(spec, "strict"); strict != nullptr && strict->is_boolean())
    out.strict = strict->get<bool>();
  return out;
}

std::optional<std::string> system_prompt(const ApiParameters& parameters) {
  if (!parameters.system_prompt || parameters.system_prompt->empty()) return std::nullopt;
  return parameters.system_prompt;
}

std::optional<std::string> format_instruction(const ResponseFormat& format) {
  switch (format.kind) {
    case ResponseFormat::Kind::json_object:
      return std::string(
          "Respond with a single valid JSON object and nothing else: no prose, no code fences.");
    case ResponseFormat::Kind::json_schema:
      return "Respond with a single valid JSON value that conforms to the JSON Schema below, and "
             "nothing else: no prose, no code fences.\nJSON Schema:\n" +
             format.schema.dump(-1, ' ', false, json::error_handler_t::replace);
    case ResponseFormat::Kind::none:
    case ResponseFormat::Kind::other:
      break;
  }
  return std::nullopt;
}

json tool_arguments(std::string_view text) {
  if (trim(text).empty()) return json::object();
  json parsed = parsers::parse_untrusted(text);
  if (!parsed.is_discarded()) return parsed;
  return parsers::valid_utf8(text);
}

json tool_call(std::string id, std::string name, json arguments) {
  return json{{"id", std::move(id)}, {"name", std::move(name)}, {"arguments", std::move(arguments)}};
}

std::optional<Usage> provider_usage(const json& usage) {
  auto normalized = parsers::normalize_usage(usage);
  if (normalized) normalized->calls = 1;
  return normalized;
}

const json& error_object(const json& payload) {
  const json* p = &payload;
  if (p->is_array() && !p->empty()) p = &p->front();
  if (const json* inner = field(*p, "error"); inner != nullptr && inner->is_object()) return *inner;
  return *p;
}

Error classify_error(int status, const json& payload, std::string_view raw) {
  const std::string message = error_message(payload, raw);
  std::string hay = lower(message);
  hay += '\n';
  hay += lower(raw);

  const auto make = [&](ErrorCode code) { return Error::make(code, message); };

  if (status == 402) return make(ErrorCode::quota_exhausted);
  if (contains_any(hay, {"insufficient_quota", "exceeded your current quota", "credit balance is too low",
                    "billing_hard_limit", "billing_not_active", "billing_error",
                    "insufficient credits", "insufficient_credits", "out of credits"}) &&
      !only_per_minute_quotas(payload))
    return make(ErrorCode::quota_exhausted);
  if (contains_any(hay, {"context_length_exceeded", "maximum context length", "context length",
                    "context window", "context_window", "prompt is too long",
                    "exceed context limit"}) ||
      (contains_any(hay, {"input token count"}) && contains_any(hay, {"exceeds the maximum"})))
    return make(ErrorCode::context_overflow);
  if (status == 401 || status == 403 ||
      contains_any(hay, {"api key not valid", "api_key_invalid", "invalid_api_key", "invalid x-api-key",
                    "incorrect api key", "authentication_error", "permission_error",
                    "unauthenticated", "permission_denied"}))
    return make(ErrorCode::auth_error);
  if (status == 408) return make(ErrorCode::temporary_unavailable);
  if (status == 429) return make(ErrorCode::rate_limit);
  if (status == 529 || status >= 500) return make(ErrorCode::temporary_unavailable);
  if (status >= 400) return make(ErrorCode::validation_error);
  if (status != 0) return make(ErrorCode::harness_error);  // 1xx/3xx: not an answer at all

  // In a stream or a 2xx body: only the provider's type words say what happened.
  if (contains_any(hay, {"rate_limit", "rate limit", "resource_exhausted", "too many requests"}))
    return make(ErrorCode::rate_limit);
  if (contains_any(hay, {"invalid_request", "invalid_argument", "not_found", "failed_precondition",
                    "request_too_large", "invalid_prompt"}))
    return make(ErrorCode::validation_error);
  // overloaded_error, api_error, server_error, INTERNAL, UNAVAILABLE, or nothing recognizable:
  // a failure after the provider accepted the request is worth another try.
  return make(ErrorCode::temporary_unavailable);
}

std::optional<int64_t> parse_http_date(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths{
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  std::vector<std::string_view> tokens;
  {
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '-')) ++i;
      const std::size_t start = i;
      while (i < text.size() && text[i] != ' ' && text[i] != ',' && text[i] != '-') ++i;
      if (i > start) tokens.push_back(text.substr(start, i - start));
    }
  }
  const auto number = [](std::string_view s) -> std::optional<int> {
    if (s.empty() || s.size() > 4) return std::nullopt;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  std::optional<int> month, day, year, hh, mm, ss;
  int numbers = 0;
  for (std::string_view token : tokens) {
    if (token.find(':') != std::string_view::npos) {
      if (token.size() != 8 || token[2] != ':' || token[5] != ':') return std::nullopt;
      hh = number(token.substr(0, 2));
      mm = number(token.substr(3, 2));
      ss = number(token.substr(6, 2));
      if (!hh || !mm || !ss) return std::nullopt;
    } else if (auto n = number(token)) {
      // In all three forms the day comes before the year.
      if (numbers == 0) {
        if (token.size() > 2) return std::nullopt;
        day = n;
      } else if (numbers == 1) {
        if (token.size() == 2) {
          year = *n < 70 ? 2000 + *n : 1900 + *n;  // RFC 850's two-digit year
        } else if (token.size() == 4) {
          year = n;
        } else {
          return std::nullopt;
        }
      } else {
        return std::nullopt;
      }
      ++numbers;
    } else {
      const std::string word = lower(token);
      if (word == "gmt" || word == "utc" || word == "ut" || word == "z") continue;
      const auto it = std::find(kMonths.begin(), kMonths.end(), word);
      if (it != kMonths.end()) {
        if (month) return std::nullopt;
        month = static_cast<int>(it - kMonths.begin()) + 1;
        continue;
      }
      // A weekday name (Sun, Sunday): only letters allowed.
      if (!std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
        return std::nullopt;
    }
  }
  if (!month || !day || !year || !hh) return std::nullopt;
  if (*day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  const int64_t days = days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  return ((days * 24 + *hh) * 60 + *mm) * 60'000 + int64_t{*ss} * 1000;
}

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  text = trim(text);
  if (text.size() < 2 || text.back() != 's') return std::nullopt;
  auto seconds = parse_decimal(text.substr(0, text.size() - 1));
  if (!seconds) return std::nullopt;
  return to_ms(*seconds * 1000.0);
}

std::optional<int64_t> retry_after_hint(const std::optional<std::string>& retry_after,
                                        const std::optional<std::string>& retry_after_ms,
                                        const json& payload, int64_t now_ms) {
  if (retry_after_ms) {
    if (auto ms = parse_decimal(*retry_after_ms))
      if (auto v = to_ms(*ms)) return v;
  }
  if (retry_after) {
    if (auto seconds = parse_decimal(*retry_after)) {
      if (auto v = to_ms(*seconds * 1000.0)) return v;
    } else if (auto at = parse_http_date(*retry_after)) {
      return std::max<int64_t>(0, *at - now_ms);
    }
  }
  const json& error = error_object(payload);
  if (const json* details = field(error, "details"); details != nullptr && details->is_array()) {
    for (const json& detail : *details) {
      if (!detail.is_object()) continue;
      if (string_field(detail, "@type").find("google.rpc.RetryInfo") == std::string::npos) continue;
      if (auto v = parse_duration_ms(string_field(detail, "retryDelay"))) return v;
    }
  }
  return std::nullopt;
}

int64_t now_unix_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- DecoderBase ---------------------------------------------------------------------------

DecodedResponse DecoderBase::finish() {
  on_finish();
  return std::move(response_);
}

void DecoderBase::emit_delta(std::string_view text, std::vector<Event>& out) {
  if (text.empty()) return;
  response_.text.append(text);
  out.push_back(Event::make_text(Event::Kind::delta, std::string(text)));
}

void DecoderBase::emit_thinking(std::string_view text, std::vector<Event>& out) {
  if (text.empty()) return;
  response_.thinking.append(text);
  out.push_back(Event::make_text(Event::Kind::thinking, std::string(text)));
}

void DecoderBase::emit_tool(json call, std::vector<Event>& out, json raw) {
  response_.tool_calls.push_back(call);
  out.push_back(tool_call_event(std::move(call), std::move(raw)));
}

void DecoderBase::update_usage_from(const json& usage) {
  if (auto u = provider_usage(usage)) {
    response_.usage = u;
    usage_raw_ = usage;
  }
}

void DecoderBase::emit_usage_once(std::vector<Event>& out) {
  if (usage_emitted_ || !response_.usage) return;
  usage_emitted_ = true;
  out.push_back(Event::make_usage(response_.usage, usage_raw_));
}

void DecoderBase::warn_not_json(std::string_view data, std::vector<Event>& out) {
  out.push_back(Event::make_text(
      Event::Kind::warning, "stream event data is not JSON; skipped: " + parsers::excerpt(data, 80)));
}

void DecoderBase::set_error(Error error) {
  if (!response_.error) response_.error = std::move(error);  // the first error is the cause
}

std::optional<json> DecoderBase::parse_event(const parsers::SseEvent& event,
                                             std::vector<Event>& out) {
  if (trim(event.data).empty()) return std::nullopt;
  auto value = parse_json(event.data);
  if (!value) {
    if (parsers::json_too_deep(event.data)) {
      // Refused unread: it may have been the answer or the error, so the response is broken.
      set_error(Error::make(ErrorCode::harness_error,
                            "stream event data is JSON " + parsers::json_depth_problem()));
    } else if (event.event == "error") {
      set_error(classify_error(0, json(nullptr), event.data));
    } else {
      warn_not_json(event.data, out);
    }
  }
  return value;
}

}  // namespace wire

Event tool_call_event(nlohmann::json call, nlohmann::json raw) {
  ToolCall tool;
  tool.id = wire::string_field(call, "id");
  tool.name = wire::string_field(call, "name");
  tool.kind = "other";
  tool.status = "pending";
  if (const nlohmann::json* arguments = wire::field(call, "arguments")) tool.arguments = *arguments;
  return Event::make_tool(std::move(tool), raw.is_null() ? std::move(call) : std::move(raw));
}

using namespace wire;

// ---- endpoints -------------------------------------------------------------------------------

std::string_view default_base_url(WireFormat format) noexcept {
  switch (format) {
    case WireFormat::openai_chat:
    case WireFormat::openai_responses: return "https://api.openai.com/v1";
    case WireFormat::anthropic_messages: return "https://api.anthropic.com";
    case WireFormat::gemini: return "https://generativelanguage.googleapis.com";
  }
  return "https://api.openai.com/v1";
}

HttpRequestSpec build_request(const ApiCall& call) {
  HttpRequestSpec spec;
  spec.headers.emplace_back("content-type", "application/json");
  spec.headers.emplace_back("accept",
                            call.parameters.stream ? "text/event-stream" : "application/json");
  switch (call.format) {
    case WireFormat::openai_chat: build_openai_chat(call, spec); break;
    case WireFormat::openai_responses: build_openai_responses(call, spec); break;
    case WireFormat::anthropic_messages: build_anthropic(call, spec); break;
    case WireFormat::gemini: build_gemini(call, spec); break;
  }
  return spec;
}

std::pair<std::string, std::string> auth_header(WireFormat format, const std::string& key) {
  switch (format) {
    case WireFormat::openai_chat:
    case WireFormat::openai_responses: return {"authorization", "Bearer " + key};
    case WireFormat::anthropic_messages: return {"x-api-key", key};
    case WireFormat::gemini: return {"x-goog-api-key", key};
  }
  return {"authorization", "Bearer " + key};
}

HttpRequestSpec build_models_request(WireFormat format, const std::string& base_url) {
  HttpRequestSpec spec;
  spec.method = "GET";
  const std::string base = base_url_or_default(format, base_url);
  spec.headers.emplace_back("accept", "application/json");
  switch (format) {
    case WireFormat::openai_chat:
    case WireFormat::openai_responses: spec.url = base + "/models"; break;
    case WireFormat::anthropic_messages:
      // The listing pages by 20 unless asked; 1000 is the maximum.
      spec.url = base + "/v1/models?limit=1000";
      spec.headers.emplace_back("anthropic-version", "2023-06-01");
      break;
    case WireFormat::gemini:
      // The listing pages by 50 unless asked; 1000 is the maximum.
      spec.url = base + "/v1beta/models?pageSize=1000";
      break;
  }
  return spec;
}

std::optional<std::vector<ModelInfo>> parse_models_response(WireFormat format,
                                                            std::string_view body) {
  auto doc = parse_json(body);
  if (!doc || !doc->is_object()) return std::nullopt;
  std::vector<ModelInfo> models;
  const auto count = [](const json& o, std::initializer_list<std::string_view> keys)
      -> std::optional<int64_t> {
    for (std::string_view key : keys) {
      const json* v = field(o, key);
      if (v != nullptr && v->is_number_integer() && v->get<int64_t>() > 0) return v->get<int64_t>();
    }
    return std::nullopt;
  };

  if (format == WireFormat::gemini) {
    const json* list = field(*doc, "models");
    if (list == nullptr) {
      // Google APIs omit empty repeated fields: {} is an empty listing, anything else is not.
      for (auto it = doc->begin(); it != doc->end(); ++it)
        if (it.key() != "nextPageToken") return std::nullopt;
      return models;
    }
    if (!list->is_array()) return std::nullopt;
    for (const json& m : *list) {
      std::string name = string_field(m, "name");
      if (name.rfind("models/", 0) == 0) name.erase(0, 7);
      if (name.empty()) continue;
      models.push_back({std::move(name), nonempty_string(m, "displayName"),
                        count(m, {"inputTokenLimit"})});
    }
    return models;
  }

  const json* list = field(*doc, "data");
  if (list == nullptr || !list->is_array()) return std::nullopt;
  for (const json& m : *list) {
    std::string id = string_field(m, "id");
    if (id.empty()) continue;
    // OpenAI-compatible servers sometimes report the context window under one of these names.
    models.push_back({std::move(id), nonempty_string(m, "display_name"),
                      count(m, {"context_window", "context_length", "max_model_len",
                                "max_input_tokens"})});
  }
  return models;
}

std::unique_ptr<StreamDecoder> make_stream_decoder(WireFormat format) {
  switch (format) {
    case WireFormat::openai_chat: return make_openai_chat_decoder();
    case WireFormat::openai_responses: return make_openai_responses_decoder();
    case WireFormat::anthropic_messages: return make_anthropic_decoder();
    case WireFormat::gemini: return make_gemini_decoder();
  }
  return make_openai_chat_decoder();
}

DecodedResponse decode_response_body(WireFormat format, std::string_view body) {
  auto doc = parse_json(body);
  if (!doc) {
    DecodedResponse r;
    Error e = parsers::json_too_deep(body)
                  ? Error::make(ErrorCode::harness_error,
                                "response body is JSON " + parsers::json_depth_problem())
                  : Error::make(ErrorCode::temporary_unavailable,
                                "response body is not JSON: " + parsers::excerpt(body, 200));
    r.error = std::move(e);
    return r;
  }
  switch (format) {
    case WireFormat::openai_chat: return decode_openai_chat_body(*doc);
    case WireFormat::openai_responses: return decode_openai_responses_body(*doc);
    case WireFormat::anthropic_messages: return decode_anthropic_body(*doc);
    case WireFormat::gemini: return decode_gemini_body(*doc);
  }
  return {};
}

Error map_http_error(WireFormat /*format*/, int status, std::string_view body,
                     const std::optional<std::string>& retry_after,
                     const std::optional<std::string>& retry_after_ms) {
  // The error shapes differ per provider, but every body is recognizable by its own fields, and
  // gateways in front of one provider often answer in another's shape: classify by content.
  json payload = parse_json(body).value_or(json(nullptr));
  Error error = classify_error(status, payload, body);
  std::string message = "HTTP " + std::to_string(status);
  if (!error.message.empty()) {
    message += ": " + error.message;
  } else if (auto phrase = reason_phrase(status); !phrase.empty()) {
    message += ": ";
    message += phrase;
  }
  error.message = std::move(message);
  error.retry_after_ms = retry_after_hint(retry_after, retry_after_ms, payload, now_unix_ms());
  return error;
}

bool rejects_response_format(int status, std::string_view body) {
  if (status != 400 && status != 422) return false;
  json payload = parse_json(body).value_or(json(nullptr));
  std::string hay = lower(body);
  if (!payload.is_null()) hay += "\n" + lower(parsers::unwrap_error_message(payload));
  return contains_any(hay, {"response_format", "json_schema", "text.format", "responseschema",
                       "response_schema", "responsejsonschema", "response_json_schema",
                       "responsemimetype", "response_mime_type", "structured output",
                       "structured_output"});
}

}  // namespace drover::api
