// The wire formats an API route may speak, by the names config files use (`transport.api.format`).
// The API transport (src/api/wire.h) builds and decodes each; the configuration only checks the
// name and picks the default for well-known provider ids.
#pragma once

#include <optional>
#include <string_view>

namespace drover::api {

enum class WireFormat { openai_chat, openai_responses, anthropic_messages, gemini };

/// "openai-chat", "openai-responses", "anthropic", "gemini".
std::string_view to_string(WireFormat format) noexcept;
std::optional<WireFormat> wire_format_from_string(std::string_view name) noexcept;
/// Default format for a provider id: openai → openai_chat, anthropic → anthropic_messages,
/// gemini and google → gemini; nullopt otherwise.
std::optional<WireFormat> default_wire_format(std::string_view provider_id) noexcept;

}  // namespace drover::api
