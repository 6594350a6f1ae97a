// The wire formats of the direct API transport: building requests and decoding responses for
// OpenAI (chat completions, responses), Anthropic (messages) and Gemini (generateContent).
// Pure: no I/O, no clock. The HTTP side lives in src/api/http_client.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/attachment.h"
#include "drover/config.h"
#include "drover/result.h"
#include "parsers/sse_parser.h"
#include "src/config/wire_format.h"

namespace drover::api {

/// The public endpoint when a route sets no baseUrl (https://api.openai.com/v1,
/// https://api.anthropic.com, https://generativelanguage.googleapis.com).
std::string_view default_base_url(WireFormat format) noexcept;

/// One attachment of a model call (README "Attachments over the API"): its bytes, sent inline in
/// the provider's content block, or a remote https:// reference passed on as a URL.
struct ApiAttachment {
  std::string name;  ///< as the model sees it
  AttachmentCategory category = AttachmentCategory::other;
  std::string mime;
  std::string content;  ///< the bytes; empty for a remote reference
  std::optional<std::string> url;  ///< a remote reference, never fetched here
};

/// Whether `base_url` is the format's public endpoint (empty counts as it; trailing slashes
/// do not matter). Anything else is a custom endpoint.
bool is_default_endpoint(WireFormat format, std::string_view base_url);

/// Everything one model call needs.
struct ApiCall {
  WireFormat format = WireFormat::openai_chat;
  std::string base_url;  ///< API root as the official SDK takes it (no trailing slash needed)
  std::string model;
  std::string prompt;    ///< the user's text
  /// Sent before the prompt in the user message, in order: images and PDFs as content blocks,
  /// text files as text parts headed `[attachment: NAME]`, URLs as references.
  std::vector<ApiAttachment> attachments;
  ApiParameters parameters;  ///< system prompt, temperature, max tokens, response format, stream
  ApiCompat compat;
};

// ---- attachments ---------------------------------------------------------------------------

/// The categories `format` carries inline (all four: image, document = PDF, text) and those it
/// takes as remote https:// references: Anthropic image and document (url sources), OpenAI chat
/// image (image_url), OpenAI responses image and document (image_url, file_url), Gemini none.
std::vector<AttachmentCategory> inline_categories(WireFormat format);
std::vector<AttachmentCategory> remote_categories(WireFormat format);

/// The provider's documented limits on what a request carries inline; 0: none documented.
struct AttachmentLimits {
  uint64_t image_bytes = 0;          ///< one image
  uint64_t image_base64_bytes = 0;   ///< one image, base64-encoded (Anthropic counts it so)
  uint64_t images_total_bytes = 0;   ///< all images of the request
  std::size_t max_images = 0;        ///< images per request
  uint64_t document_bytes = 0;       ///< one PDF
  uint64_t documents_total_bytes = 0;  ///< all PDFs of the request
  uint64_t request_bytes = 0;        ///< the whole request body
};
AttachmentLimits attachment_limits(WireFormat format);
/// The largest attachment `format` can carry inline (what staging loads into memory).
uint64_t max_inline_attachment_bytes(WireFormat format);

/// Whether `format` takes images of type `mime` inline (Anthropic and OpenAI: JPEG, PNG, GIF,
/// WebP; Gemini: PNG, JPEG, WebP, HEIC, HEIF).
bool takes_image_type(WireFormat format, std::string_view mime);

/// Checks call.attachments before anything is sent: unsupported_capability for an image type
/// the provider does not take, validation_error naming the attachment and the limit it is over.
std::optional<Error> check_attachments(const ApiCall& call);
/// validation_error when a built body is over the provider's request size limit.
std::optional<Error> check_request_size(WireFormat format, std::size_t body_bytes);

/// How `attachment` reaches the model, in the result's vocabulary: image, document, text, link.
std::string_view attachment_delivery(const ApiAttachment& attachment) noexcept;

struct HttpRequestSpec {
  std::string method = "POST";
  std::string url;  ///< absolute
  std::vector<std::pair<std::string, std::string>> headers;  ///< never the auth header
  std::string body;  ///< compact JSON ("" for GET)
};

/// Builds the request for `call`: URL from base_url (OpenAI: {base}/chat/completions or
/// {base}/responses; Anthropic: {base}/v1/messages; Gemini:
/// {base}/v1beta/models/{model}:generateContent or :streamGenerateContent?alt=sse), content
/// headers (anthropic-version for Anthropic), and the JSON body honouring the compat flags:
/// max tokens field, system prompt as `developer` or `system`, stream_options.include_usage,
/// json_schema strictness, reasoning effort.
HttpRequestSpec build_request(const ApiCall& call);

/// The header that carries `key` for `format`: Authorization: Bearer (OpenAI), x-api-key
/// (Anthropic), x-goog-api-key (Gemini).
std::pair<std::string, std::string> auth_header(WireFormat format, const std::string& key);

/// GET {base}/models (OpenAI, Anthropic: {base}/v1/models) or {base}/v1beta/models (Gemini).
HttpRequestSpec build_models_request(WireFormat format, const std::string& base_url);

struct ModelInfo {
  std::string id;  ///< as a route names it (Gemini's "models/" prefix removed)
  std::optional<std::string> display_name;
  std::optional<int64_t> context_window;  ///< when the listing reports it (Gemini inputTokenLimit)
};
/// Parses a models listing; nullopt when the body is not a listing of `format`.
std::optional<std::vector<ModelInfo>> parse_models_response(WireFormat format,
                                                            std::string_view body);

/// What a response said, streamed or not.
struct DecodedResponse {
  std::string text;
  std::string thinking;
  std::optional<Usage> usage;  ///< normalized; calls = 1 when any usage was reported
  std::optional<std::string> stop_reason;  ///< as the provider spelled it
  std::optional<std::string> model;
  std::optional<std::string> response_id;
  nlohmann::json tool_calls = nlohmann::json::array();  ///< [{id, name, arguments}] in order
  std::optional<Error> error;  ///< an error reported inside a 200 response or mid-stream
  bool complete = false;  ///< the stream reached its terminal event ([DONE], message_stop,
                          ///< response.completed, a finishReason)
};

/// Decodes one streaming response, fed its SSE events in order. Emits Event::Kind::delta (answer
/// text), thinking, tool (when a tool call is complete) and usage events as they are known; the
/// concatenated deltas equal DecodedResponse::text.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual void on_event(const parsers::SseEvent& event, std::vector<Event>& out) = 0;
  virtual DecodedResponse finish() = 0;
};
std::unique_ptr<StreamDecoder> make_stream_decoder(WireFormat format);

