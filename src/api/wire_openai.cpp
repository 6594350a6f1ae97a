// OpenAI chat completions and responses: request bodies and response decoding.
#include <map>

#include "src/api/wire_common.h"

namespace drover::api::wire {
namespace {

// ---- chat completions ------------------------------------------------------------------------

/// The response_format object of chat completions.
std::optional<json> chat_response_format(const ResponseFormat& format, const ApiCompat& compat) {
  switch (format.kind) {
    case ResponseFormat::Kind::none: return std::nullopt;
    case ResponseFormat::Kind::json_object: return json{{"type", "json_object"}};
    case ResponseFormat::Kind::other: return format.raw;
    case ResponseFormat::Kind::json_schema: break;
  }
  json schema{{"name", format.name}, {"schema", format.schema}};
  if (format.description) schema["description"] = *format.description;
  if (format.strict && compat.supports_strict_mode != false) schema["strict"] = *format.strict;
  return json{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
}

/// The text.format object of the responses API (the json_schema fields sit flat in it).
std::optional<json> responses_text_format(const ResponseFormat& format, const ApiCompat& compat) {
  switch (format.kind) {
    case ResponseFormat::Kind::none: return std::nullopt;
    case ResponseFormat::Kind::json_object: return json{{"type", "json_object"}};
    case ResponseFormat::Kind::other: return format.raw;
    case ResponseFormat::Kind::json_schema: break;
  }
  json out{{"type", "json_schema"}, {"name", format.name}, {"schema", format.schema}};
  if (format.description) out["description"] = *format.description;
  if (format.strict && compat.supports_strict_mode != false) out["strict"] = *format.strict;
  return out;
}

/// Assembles streamed chat tool calls: fragments arrive keyed by `index`.
struct ChatToolCall {
  std::string id;
  std::string name;
  std::string arguments;
  bool emitted = false;
};

/// The choice with index 0 (a request asks for one; servers that omit `index` send only one).
const json* first_choice(const json& chunk) {
  const json* choices = field(chunk, "choices");
  if (choices == nullptr || !choices->is_array()) return nullptr;
  for (const json& choice : *choices) {
    const json* index = field(choice, "index");
    if (index == nullptr || (index->is_number_integer() && index->get<int64_t>() == 0))
      return &choice;
  }
  return nullptr;
}

/// An error envelope instead of a chunk or a body: {"error": {...}} or {"object": "error"}.
bool is_error_payload(const json& value) {
  if (!value.is_object()) return false;
  if (value.contains("choices") || value.contains("output")) return false;
  if (const json* e = field(value, "error"); e != nullptr && (e->is_object() || e->is_string()))
    return true;
  return string_field(value, "object") == "error" || string_field(value, "type") == "error";
}

class ChatDecoder final : public DecoderBase {
 public:
  void on_event(const parsers::SseEvent& event, std::vector<Event>& out) override {
    if (done_) return;
    if (event.data == "[DONE]") {
      done_ = true;
      flush_tools(out);
      response_.complete = true;
      emit_usage_once(out);
      return;
    }
    auto chunk = parse_event(event, out);
    if (!chunk) return;
    if (event.event == "error" || is_error_payload(*chunk)) {
      set_error(classify_error(0, *chunk, event.data));
      return;
    }
    if (auto id = nonempty_string(*chunk, "id")) response_.response_id = id;
    if (auto model = nonempty_string(*chunk, "model")) response_.model = model;

    if (const json* choice = first_choice(*chunk)) {
      if (const json* delta = field(*choice, "delta")) {
        emit_delta(string_field(*delta, "content"), out);
        emit_delta(string_field(*delta, "refusal"), out);
        // DeepSeek and vLLM spell it reasoning_content, OpenRouter and Ollama reasoning.
        emit_thinking(string_field(*delta, "reasoning_content"), out);
        emit_thinking(string_field(*delta, "reasoning"), out);
        if (const json* calls = field(*delta, "tool_calls"); calls != nullptr && calls->is_array())
          add_tool_fragments(*calls);
      }
      if (auto reason = nonempty_string(*choice, "finish_reason")) {
        response_.stop_reason = reason;
        response_.complete = true;
        flush_tools(out);
      }
    }
    if (const json* usage = field(*chunk, "usage"); usage != nullptr && usage->is_object())
      update_usage_from(*usage);
  }

 private:
  /// The call a fragment belongs to: by `index`; servers that leave it out (and send each call
  /// whole) by `id`, a new id starting a new call; a fragment with neither continues the last.
  int64_t key_of(const json& call) const {
    const json* index = field(call, "index");
    if (index != nullptr && index->is_number_integer()) return index->get<int64_t>();
    const std::string id = string_field(call, "id");
    if (tools_.empty()) return 0;
    if (id.empty()) return tools_.rbegin()->first;
    for (const auto& [key, acc] : tools_)
      if (acc.id == id) return key;
    return tools_.rbegin()->first + 1;
  }

  void add_tool_fragments(const json& calls) {
    for (const json& call : calls) {
      ChatToolCall& acc = tools_[key_of(call)];
      if (auto id = nonempty_string(call, "id")) acc.id = *id;
      if (const json* fn = field(call, "function")) {
        if (auto name = nonempty_string(*fn, "name")) acc.name = *name;
        if (const json* args = field(*fn, "arguments")) {
          if (args->is_string()) {
            acc.arguments += args->get<std::string>();
          } else {
            acc.arguments += args->dump();  // some servers send the arguments as an object
          }
        }
      }
    }
  }

  void flush_tools(std::vector<Event>& out) {
    for (auto& [index, call] : tools_) {
      if (call.emitted) continue;
      call.emitted = true;
      emit_tool(tool_call(call.id, call.name, tool_arguments(call.arguments)), out);
    }
  }

  void on_finish() override {
    // A stream cut before its finish_reason: the calls assembled so far are still reported
    // (complete == false says they may be partial).
    for (auto& [index, call] : tools_)
      if (!call.emitted)
        response_.tool_calls.push_back(tool_call(call.id, call.name, tool_arguments(call.arguments)));
  }

  std::map<int64_t, ChatToolCall> tools_;
  bool done_ = false;
};

// ---- responses -------------------------------------------------------------------------------

json function_call_of(const json& item) {
  std::string id = string_field(item, "call_id");
  if (id.empty()) id = string_field(item, "id");
  return tool_call(std::move(id), string_field(item, "name"),
                   tool_arguments(string_field(item, "arguments")));
}

/// Fields of a response object (response.completed / incomplete / failed, or a whole body).
void read_response_object(const json& response, DecodedResponse& out) {
  if (auto id = nonempty_string(response, "id")) out.response_id = id;
  if (auto model = nonempty_string(response, "model")) out.model = model;
  if (const json* usage = field(response, "usage"); usage != nullptr && usage->is_object())
    if (auto u = provider_usage(*usage)) out.usage = u;
  const std::string status = string_field(response, "status");
  if (status == "incomplete") {
    const json* details = field(response, "incomplete_details");
    std::string reason = details != nullptr ? string_field(*details, "reason") : std::string();
    out.stop_reason = reason.empty() ? status : reason;
  } else if (!status.empty()) {
    out.stop_reason = status;
  }
}

class ResponsesDecoder final : public DecoderBase {
 public:
  void on_event(const parsers::SseEvent& event, std::vector<Event>& out) override {
    if (event.data == "[DONE]") return;  // not OpenAI's, but compatible servers add it
    auto value = parse_event(event, out);
    if (!value) return;
    std::string type = string_field(*value, "type");
    if (type.empty()) type = event.event;

    if (type == "response.output_text.delta" || type == "response.refusal.delta") {
      emit_delta(string_field(*value, "delta"), out);
    } else if (type == "response.reasoning_summary_text.delta" ||
               type == "response.reasoning_text.delta" || type == "response.reasoning.delta") {
      emit_thinking(string_field(*value, "delta"), out);
    } else if (type == "response.output_item.done") {
      const json* item = field(*value, "item");
      if (item != nullptr && string_field(*item, "type") == "function_call")
        emit_tool(function_call_of(*item), out, *item);
    } else if (type == "response.created" || type == "response.in_progress") {
      if (const json* response = field(*value, "response")) {
        if (auto id = nonempty_string(*response, "id")) response_.response_id = id;
        if (auto model = nonempty_string(*response, "model")) response_.model = model;
      }
    } else if (type == "response.completed" || type == "response.incomplete") {
      if (const json* response = field(*value, "response")) {
        read_response_object(*response, response_);
        if (const json* usage = field(*response, "usage"); usage != nullptr && usage->is_object())
          update_usage_from(*usage);
      }
      response_.complete = true;
      emit_usage_once(out);
    } else if (type == "response.failed") {
      const json* response = field(*value, "response");
      if (response != nullptr) read_response_object(*response, response_);
      const json* error = response != nullptr ? field(*response, "error") : nullptr;
      if (error != nullptr) {
        set_error(classify_error(0, *error, error->dump()));
      } else {
        set_error(classify_error(0, *value, event.data));
      }
    } else if (type == "error" || is_error_payload(*value)) {
      set_error(classify_error(0, *value, event.data));
    }
  }
};

}  // namespace

namespace {

/// The user message's content: the prompt alone, or the attachments' parts followed by it.
json chat_user_content(const ApiCall& call) {
  if (call.attachments.empty()) return call.prompt;
  json parts = json::array();
  for (const ApiAttachment& a : call.attachments) {
    if (a.category == AttachmentCategory::image) {
      parts.push_back({{"type", "image_url"}, {"image_url", {{"url", a.url ? *a.url : data_url(a.mime, a.content)}}}});
    } else if (a.category == AttachmentCategory::document) {
      parts.push_back({{"type", "file"}, {"file", {{"filename", a.name}, {"file_data", data_url(a.mime, a.content)}}}});
    } else if (a.category == AttachmentCategory::text) {
      parts.push_back({{"type", "text"}, {"text", attachment_text(a)}});
    }
  }
  if (!call.prompt.empty()) parts.push_back({{"type", "text"}, {"text", call.prompt}});
  return parts;
}

/// Responses `input`: the prompt as a string, or one user message of input_image / input_file /
/// input_text parts.
json responses_input(const ApiCall& call) {
  if (call.attachments.empty()) return call.prompt;
  json parts = json::array();
  for (const ApiAttachment& a : call.attachments) {
    if (a.category == AttachmentCategory::image) {
      parts.push_back({{"type", "input_image"}, {"image_url", a.url ? *a.url : data_url(a.mime, a.content)}});
    } else if (a.category == AttachmentCategory::document && a.url) {
      parts.push_back({{"type", "input_file"}, {"file_url", *a.url}});
    } else if (a.category == AttachmentCategory::document) {
      parts.push_back({{"type", "input_file"}, {"filename", a.name}, {"file_data", data_url(a.mime, a.content)}});
    } else if (a.category == AttachmentCategory::text) {
      parts.push_back({{"type", "input_text"}, {"text", attachment_text(a)}});
    }
  }
  if (!call.prompt.empty()) parts.push_back({{"type", "input_text"}, {"text", call.prompt}});
  return json::array({{{"role", "user"}, {"content", std::move(parts)}}});
}

}  // namespace

void build_openai_chat(const ApiCall& call, HttpRequestSpec& spec) {
  const ApiParameters& p = call.parameters;
  spec.url = base_url_or_default(call.format, call.base_url) + "/chat/completions";
  json body{{"model", call.model}};
  json messages = json::array();
  if (auto system = system_prompt(p)) {
    const bool developer = call.compat.supports_developer_role == true;
    messages.push_back({{"role", developer ? "developer" : "system"}, {"content", *system}});
  }
  messages.push_back({{"role", "user"}, {"content", chat_user_content(call)}});
  body["messages"] = std::move(messages);
  body["stream"] = p.stream;
  if (p.stream && call.compat.supports_usage_in_streaming != false)
    body["stream_options"] = {{"include_usage", true}};
  if (p.max_tokens) {
    const std::string name = call.compat.max_tokens_field.value_or("max_tokens");
    body[name.empty() ? std::string("max_tokens") : name] = *p.max_tokens;
  }
  if (p.temperature) body["temperature"] = *p.temperature;
  if (auto rf = chat_response_format(read_response_format(p.response_format), call.compat))
    body["response_format"] = std::move(*rf);
  if (p.reasoning_effort && !p.reasoning_effort->empty() &&
      call.compat.supports_reasoning_effort != false)
    body["reasoning_effort"] = *p.reasoning_effort;
  spec.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
}

void build_openai_responses(const ApiCall& call, HttpRequestSpec& spec) {
  const ApiParameters& p = call.parameters;
  spec.url = base_url_or_default(call.format, call.base_url) + "/responses";
  json body{{"model", call.model}, {"input", responses_input(call)}};
  if (auto system = system_prompt(p)) body["instructions"] = *system;
  body["stream"] = p.stream;
  if (p.max_tokens) body["max_output_tokens"] = *p.max_tokens;
  if (p.temperature) body["temperature"] = *p.temperature;
  if (auto format = responses_text_format(read_response_format(p.response_format), call.compat))
    body["text"] = {{"format", std::move(*format)}};
  if (p.reasoning_effort && !p.reasoning_effort->empty() &&
      call.compat.supports_reasoning_effort != false)
    body["reasoning"] = {{"effort", *p.reasoning_effort}};
  spec.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::unique_ptr<StreamDecoder> make_openai_chat_decoder() { return std::make_unique<ChatDecoder>(); }
std::unique_ptr<StreamDecoder> make_openai_responses_decoder() {
  return std::make_unique<ResponsesDecoder>();
}

DecodedResponse decode_openai_chat_body(const json& body) {
  DecodedResponse r;
  if (is_error_payload(body) || !body.is_object()) {
    r.error = classify_error(0, body, body.dump(-1, ' ', false, json::error_handler_t::replace));
    return r;
  }
  if (auto id = nonempty_string(body, "id")) r.response_id = id;
  if (auto model = nonempty_string(body, "model")) r.model = model;
  if (const json* usage = field(body, "usage"); usage != nullptr && usage->is_object())
    r.usage = provider_usage(*usage);
  if (const json* choice = first_choice(body)) {
    if (const json* message = field(*choice, "message")) {
      r.text = string_field(*message, "content");
      r.text += string_field(*message, "refusal");
      r.thinking = string_field(*message, "reasoning_content");
      r.thinking += string_field(*message, "reasoning");
      if (const json* calls = field(*message, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (const json& call : *calls) {
          const json* fn = field(call, "function");
          if (fn == nullptr) continue;
          const json* args = field(*fn, "arguments");
          r.tool_calls.push_back(tool_call(
              string_field(call, "id"), string_field(*fn, "name"),
              args == nullptr ? json::object()
                              : args->is_string() ? tool_arguments(args->get<std::string>()) : *args));
        }
      }
    }
    r.stop_reason = nonempty_string(*choice, "finish_reason");
  }
  r.complete = r.stop_reason.has_value();
  return r;
}

DecodedResponse decode_openai_responses_body(const json& body) {
  DecodedResponse r;
  if (!body.is_object() || (is_error_payload(body) && !body.contains("status"))) {
    r.error = classify_error(0, body, body.dump(-1, ' ', false, json::error_handler_t::replace));
    return r;
  }
  read_response_object(body, r);
  if (const json* output = field(body, "output"); output != nullptr && output->is_array()) {
    for (const json& item : *output) {
      const std::string type = string_field(item, "type");
      if (type == "message") {
        const json* content = field(item, "content");
        if (content == nullptr || !content->is_array()) continue;
        for (const json& part : *content) {
          const std::string part_type = string_field(part, "type");
          if (part_type == "output_text") r.text += string_field(part, "text");
          if (part_type == "refusal") r.text += string_field(part, "refusal");
        }
      } else if (type == "reasoning") {
        for (const char* key : {"summary", "content"}) {
          const json* parts = field(item, key);
          if (parts == nullptr || !parts->is_array()) continue;
          for (const json& part : *parts) r.thinking += string_field(part, "text");
        }
      } else if (type == "function_call") {
        r.tool_calls.push_back(function_call_of(item));
      }
    }
  }
  const std::string status = string_field(body, "status");
  if (status == "failed") {
    const json* error = field(body, "error");
    r.error = classify_error(0, error != nullptr ? *error : body,
                             (error != nullptr ? *error : body)
                                 .dump(-1, ' ', false, json::error_handler_t::replace));
  }
  r.complete = status == "completed" || status == "incomplete";
  return r;
}

}  // namespace drover::api::wire
