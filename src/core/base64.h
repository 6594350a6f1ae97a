// Base64 (RFC 4648, standard alphabet, padded): attachments inline in ACP and API content
// blocks and in data: URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace drover {

std::string base64_encode(std::string_view bytes);
/// nullopt for anything but canonical-alphabet base64 (padding optional; ASCII whitespace
/// between groups is skipped, as data: URLs and PEM-style text may wrap).
std::optional<std::string> base64_decode(std::string_view text);
/// Bytes `text` decodes to, without decoding (for size checks before allocating); assumes valid.
std::size_t base64_decoded_size(std::string_view text) noexcept;

}  // namespace drover