/// Decodes a non-streaming response body (status 2xx).
DecodedResponse decode_response_body(WireFormat format, std::string_view body);

/// The tool event of a tool call in DecodedResponse::tool_calls form ({id, name, arguments}): status
/// pending (the model asked for it, nothing ran it), kind other (API tools are the caller's own),
/// `raw` the provider's JSON of the call, or the call itself when there is no single object.
Event tool_call_event(nlohmann::json call, nlohmann::json raw = nullptr);

/// Maps a non-2xx response to an Error: 401/403 auth_error; 429 rate_limit (quota/billing
/// wording: quota_exhausted); 5xx and 529 temporary_unavailable; context-length rejections
/// context_overflow; other 4xx validation_error. The message is the provider's own, unwrapped
/// from nested or stringified envelopes (parsers::unwrap_error_message), prefixed with the
/// status ("HTTP 429: Rate limit reached"). `retry_after` is the Retry-After header value
/// (seconds or an HTTP date), also honoured from retry-after-ms / body hints.
Error map_http_error(WireFormat format, int status, std::string_view body,
                     const std::optional<std::string>& retry_after,
                     const std::optional<std::string>& retry_after_ms = std::nullopt);

/// Whether a 400 rejection is about the response_format / json_schema parameter (the caller
/// then retries once without it).
bool rejects_response_format(int status, std::string_view body);

}  // namespace drover::api
