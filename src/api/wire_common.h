// Private helpers shared by the wire formats (src/api/wire_*.cpp). Not installed, not public.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/api/wire.h"

namespace drover::api::wire {

using nlohmann::json;

/// Parses `text` without throwing. Text with ill-formed UTF-8 (which nlohmann rejects) is parsed
/// again after repair, so that one bad byte costs a U+FFFD and not the whole chunk.
std::optional<json> parse_json(std::string_view text);

/// `object[key]` when `object` is an object holding `key` with a non-null value, else nullptr.
const json* field(const json& object, std::string_view key);
/// The string at `object[key]`, or "" when absent or not a string.
std::string string_field(const json& object, std::string_view key);
/// The string at `object[key]` when it is a non-empty string.
std::optional<std::string> nonempty_string(const json& object, std::string_view key);

/// Base URL without trailing slashes; the format's public endpoint when `base_url` is empty.
std::string base_url_or_default(WireFormat format, std::string_view base_url);

/// The response_format parameter, read from the flat form ApiParameters documents
/// ({"type":"json_schema","name","schema","strict"}) or the chat-completions form
/// ({"type":"json_schema","json_schema":{...}}).
struct ResponseFormat {
  enum class Kind { none, json_object, json_schema, other };
  Kind kind = Kind::none;
  std::string name = "response";  ///< OpenAI requires a name; "response" when none was given
  std::optional<std::string> description;
  json schema = json::object();
  std::optional<bool> strict;
  json raw;  ///< the parameter as configured (Kind::other passes it through)
};
ResponseFormat read_response_format(const std::optional<json>& parameter);

/// "data:<mime>;base64,<bytes, base64-encoded>".
std::string data_url(std::string_view mime, std::string_view bytes);
/// A text attachment as the model reads it: "[attachment: NAME]", a newline, then its content.
std::string attachment_text(const ApiAttachment& attachment);

/// The system prompt when set and not empty.
std::optional<std::string> system_prompt(const ApiParameters& parameters);

/// Tool call arguments as the result carries them: the parsed JSON value when the text is JSON
/// ({} when empty), else the raw text.
json tool_arguments(std::string_view text);
/// {id, name, arguments}.
json tool_call(std::string id, std::string name, json arguments);

/// Usage from a provider usage object: normalized, calls = 1.
std::optional<Usage> provider_usage(const json& usage);

/// Classifies an error a provider reported: an HTTP error body, an error event in a stream, or
/// an error object inside a 2xx body. `status` is the HTTP status (0 when none, as mid-stream).
/// `payload` is the whole parsed body or event (may be null when the body is not JSON);
/// `raw` the text it came from. The message has no "HTTP" prefix.
Error classify_error(int status, const json& payload, std::string_view raw);

/// Seconds/milliseconds from the retry hints: `retry-after-ms` (milliseconds, may be fractional),
/// `Retry-After` (delta-seconds or an HTTP date, relative to `now_unix_ms`), then a Gemini
/// RetryInfo `retryDelay` ("30s", "1.5s") in the body. nullopt when none is usable.
std::optional<int64_t> retry_after_hint(const std::optional<std::string>& retry_after,
                                        const std::optional<std::string>& retry_after_ms,
                                        const json& payload, int64_t now_unix_ms);
/// An HTTP date (IMF-fixdate, RFC 850 or asctime form) as Unix milliseconds.
std::optional<int64_t> parse_http_date(std::string_view text);
/// A protobuf Duration in JSON form ("30s", "1.500s") as milliseconds.
std::optional<int64_t> parse_duration_ms(std::string_view text);
/// The wall clock, in Unix milliseconds: the only clock the wire layer reads (to turn a
/// Retry-After date into a delay).
int64_t now_unix_ms() noexcept;

/// The error object an error body or event carries: body["error"] when it is an object, the body
/// itself otherwise; the first element of a JSON array (Gemini's streaming endpoints answer
/// errors as [{...}]).
const json& error_object(const json& payload);

/// Shared state and event emission of the stream decoders.
class DecoderBase : public StreamDecoder {
 public:
  DecodedResponse finish() override;

 protected:
  void emit_delta(std::string_view text, std::vector<Event>& out);
  void emit_thinking(std::string_view text, std::vector<Event>& out);
  /// `call` is {id, name, arguments}; see tool_call_event.
  void emit_tool(json call, std::vector<Event>& out, json raw = nullptr);
  /// Emits the usage event once, with the usage known now (called at the terminal event).
  void emit_usage_once(std::vector<Event>& out);
  /// Normalizes a provider usage object into response_.usage (when it carries any count) and
  /// keeps it as the usage event's `raw`.
  void update_usage_from(const json& usage);
  void warn_not_json(std::string_view data, std::vector<Event>& out);
  void set_error(Error error);
  /// Parses an event's data; empty data gives nullopt without a warning.
  std::optional<json> parse_event(const parsers::SseEvent& event, std::vector<Event>& out);
  /// Called by finish() before it returns the response (tool calls still being assembled).
  virtual void on_finish() {}

  DecodedResponse response_;
  json usage_raw_;  // the provider's usage object response_.usage was read from
  bool usage_emitted_ = false;
};

// Per-format entry points (wire_openai.cpp, wire_anthropic.cpp, wire_gemini.cpp).
void build_openai_chat(const ApiCall& call, HttpRequestSpec& spec);
void build_openai_responses(const ApiCall& call, HttpRequestSpec& spec);
void build_anthropic(const ApiCall& call, HttpRequestSpec& spec);
void build_gemini(const ApiCall& call, HttpRequestSpec& spec);
std::unique_ptr<StreamDecoder> make_openai_chat_decoder();
std::unique_ptr<StreamDecoder> make_openai_responses_decoder();
std::unique_ptr<StreamDecoder> make_anthropic_decoder();
std::unique_ptr<StreamDecoder> make_gemini_decoder();
DecodedResponse decode_openai_chat_body(const json& body);
DecodedResponse decode_openai_responses_body(const json& body);
DecodedResponse decode_anthropic_body(const json& body);
DecodedResponse decode_gemini_body(const json& body);

/// The instruction the Anthropic request appends to its system prompt for a response_format
/// (Anthropic's Messages API has no such parameter); nullopt for none / text.
std::optional<std::string> format_instruction(const ResponseFormat& format);

}  // namespace drover::api::wire
