// Anthropic messages: request body and response decoding.
#include <map>

#include "src/api/wire_common.h"
#include "src/core/base64.h"

namespace drover::api::wire {
namespace {

constexpr int64_t kDefaultMaxTokens = 4096;  // the API requires max_tokens

/// Overlays the non-null fields of a later usage report (message_delta counts are cumulative).
void merge_usage(json& into, const json& from) {
  if (!from.is_object()) return;
  if (!into.is_object()) into = json::object();
  for (auto it = from.begin(); it != from.end(); ++it)
    if (!it.value().is_null()) into[it.key()] = it.value();
}

struct Block {
  std::string type;
  std::string id;
  std::string name;
  std::string input_json;  ///< input_json_delta fragments
  json initial_input;      ///< content_block_start's input ({} when the deltas carry it)
  bool done = false;
};

json tool_of(const Block& block) {
  json arguments = block.input_json.empty() && block.initial_input.is_object()
                       ? block.initial_input
                       : tool_arguments(block.input_json);
  return tool_call(block.id, block.name, std::move(arguments));
}

class MessagesDecoder final : public DecoderBase {
 public:
  void on_event(const parsers::SseEvent& event, std::vector<Event>& out) override {
    auto value = parse_event(event, out);
    if (!value) return;
    std::string type = string_field(*value, "type");
    if (type.empty()) type = event.event;

    if (type == "content_block_delta") {
      const json* delta = field(*value, "delta");
      if (delta == nullptr) return;
      const std::string kind = string_field(*delta, "type");
      if (kind == "text_delta") {
        emit_delta(string_field(*delta, "text"), out);
      } else if (kind == "thinking_delta") {
        emit_thinking(string_field(*delta, "thinking"), out);
      } else if (kind == "input_json_delta") {
        if (Block* block = find(*value)) block->input_json += string_field(*delta, "partial_json");
      }
      // signature_delta, citations_delta: nothing the result carries.
    } else if (type == "content_block_start") {
      const json* content = field(*value, "content_block");
      const json* index = field(*value, "index");
      if (content == nullptr || index == nullptr || !index->is_number_integer()) return;
      Block& block = blocks_[index->get<int64_t>()];
      block = Block{};
      block.type = string_field(*content, "type");
      if (block.type == "text") {
        emit_delta(string_field(*content, "text"), out);
      } else if (block.type == "thinking") {
        emit_thinking(string_field(*content, "thinking"), out);
      } else if (block.type == "tool_use") {
        block.id = string_field(*content, "id");
        block.name = string_field(*content, "name");
        if (const json* input = field(*content, "input")) block.initial_input = *input;
      }
    } else if (type == "content_block_stop") {
      Block* block = find(*value);
      if (block != nullptr && block->type == "tool_use" && !block->done) {
        block->done = true;
        emit_tool(tool_of(*block), out);
      }
    } else if (type == "message_start") {
      const json* message = field(*value, "message");
      if (message == nullptr) return;
      if (auto id = nonempty_string(*message, "id")) response_.response_id = id;
      if (auto model = nonempty_string(*message, "model")) response_.model = model;
      if (const json* usage = field(*message, "usage")) update_usage(*usage);
    } else if (type == "message_delta") {
      if (const json* delta = field(*value, "delta"))
        if (auto reason = nonempty_string(*delta, "stop_reason")) response_.stop_reason = reason;
      if (const json* usage = field(*value, "usage")) update_usage(*usage);
    } else if (type == "message_stop") {
      response_.complete = true;
      emit_usage_once(out);
    } else if (type == "error") {
      set_error(classify_error(0, *value, event.data));
    }
    // ping and unknown event types: ignored, as the API's versioning policy asks.
  }

 private:
  Block* find(const json& value) {
    const json* index = field(value, "index");
    if (index == nullptr || !index->is_number_integer()) return nullptr;
    auto it = blocks_.find(index->get<int64_t>());
    return it == blocks_.end() ? nullptr : &it->second;
  }

