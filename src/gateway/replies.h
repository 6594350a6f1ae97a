// Renders the mock gateway's answers in each provider's wire format: non-streaming bodies, the
// SSE event sequences of streams, provider-shaped error bodies and model listings. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/gateway/request_info.h"

namespace drover::gateway {

struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments;  ///< JSON text of an object
};

/// What to say, independent of the wire format.
struct Answer {
  std::string text;
  std::string thinking;
  std::vector<ToolCallOut> tool_calls;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  bool truncated = false;  ///< stop reason max_tokens / length / MAX_TOKENS
  size_t pieces = 4;       ///< text deltas in a stream
  std::string model;
  std::string id;          ///< unique per request, e.g. "mock_000042"
  int64_t created = 0;     ///< unix seconds
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  bool streaming = false;
  std::string body;                 ///< when not streaming
  std::vector<std::string> events;  ///< when streaming: written one at a time (one "chunk" each)
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The answer in the format of `info.api` (streamed when `info.stream`).
Reply render_answer(const RequestInfo& info, const Answer& answer);

/// `count_tokens` / `countTokens`.
Reply render_count_tokens(const RequestInfo& info, int64_t tokens);

/// A provider-shaped error: OpenAI {"error":{"message","type","param","code"}}, Anthropic
/// {"type":"error","error":{"type","message"},"request_id"}, Gemini {"error":{"code","message","status"}}.
std::string error_body(Provider provider, int status, const std::optional<std::string>& message,
                       const std::optional<std::string>& type, const std::string& request_id);

/// GET /v1/models: one shape for OpenAI and Anthropic clients; Gemini's {"models":[…]}.
nlohmann::ordered_json models_list(Provider provider, const std::vector<std::string>& models);
nlohmann::ordered_json model_object(Provider provider, const std::string& id);

/// Splits `text` into at most `n` non-empty pieces of similar size, never inside a UTF-8 sequence.
std::vector<std::string> split_pieces(std::string_view text, size_t n);

/// The default models every listing carries.
const std::vector<std::string>& default_models();

}  // namespace drover::gateway
