#include "src/config/wire_format.h"

namespace drover::api {

std::string_view to_string(WireFormat format) noexcept {
  switch (format) {
    case WireFormat::openai_chat: return "openai-chat";
    case WireFormat::openai_responses: return "openai-responses";
    case WireFormat::anthropic_messages: return "anthropic";
    case WireFormat::gemini: return "gemini";
  }
  return "openai-chat";
}

std::optional<WireFormat> wire_format_from_string(std::string_view name) noexcept {
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::openai_responses,
                       WireFormat::anthropic_messages, WireFormat::gemini})
    if (to_string(f) == name) return f;
  return std::nullopt;
}

std::optional<WireFormat> default_wire_format(std::string_view provider_id) noexcept {
  if (provider_id == "openai") return WireFormat::openai_chat;
  if (provider_id == "anthropic") return WireFormat::anthropic_messages;
  if (provider_id == "gemini" || provider_id == "google") return WireFormat::gemini;
  return std::nullopt;
}

}  // namespace drover::api
