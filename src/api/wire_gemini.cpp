// Gemini generateContent / streamGenerateContent: request body and response decoding.
#include "src/api/wire_common.h"
#include "src/core/base64.h"

namespace drover::api::wire {
namespace {

/// The model id as a URL path segment: "models/" prefix dropped, anything outside the
/// unreserved characters percent-encoded.
std::string model_segment(std::string_view model) {
  if (model.rfind("models/", 0) == 0) model.remove_prefix(7);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : model) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

/// Decodes GenerateContentResponse objects: each streamed chunk, or the whole body.
class GeminiDecoder final : public DecoderBase {
 public:
  void on_event(const parsers::SseEvent& event, std::vector<Event>& out) override {
    auto value = parse_event(event, out);
    if (!value) return;
    if (event.event == "error") {
      set_error(classify_error(0, *value, event.data));
      return;
    }
    on_chunk(*value, event.data, out);
  }

  void on_chunk(const json& chunk, std::string_view raw, std::vector<Event>& out) {
    if (chunk.is_array()) {  // the JSON-array form of streamGenerateContent (no alt=sse)
      for (const json& element : chunk) on_chunk(element, element.dump(), out);
      return;
    }
    if (!chunk.is_object()) return;
    if (const json* error = field(chunk, "error"); error != nullptr && !chunk.contains("candidates")) {
      set_error(classify_error(0, chunk, raw));
      return;
    }
    if (auto id = nonempty_string(chunk, "responseId")) response_.response_id = id;
    if (auto model = nonempty_string(chunk, "modelVersion")) response_.model = model;
    if (const json* usage = field(chunk, "usageMetadata"); usage != nullptr && usage->is_object())
      update_usage_from(*usage);  // cumulative: the latest wins

    bool terminal = false;
    const json* candidates = field(chunk, "candidates");
    const json* candidate = nullptr;
    if (candidates != nullptr && candidates->is_array()) {
      for (const json& c : *candidates) {
        const json* index = field(c, "index");
        if (index == nullptr || (index->is_number_integer() && index->get<int64_t>() == 0)) {
          candidate = &c;
          break;
        }
      }
    }
    if (candidate != nullptr) {
      const json* content = field(*candidate, "content");
      const json* parts = content != nullptr ? field(*content, "parts") : nullptr;
      if (parts != nullptr && parts->is_array()) {
        for (const json& part : *parts) {
          if (const json* call = field(part, "functionCall")) {
            const json* args = field(*call, "args");
            emit_tool(tool_call(string_field(*call, "id"), string_field(*call, "name"),
                                args != nullptr ? *args : json::object()),
                      out, part);
            continue;
          }
          const json* thought = field(part, "thought");
          if (thought != nullptr && thought->is_boolean() && thought->get<bool>()) {
            emit_thinking(string_field(part, "text"), out);
          } else {
            emit_delta(string_field(part, "text"), out);
          }
        }
      }
      if (auto reason = nonempty_string(*candidate, "finishReason")) {
        response_.stop_reason = reason;
        terminal = true;
      }
    } else if (const json* feedback = field(chunk, "promptFeedback")) {
      // The prompt itself was blocked: no candidate at all, and no more chunks.
      if (auto reason = nonempty_string(*feedback, "blockReason")) {
        response_.stop_reason = reason;
        terminal = true;
      }
    }
    if (terminal) {
      response_.complete = true;
      emit_usage_once(out);
    }
  }
};

}  // namespace

namespace {

/// The user turn's parts: inlineData per image or PDF, a text part per text file, then the
/// prompt. (Gemini takes no remote references here: they are refused before.)
json gemini_user_parts(const ApiCall& call) {
  json parts = json::array();
  for (const ApiAttachment& a : call.attachments) {
    if (a.category == AttachmentCategory::image || a.category == AttachmentCategory::document) {
      parts.push_back({{"inlineData", {{"mimeType", a.mime}, {"data", base64_encode(a.content)}}}});
    } else if (a.category == AttachmentCategory::text) {
      parts.push_back({{"text", attachment_text(a)}});
    }
  }
  if (!call.prompt.empty() || parts.empty()) parts.push_back({{"text", call.prompt}});
  return parts;
}

}  // namespace

void build_gemini(const ApiCall& call, HttpRequestSpec& spec) {
  const ApiParameters& p = call.parameters;
  spec.url = base_url_or_default(call.format, call.base_url) + "/v1beta/models/" +
             model_segment(call.model) +
             (p.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  json body{{"contents", json::array({{{"role", "user"}, {"parts", gemini_user_parts(call)}}})}};
  if (auto system = system_prompt(p))
    body["systemInstruction"] = {{"parts", json::array({{{"text", *system}}})}};
  json config = json::object();
  if (p.temperature) config["temperature"] = *p.temperature;
  if (p.max_tokens) config["maxOutputTokens"] = *p.max_tokens;
  const ResponseFormat format = read_response_format(p.response_format);
  if (format.kind == ResponseFormat::Kind::json_object ||
      format.kind == ResponseFormat::Kind::json_schema)
    config["responseMimeType"] = "application/json";
  // responseJsonSchema takes JSON Schema as configured (responseSchema takes only an OpenAPI
  // subset, without additionalProperties and friends). Gemini has no strict flag.
  if (format.kind == ResponseFormat::Kind::json_schema) config["responseJsonSchema"] = format.schema;
  if (!config.empty()) body["generationConfig"] = std::move(config);
  spec.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::unique_ptr<StreamDecoder> make_gemini_decoder() { return std::make_unique<GeminiDecoder>(); }

DecodedResponse decode_gemini_body(const json& body) {
  GeminiDecoder decoder;
  std::vector<Event> ignored;
  decoder.on_chunk(body, body.dump(-1, ' ', false, json::error_handler_t::replace), ignored);
  DecodedResponse r = decoder.finish();
  // A whole body is complete when it decoded as a response, even without a finishReason.
  if (!r.error && body.is_object() && (body.contains("candidates") || body.contains("promptFeedback")))
    r.complete = true;
  return r;
}

}  // namespace drover::api::wire
