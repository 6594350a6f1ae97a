// UTF-8 hygiene for text that ends up in a Result: its JSON form must never carry invalid bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace drover::parsers {

/// Appends `bytes` to `out`, replacing every ill-formed UTF-8 subsequence with U+FFFD (one per
/// maximal subpart, as Unicode recommends). Valid text, including bytes >= 0x80, passes unchanged.
/// Returns how many replacements were made.
std::size_t append_valid_utf8(std::string& out, std::string_view bytes);

/// `bytes` as valid UTF-8 (see append_valid_utf8).
std::string valid_utf8(std::string_view bytes);

/// A short printable excerpt of untrusted output for warnings and error messages: escape
/// sequences removed, control characters shown as spaces, ill-formed UTF-8 replaced, at most
/// `max_chars` code points, "…" appended when cut. "(empty)" when nothing printable remains.
std::string excerpt(std::string_view bytes, std::size_t max_chars);

}  // namespace drover::parsers
