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

/// Drops the front of `text` so that at most `max_bytes` remain, cutting before a character (never
/// inside a UTF-8 sequence). Returns how many bytes were dropped.
std::size_t keep_utf8_tail(std::string& text, std::size_t max_bytes);

/// Appends `piece` to `text`, keeping only the last `max_bytes` (keep_utf8_tail) once the text
/// has grown a sixteenth past them: amortized O(1) per byte. True when this call dropped anything.
bool append_keeping_tail(std::string& text, std::string_view piece, std::size_t max_bytes);

/// A short printable excerpt of untrusted output for warnings and error messages: escape
/// sequences removed, control characters shown as spaces, ill-formed UTF-8 replaced, at most
/// `max_chars` code points, "…" appended when cut. "(empty)" when nothing printable remains.
std::string excerpt(std::string_view bytes, std::size_t max_chars);

}  // namespace drover::parsers
