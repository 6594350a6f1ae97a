// What the mock gateway reads from an incoming request: which API it is, the model, whether it
// streams, and the user's prompt. Liberal on purpose: real harnesses vary the path prefix, add
// query strings and unknown fields, and wrap the prompt in markup (HARNESSES.md §2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace drover::gateway {

/// The wire family, which decides the shape of answers and error bodies.
enum class Provider { openai, anthropic, gemini };

enum class Api {
  models_list,     ///< GET …/models (OpenAI and Anthropic shape) or …/v1beta/models (Gemini)
  model_get,       ///< GET …/models/{id}
  chat,            ///< POST …/chat/completions
  responses,       ///< POST …/responses
  messages,        ///< POST …/messages
  count_tokens,    ///< POST …/messages/count_tokens, …/models/{m}:countTokens
  generate,        ///< POST …/models/{m}:generateContent
  stream_generate, ///< POST …/models/{m}:streamGenerateContent
  health,          ///< GET / or /health
  unknown,
};

std::string_view to_string(Provider provider) noexcept;
std::string_view to_string(Api api) noexcept;
/// "openai", "anthropic", "gemini"; nullopt otherwise.
std::optional<Provider> provider_from_string(std::string_view name) noexcept;

/// The parts of an HTTP request the analysis needs (kept apart from httplib for clarity).
struct HttpInput {
  std::string method;
  std::string path;  ///< decoded, without the query string
  std::multimap<std::string, std::string> params;  ///< query parameters
  /// Case-insensitive header lookup: returns "" when absent.
  std::function<std::string(const std::string&)> header;
  std::string body;
};

/// One attachment a request carries (README "The request log"): what kind of part it is, its
/// MIME type and decoded size, or the URL it references. The bytes themselves are never kept.
struct AttachmentInfo {
  std::string part;         ///< the wire part: image_url, file, input_image, input_file, image,
                            ///< document, inlineData, fileData
  std::string type;         ///< "image" or "document" (any other file)
  std::string mime;         ///< "" when the request does not say
  std::string name;         ///< the filename given with it, if any (cut at 200 characters)
  std::optional<uint64_t> bytes;  ///< decoded size of inline data
  std::string url;          ///< a referenced URL, without its query string
  std::string file_id;      ///< an uploaded file referenced by id
  bool invalid = false;     ///< inline data that is not valid base64 (or a malformed data: URL)
};

/// At most this many attachments are recorded per request; the rest are only counted.
inline constexpr size_t kMaxRecordedAttachments = 100;

struct RequestInfo {
  std::string method;
  std::string path;
  Api api = Api::unknown;
  Provider provider = Provider::openai;
  std::string model;            ///< "" when the request names none
  bool stream = false;
  bool sse = true;              ///< Gemini streams without ?alt=sse are a JSON array
  bool include_usage = false;   ///< Chat: stream_options.include_usage
  size_t message_count = 0;
  std::string last_user_text;   ///< markup lines dropped, trimmed
  int64_t input_words = 0;      ///< words in every message, system prompt and instructions
  bool has_tools = false;       ///< the request offers tools
  bool tool_result = false;     ///< the conversation ends with a tool result
  std::vector<AttachmentInfo> attachments;  ///< in request order, at most kMaxRecordedAttachments
  size_t attachments_omitted = 0;           ///< attachments past that bound
  std::string api_key;          ///< compared by script rules, never logged
  nlohmann::json body;          ///< the parsed body; null when empty or not JSON
  bool body_is_json = true;     ///< false when a body was sent and does not parse
  bool body_too_deep = false;   ///< not JSON because it nests deeper than parsers::kMaxJsonDepth
};

RequestInfo analyze_request(const HttpInput& input);

/// Drops markup from a user message: a line that starts with `<tag…>` goes, and when a later line
/// closes that tag (`</tag>`) everything up to and including that line goes too (Claude Code's
/// `<system-reminder>` blocks, Codex's `<environment_context>`); any other line starting with `<`
/// goes as well. The rest is trimmed.
std::string strip_markup(std::string_view text);

/// Whitespace-separated words.
int64_t count_words(std::string_view text);

/// The first `max_chars` code points of UTF-8 `text`.
std::string truncate_utf8(std::string_view text, size_t max_chars);

}  // namespace drover::gateway