  void update_usage(const json& usage) {
    merge_usage(usage_, usage);
    update_usage_from(usage_);
  }

  void on_finish() override {
    for (auto& [index, block] : blocks_)
      if (block.type == "tool_use" && !block.done) response_.tool_calls.push_back(tool_of(block));
  }

  std::map<int64_t, Block> blocks_;
  json usage_ = json::object();
};

}  // namespace

namespace {

/// The user message's content: the prompt alone, or image / document / text blocks followed by
/// it.
json anthropic_user_content(const ApiCall& call) {
  if (call.attachments.empty()) return call.prompt;
  json blocks = json::array();
  for (const ApiAttachment& a : call.attachments) {
    const bool image = a.category == AttachmentCategory::image;
    if (image || a.category == AttachmentCategory::document) {
      json source = a.url ? json{{"type", "url"}, {"url", *a.url}}
                          : json{{"type", "base64"}, {"media_type", a.mime}, {"data", base64_encode(a.content)}};
      json block{{"type", image ? "image" : "document"}, {"source", std::move(source)}};
      if (!image) block["title"] = a.name;
      blocks.push_back(std::move(block));
    } else if (a.category == AttachmentCategory::text) {
      blocks.push_back({{"type", "text"}, {"text", attachment_text(a)}});
    }
  }
  if (!call.prompt.empty()) blocks.push_back({{"type", "text"}, {"text", call.prompt}});
  return blocks;
}

}  // namespace

void build_anthropic(const ApiCall& call, HttpRequestSpec& spec) {
  const ApiParameters& p = call.parameters;
  spec.url = base_url_or_default(call.format, call.base_url) + "/v1/messages";
  spec.headers.emplace_back("anthropic-version", "2023-06-01");
  json body{{"model", call.model}, {"max_tokens", p.max_tokens.value_or(kDefaultMaxTokens)}};
  // The Messages API has no response_format: the request asks for JSON in the system prompt.
  std::optional<std::string> system = system_prompt(p);
  if (auto instruction = format_instruction(read_response_format(p.response_format)))
    system = system ? *system + "\n\n" + *instruction : *instruction;
  if (system) body["system"] = *system;
  body["messages"] = json::array({{{"role", "user"}, {"content", anthropic_user_content(call)}}});
  body["stream"] = p.stream;
  if (p.temperature) body["temperature"] = *p.temperature;
  spec.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::unique_ptr<StreamDecoder> make_anthropic_decoder() {
  return std::make_unique<MessagesDecoder>();
}

DecodedResponse decode_anthropic_body(const json& body) {
  DecodedResponse r;
  if (!body.is_object() || string_field(body, "type") == "error" ||
      (body.contains("error") && !body.contains("content"))) {
    r.error = classify_error(0, body, body.dump(-1, ' ', false, json::error_handler_t::replace));
    return r;
  }
  if (auto id = nonempty_string(body, "id")) r.response_id = id;
  if (auto model = nonempty_string(body, "model")) r.model = model;
  if (const json* usage = field(body, "usage"); usage != nullptr && usage->is_object())
    r.usage = provider_usage(*usage);
  if (const json* content = field(body, "content"); content != nullptr && content->is_array()) {
    for (const json& block : *content) {
      const std::string type = string_field(block, "type");
      if (type == "text") {
        r.text += string_field(block, "text");
      } else if (type == "thinking") {
        r.thinking += string_field(block, "thinking");
      } else if (type == "tool_use") {
        const json* input = field(block, "input");
        r.tool_calls.push_back(tool_call(string_field(block, "id"), string_field(block, "name"),
                                         input != nullptr ? *input : json::object()));
      }
    }
  }
  r.stop_reason = nonempty_string(body, "stop_reason");
  r.complete = string_field(body, "type") == "message" || r.stop_reason.has_value();
  return r;
}

}  // namespace drover::api::wire
