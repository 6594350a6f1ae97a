#include "src/gateway/replies.h"

#include <algorithm>

#include "parsers/json_limits.h"

namespace drover::gateway {
namespace {

using oj = nlohmann::ordered_json;

// Prompts may carry any bytes; never let invalid UTF-8 throw.
std::string dump(const oj& j) { return j.dump(-1, ' ', false, oj::error_handler_t::replace); }

std::string sse_data(const oj& j) { return "data: " + dump(j) + "\n\n"; }

std::string sse_event(std::string_view type, const oj& j) {
  return "event: " + std::string(type) + "\ndata: " + dump(j) + "\n\n";
}

oj parse_object(const std::string& json_text) {
  oj j = parsers::parse_untrusted<oj>(json_text);
  return j.is_object() ? j : oj::object();
}

std::string model_or_default(const Answer& a) { return a.model.empty() ? "mock-model" : a.model; }

std::string tool_id(const Answer& a, size_t i, std::string_view prefix) {
  if (!a.tool_calls[i].id.empty()) return a.tool_calls[i].id;
  return std::string(prefix) + a.id + "_" + std::to_string(i + 1);
}

// ---- OpenAI Chat Completions -----------------------------------------------------------------

const char* chat_finish_reason(const Answer& a) {
  if (a.truncated) return "length";
  return a.tool_calls.empty() ? "stop" : "tool_calls";
}

oj chat_usage(const Answer& a) {
  return {{"prompt_tokens", a.input_tokens},
          {"completion_tokens", a.output_tokens},
          {"total_tokens", a.input_tokens + a.output_tokens},
          {"prompt_tokens_details", {{"cached_tokens", a.cache_read_tokens}, {"audio_tokens", 0}}},
          {"completion_tokens_details",
           {{"reasoning_tokens", 0},
            {"audio_tokens", 0},
            {"accepted_prediction_tokens", 0},
            {"rejected_prediction_tokens", 0}}}};
}

Reply chat_reply(const RequestInfo& info, const Answer& a) {
  Reply r;
  const std::string id = "chatcmpl-" + a.id;
  const std::string model = model_or_default(a);
  if (!info.stream) {
    oj message = {{"role", "assistant"}};
    message["content"] = (a.text.empty() && !a.tool_calls.empty()) ? oj() : oj(a.text);
    message["refusal"] = nullptr;
    if (!a.thinking.empty()) message["reasoning_content"] = a.thinking;
    if (!a.tool_calls.empty()) {
      oj calls = oj::array();
      for (size_t i = 0; i < a.tool_calls.size(); ++i)
        calls.push_back({{"id", tool_id(a, i, "call_")},
                         {"type", "function"},
                         {"function", {{"name", a.tool_calls[i].name},
                                       {"arguments", a.tool_calls[i].arguments}}}});
      message["tool_calls"] = std::move(calls);
    }
    oj body = {{"id", id},
               {"object", "chat.completion"},
               {"created", a.created},
               {"model", model},
               {"choices", oj::array({{{"index", 0},
                                       {"message", std::move(message)},
                                       {"logprobs", nullptr},
                                       {"finish_reason", chat_finish_reason(a)}}})},
               {"usage", chat_usage(a)},
               {"service_tier", "default"},
               {"system_fingerprint", "fp_drover_mock"}};
    r.body = dump(body);
    return r;
  }

  r.streaming = true;
  r.content_type = "text/event-stream";
  auto chunk = [&](oj delta, oj finish_reason) {
    oj c = {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", a.created},
            {"model", model},
            {"service_tier", "default"},
            {"system_fingerprint", "fp_drover_mock"},
            {"choices", oj::array({{{"index", 0},
                                    {"delta", std::move(delta)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", std::move(finish_reason)}}})}};
    if (info.include_usage) c["usage"] = nullptr;
    return sse_data(c);
  };
  r.events.push_back(chunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr));
  for (const auto& piece : split_pieces(a.thinking, a.pieces))
    r.events.push_back(chunk({{"reasoning_content", piece}}, nullptr));
  for (const auto& piece : split_pieces(a.text, a.pieces))
    r.events.push_back(chunk({{"content", piece}}, nullptr));
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    const auto& tc = a.tool_calls[i];
    r.events.push_back(chunk({{"tool_calls", oj::array({{{"index", i},
                                                          {"id", tool_id(a, i, "call_")},
                                                          {"type", "function"},
                                                          {"function", {{"name", tc.name},
                                                                        {"arguments", ""}}}}})}},
                             nullptr));
    for (const auto& piece : split_pieces(tc.arguments, 3))
      r.events.push_back(chunk(
          {{"tool_calls", oj::array({{{"index", i}, {"function", {{"arguments", piece}}}}})}},
          nullptr));
  }
  r.events.push_back(chunk(oj::object(), chat_finish_reason(a)));
  if (info.include_usage) {
    oj last = {{"id", id},
               {"object", "chat.completion.chunk"},
               {"created", a.created},
               {"model", model},
               {"service_tier", "default"},
               {"system_fingerprint", "fp_drover_mock"},
               {"choices", oj::array()},
               {"usage", chat_usage(a)}};
    r.events.push_back(sse_data(last));
  }
  r.events.push_back("data: [DONE]\n\n");
  return r;
}

// ---- OpenAI Responses ------------------------------------------------------------------------

oj responses_usage(const Answer& a) {
  return {{"input_tokens", a.input_tokens},
          {"input_tokens_details", {{"cached_tokens", a.cache_read_tokens}}},
          {"output_tokens", a.output_tokens},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", a.input_tokens + a.output_tokens}};
}

oj response_object(const RequestInfo& info, const Answer& a, std::string_view status, oj output,
                   oj usage) {
  const oj& body = info.body;
  oj r = {{"id", "resp_" + a.id},
          {"object", "response"},
          {"created_at", a.created},
          {"status", status},
          {"background", false},
          {"error", nullptr}};
  r["incomplete_details"] =
      status == "incomplete" ? oj{{"reason", "max_output_tokens"}} : oj();
  r["instructions"] = body.is_object() && body.contains("instructions") ? oj(body["instructions"]) : oj();
  r["max_output_tokens"] =
      body.is_object() && body.contains("max_output_tokens") ? oj(body["max_output_tokens"]) : oj();
  r["model"] = model_or_default(a);
  r["output"] = std::move(output);
  r["parallel_tool_calls"] = true;
  r["previous_response_id"] = nullptr;
  r["reasoning"] = {{"effort", nullptr}, {"summary", nullptr}};
  r["service_tier"] = "default";
  r["store"] = false;
  r["temperature"] = 1.0;
  r["text"] = {{"format", {{"type", "text"}}}, {"verbosity", "medium"}};
  r["tool_choice"] = "auto";
  r["tools"] = body.is_object() && body.contains("tools") ? oj(body["tools"]) : oj::array();
  r["top_p"] = 1.0;
  r["truncation"] = "disabled";
  r["usage"] = std::move(usage);
  r["user"] = nullptr;
  r["metadata"] = oj::object();
  return r;
}

struct ResponsesItems {
  oj reasoning, message;
  std::vector<oj> calls;
};

Reply responses_reply(const RequestInfo& info, const Answer& a) {
  Reply r;
  const std::string final_status = a.truncated ? "incomplete" : "completed";
  const std::string msg_id = "msg_" + a.id;
  const std::string rs_id = "rs_" + a.id;
  auto text_part = [&](const std::string& text) {
    return oj{{"type", "output_text"}, {"annotations", oj::array()}, {"logprobs", oj::array()},
              {"text", text}};
  };
  auto reasoning_item = [&](std::string_view status) {
    oj item = {{"id", rs_id}, {"type", "reasoning"}, {"summary", oj::array()}};
    if (status == "completed")
      item["summary"] = oj::array({{{"type", "summary_text"}, {"text", a.thinking}}});
    return item;
  };
  auto message_item = [&](std::string_view status) {
    oj item = {{"id", msg_id}, {"type", "message"}, {"status", status}};
    item["content"] = status == "completed" ? oj::array({text_part(a.text)}) : oj::array();
    item["role"] = "assistant";
    return item;
  };
  auto call_item = [&](size_t i, std::string_view status) {
    const auto& tc = a.tool_calls[i];
    return oj{{"id", "fc_" + a.id + "_" + std::to_string(i + 1)},
              {"type", "function_call"},
              {"status", status},
              {"arguments", status == "completed" ? tc.arguments : std::string()},
              {"call_id", tool_id(a, i, "call_")},
              {"name", tc.name}};
  };
  const bool has_message = !a.text.empty() || a.tool_calls.empty();

  oj output = oj::array();
  if (!a.thinking.empty()) output.push_back(reasoning_item("completed"));
  if (has_message) output.push_back(message_item("completed"));
  for (size_t i = 0; i < a.tool_calls.size(); ++i) output.push_back(call_item(i, "completed"));

  if (!info.stream) {
    oj body = response_object(info, a, final_status, output, responses_usage(a));
    if (has_message) body["output_text"] = a.text;
    r.body = dump(body);
    return r;
  }

  r.streaming = true;
  r.content_type = "text/event-stream";
  int64_t seq = 0;
  auto emit = [&](std::string_view type, oj fields) {
    oj e = {{"type", type}};
    for (auto it = fields.begin(); it != fields.end(); ++it) e[it.key()] = it.value();
    e["sequence_number"] = seq++;
    r.events.push_back(sse_event(type, e));
  };
  emit("response.created", {{"response", response_object(info, a, "in_progress", oj::array(), oj())}});
  emit("response.in_progress",
       {{"response", response_object(info, a, "in_progress", oj::array(), oj())}});
  size_t index = 0;
  if (!a.thinking.empty()) {
    emit("response.output_item.added", {{"output_index", index}, {"item", reasoning_item("in_progress")}});
    oj summary = {{"type", "summary_text"}, {"text", ""}};
    emit("response.reasoning_summary_part.added",
         {{"item_id", rs_id}, {"output_index", index}, {"summary_index", 0}, {"part", summary}});
    for (const auto& piece : split_pieces(a.thinking, a.pieces))
      emit("response.reasoning_summary_text.delta",
           {{"item_id", rs_id}, {"output_index", index}, {"summary_index", 0}, {"delta", piece}});
    emit("response.reasoning_summary_text.done",
         {{"item_id", rs_id}, {"output_index", index}, {"summary_index", 0}, {"text", a.thinking}});
    summary["text"] = a.thinking;
    emit("response.reasoning_summary_part.done",
         {{"item_id", rs_id}, {"output_index", index}, {"summary_index", 0}, {"part", summary}});
    emit("response.output_item.done", {{"output_index", index}, {"item", reasoning_item("completed")}});
    ++index;
  }
  if (has_message) {
    emit("response.output_item.added", {{"output_index", index}, {"item", message_item("in_progress")}});
    emit("response.content_part.added", {{"item_id", msg_id},
                                         {"output_index", index},
                                         {"content_index", 0},
                                         {"part", text_part("")}});
    for (const auto& piece : split_pieces(a.text, a.pieces))
      emit("response.output_text.delta", {{"item_id", msg_id},
                                          {"output_index", index},
                                          {"content_index", 0},
                                          {"delta", piece},
                                          {"logprobs", oj::array()}});
    emit("response.output_text.done", {{"item_id", msg_id},
                                       {"output_index", index},
                                       {"content_index", 0},
                                       {"text", a.text},
                                       {"logprobs", oj::array()}});
    emit("response.content_part.done", {{"item_id", msg_id},
                                        {"output_index", index},
                                        {"content_index", 0},
                                        {"part", text_part(a.text)}});
    emit("response.output_item.done", {{"output_index", index}, {"item", message_item("completed")}});
    ++index;
  }
  for (size_t i = 0; i < a.tool_calls.size(); ++i, ++index) {
    oj added = call_item(i, "in_progress");
    const std::string item_id = added["id"].get<std::string>();
    emit("response.output_item.added", {{"output_index", index}, {"item", added}});
    for (const auto& piece : split_pieces(a.tool_calls[i].arguments, 3))
      emit("response.function_call_arguments.delta",
           {{"item_id", item_id}, {"output_index", index}, {"delta", piece}});
    emit("response.function_call_arguments.done", {{"item_id", item_id},
                                                   {"output_index", index},
                                                   {"name", a.tool_calls[i].name},
                                                   {"arguments", a.tool_calls[i].arguments}});
    emit("response.output_item.done", {{"output_index", index}, {"item", call_item(i, "completed")}});
  }
  emit(a.truncated ? "response.incomplete" : "response.completed",
       {{"response", response_object(info, a, final_status, output, responses_usage(a))}});
  return r;
}

// ---- Anthropic Messages ----------------------------------------------------------------------

const char* anthropic_stop_reason(const Answer& a) {
  if (a.truncated) return "max_tokens";
  return a.tool_calls.empty() ? "end_turn" : "tool_use";
}

oj anthropic_usage(const Answer& a, int64_t output_tokens) {
  return {{"input_tokens", a.input_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", a.cache_read_tokens},
          {"output_tokens", output_tokens},
          {"service_tier", "standard"}};
}

Reply anthropic_reply(const RequestInfo& info, const Answer& a) {
  Reply r;
  const std::string id = "msg_" + a.id;
  const std::string model = model_or_default(a);
  const bool has_text = !a.text.empty() || a.tool_calls.empty();
  if (!info.stream) {
    oj content = oj::array();
    if (!a.thinking.empty())
      content.push_back({{"type", "thinking"}, {"thinking", a.thinking}, {"signature", "mock-signature"}});
    if (has_text) content.push_back({{"type", "text"}, {"text", a.text}});
    for (size_t i = 0; i < a.tool_calls.size(); ++i)
      content.push_back({{"type", "tool_use"},
                         {"id", tool_id(a, i, "toolu_")},
                         {"name", a.tool_calls[i].name},
                         {"input", parse_object(a.tool_calls[i].arguments)}});
    oj body = {{"id", id},
               {"type", "message"},
               {"role", "assistant"},
               {"model", model},
               {"content", std::move(content)},
               {"stop_reason", anthropic_stop_reason(a)},
               {"stop_sequence", nullptr},
               {"usage", anthropic_usage(a, a.output_tokens)}};
    r.body = dump(body);
    return r;
  }

  r.streaming = true;
  r.content_type = "text/event-stream";
  auto emit = [&](std::string_view type, oj fields) {
    oj e = {{"type", type}};
    for (auto it = fields.begin(); it != fields.end(); ++it) e[it.key()] = it.value();
    r.events.push_back(sse_event(type, e));
  };
  emit("message_start", {{"message", {{"id", id},
                                      {"type", "message"},
                                      {"role", "assistant"},
                                      {"model", model},
                                      {"content", oj::array()},
                                      {"stop_reason", nullptr},
                                      {"stop_sequence", nullptr},
                                      {"usage", anthropic_usage(a, 1)}}}});
  size_t index = 0;
  bool pinged = false;
  auto block_start = [&](oj block) {
    emit("content_block_start", {{"index", index}, {"content_block", std::move(block)}});
    if (!pinged) {
      emit("ping", oj::object());
      pinged = true;
    }
  };
  auto delta = [&](oj d) { emit("content_block_delta", {{"index", index}, {"delta", std::move(d)}}); };
  auto block_stop = [&] { emit("content_block_stop", {{"index", index++}}); };

  if (!a.thinking.empty()) {
    block_start({{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
    for (const auto& piece : split_pieces(a.thinking, a.pieces))
      delta({{"type", "thinking_delta"}, {"thinking", piece}});
    delta({{"type", "signature_delta"}, {"signature", "mock-signature"}});
    block_stop();
  }
  if (has_text) {
    block_start({{"type", "text"}, {"text", ""}});
    for (const auto& piece : split_pieces(a.text, a.pieces))
      delta({{"type", "text_delta"}, {"text", piece}});
    block_stop();
  }
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    block_start({{"type", "tool_use"},
                 {"id", tool_id(a, i, "toolu_")},
                 {"name", a.tool_calls[i].name},
                 {"input", oj::object()}});
    // The arguments re-serialized compactly, as the API streams them.
    std::string args = dump(parse_object(a.tool_calls[i].arguments));
    for (const auto& piece : split_pieces(args, 3))
      delta({{"type", "input_json_delta"}, {"partial_json", piece}});
    block_stop();
  }
  emit("message_delta", {{"delta", {{"stop_reason", anthropic_stop_reason(a)}, {"stop_sequence", nullptr}}},
                         {"usage", {{"input_tokens", a.input_tokens},
                                    {"cache_creation_input_tokens", 0},
                                    {"cache_read_input_tokens", a.cache_read_tokens},
                                    {"output_tokens", a.output_tokens}}}});
  emit("message_stop", oj::object());
  return r;
}

// ---- Gemini ----------------------------------------------------------------------------------

oj gemini_usage(const Answer& a) {
  oj u = {{"promptTokenCount", a.input_tokens},
          {"candidatesTokenCount", a.output_tokens},
          {"totalTokenCount", a.input_tokens + a.output_tokens}};
  if (a.cache_read_tokens > 0) u["cachedContentTokenCount"] = a.cache_read_tokens;
  u["promptTokensDetails"] = oj::array({{{"modality", "TEXT"}, {"tokenCount", a.input_tokens}}});
  return u;
}

oj gemini_chunk(const Answer& a, oj parts, bool last) {
  oj candidate = {{"content", {{"parts", std::move(parts)}, {"role", "model"}}}};
  if (last) candidate["finishReason"] = a.truncated ? "MAX_TOKENS" : "STOP";
  candidate["index"] = 0;
  oj c = {{"candidates", oj::array({std::move(candidate)})}};
  if (last) c["usageMetadata"] = gemini_usage(a);
  c["modelVersion"] = model_or_default(a);
  c["responseId"] = a.id;
  return c;
}

oj gemini_call_part(const Answer& a, size_t i) {
  return {{"functionCall", {{"id", tool_id(a, i, "call_")},
                            {"name", a.tool_calls[i].name},
                            {"args", parse_object(a.tool_calls[i].arguments)}}}};
}

Reply gemini_reply(const RequestInfo& info, const Answer& a) {
  Reply r;
  if (!info.stream) {
    oj parts = oj::array();
    if (!a.thinking.empty()) parts.push_back({{"text", a.thinking}, {"thought", true}});
    if (!a.text.empty() || a.tool_calls.empty()) parts.push_back({{"text", a.text}});
    for (size_t i = 0; i < a.tool_calls.size(); ++i) parts.push_back(gemini_call_part(a, i));
    r.body = dump(gemini_chunk(a, std::move(parts), true));
    return r;
  }
  // One chunk per text piece, then one per tool call; the last carries finishReason and usage.
  std::vector<oj> chunk_parts;
  for (const auto& piece : split_pieces(a.thinking, a.pieces))
    chunk_parts.push_back(oj::array({{{"text", piece}, {"thought", true}}}));
  for (const auto& piece : split_pieces(a.text, a.pieces))
    chunk_parts.push_back(oj::array({{{"text", piece}}}));
  for (size_t i = 0; i < a.tool_calls.size(); ++i)
    chunk_parts.push_back(oj::array({gemini_call_part(a, i)}));
  if (chunk_parts.empty()) chunk_parts.push_back(oj::array({{{"text", ""}}}));

  r.streaming = true;
  r.content_type = info.sse ? "text/event-stream" : "application/json";
  for (size_t i = 0; i < chunk_parts.size(); ++i) {
    bool last = i + 1 == chunk_parts.size();
    oj c = gemini_chunk(a, std::move(chunk_parts[i]), last);
    if (info.sse) {
      r.events.push_back(sse_data(c));
    } else {
      // Without alt=sse the stream is one JSON array, written element by element.
      r.events.push_back((i == 0 ? "[" : ",\r\n") + dump(c) + (last ? "]" : ""));
    }
  }
  return r;
}

struct ErrorKind {
  const char* openai_type;
  const char* openai_code;  // nullptr → null
  const char* anthropic_type;
  const char* gemini_status;
  const char* message;
};

ErrorKind error_kind(int status) {
  switch (status) {
    case 400: return {"invalid_request_error", nullptr, "invalid_request_error", "INVALID_ARGUMENT",
                      "Invalid request (mock gateway)."};
    case 401: return {"invalid_request_error", "invalid_api_key", "authentication_error",
                      "UNAUTHENTICATED", "Invalid API key (mock gateway)."};
    case 402: return {"insufficient_quota", "insufficient_quota", "billing_error",
                      "FAILED_PRECONDITION", "Your credit balance is too low (mock gateway)."};
    case 403: return {"permission_error", "forbidden", "permission_error", "PERMISSION_DENIED",
                      "Permission denied (mock gateway)."};
    case 404: return {"invalid_request_error", "not_found", "not_found_error", "NOT_FOUND",
                      "Not found (mock gateway)."};
    case 408: return {"timeout", "timeout", "timeout_error", "DEADLINE_EXCEEDED",
                      "Request timed out (mock gateway)."};
    case 413: return {"invalid_request_error", "request_too_large", "request_too_large",
                      "INVALID_ARGUMENT", "Request too large (mock gateway)."};
    case 429: return {"requests", "rate_limit_exceeded", "rate_limit_error", "RESOURCE_EXHAUSTED",
                      "Rate limit reached for requests (mock gateway)."};
    case 500: return {"server_error", nullptr, "api_error", "INTERNAL",
                      "Internal server error (mock gateway)."};
    case 502: return {"server_error", nullptr, "api_error", "UNAVAILABLE",
                      "Bad gateway (mock gateway)."};
    case 503: return {"server_error", "service_unavailable", "api_error", "UNAVAILABLE",
                      "Service unavailable (mock gateway)."};
    case 504: return {"server_error", "timeout", "timeout_error", "DEADLINE_EXCEEDED",
                      "Gateway timeout (mock gateway)."};
    case 529: return {"server_error", "overloaded", "overloaded_error", "UNAVAILABLE",
                      "Overloaded (mock gateway)."};
    default:
      if (status >= 500) return {"server_error", nullptr, "api_error", "INTERNAL", nullptr};
      return {"invalid_request_error", nullptr, "invalid_request_error", "FAILED_PRECONDITION",
              nullptr};
  }
}

}  // namespace

const std::vector<std::string>& default_models() {
  static const std::vector<std::string> kModels = {
      "gpt-4.1", "gpt-5.5", "claude-sonnet-4-5", "claude-opus-5-5", "gemini-2.5-flash", "mock-model"};
  return kModels;
}

std::vector<std::string> split_pieces(std::string_view text, size_t n) {
  std::vector<std::string> pieces;
  if (text.empty()) return pieces;
  if (n < 1) n = 1;
  const size_t size = (text.size() + n - 1) / n;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + size);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    pieces.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return pieces;
}

Reply render_answer(const RequestInfo& info, const Answer& answer) {
  switch (info.api) {
    case Api::responses: return responses_reply(info, answer);
    case Api::messages: return anthropic_reply(info, answer);
    case Api::generate:
    case Api::stream_generate: return gemini_reply(info, answer);
    default: return chat_reply(info, answer);
  }
}

Reply render_count_tokens(const RequestInfo& info, int64_t tokens) {
  Reply r;
  if (info.provider == Provider::gemini) {
    r.body = dump(oj{{"totalTokens", tokens},
                     {"promptTokensDetails", oj::array({{{"modality", "TEXT"}, {"tokenCount", tokens}}})}});
  } else {
    r.body = dump(oj{{"input_tokens", tokens}});
  }
  return r;
}

std::string error_body(Provider provider, int status, const std::optional<std::string>& message,
                       const std::optional<std::string>& type, const std::string& request_id) {
  ErrorKind kind = error_kind(status);
  std::string text = message ? *message
                     : kind.message ? std::string(kind.message)
                                    : "Request failed with status " + std::to_string(status) +
                                          " (mock gateway).";
  switch (provider) {
    case Provider::anthropic:
      return dump(oj{{"type", "error"},
                     {"error", {{"type", type ? *type : kind.anthropic_type}, {"message", text}}},
                     {"request_id", request_id}});
    case Provider::gemini:
      return dump(oj{{"error", {{"code", status},
                                {"message", text},
                                {"status", type ? *type : kind.gemini_status}}}});
    case Provider::openai:
      break;
  }
  return dump(oj{{"error", {{"message", text},
                            {"type", type ? *type : kind.openai_type},
                            {"param", nullptr},
                            {"code", kind.openai_code ? oj(kind.openai_code) : oj()}}}});
}

nlohmann::ordered_json model_object(Provider provider, const std::string& id) {
  if (provider == Provider::gemini) {
    return {{"name", "models/" + id},
            {"version", "001"},
            {"displayName", id},
            {"description", "drover mock gateway model"},
            {"inputTokenLimit", 1048576},
            {"outputTokenLimit", 65536},
            {"supportedGenerationMethods",
             oj::array({"generateContent", "streamGenerateContent", "countTokens"})}};
  }
  return {{"id", id},
          {"object", "model"},
          {"created", 1735689600},
          {"owned_by", "drover-mock"},
          {"type", "model"},
          {"display_name", id},
          {"created_at", "2025-01-01T00:00:00Z"}};
}

nlohmann::ordered_json models_list(Provider provider, const std::vector<std::string>& models) {
  oj data = oj::array();
  for (const auto& m : models) data.push_back(model_object(provider, m));
  if (provider == Provider::gemini) return {{"models", std::move(data)}};
  oj out = {{"object", "list"}, {"data", std::move(data)}, {"has_more", false}};
  out["first_id"] = models.empty() ? oj() : oj(models.front());
  out["last_id"] = models.empty() ? oj() : oj(models.back());
  return out;
}

}  // namespace drover::gateway
