#include "parsers/utf8.h"

#include "parsers/ansi_cleaner.h"

namespace drover::parsers {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the well-formed sequence starting at `s[i]`, or 0 when ill-formed; `bad_len` is
/// then the length of the maximal subpart to replace (at least 1).
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t& bad_len) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    bad_len = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    const unsigned char c = byte(i + k);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) break;
  }
  if (k > need) return need + 1;
  bad_len = k;  // the lead plus the continuation bytes that were still plausible
  return 0;
}

}  // namespace

std::size_t append_valid_utf8(std::string& out, std::string_view bytes) {
  std::size_t replaced = 0;
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    std::size_t run = i;
    while (run < n && static_cast<unsigned char>(bytes[run]) < 0x80) ++run;
    // Multi-byte sequences are validated one at a time but copied together with the ASCII run.
    while (run < n && static_cast<unsigned char>(bytes[run]) >= 0x80) {
      std::size_t bad_len = 0;
      const std::size_t len = sequence_length(bytes, run, bad_len);
      if (len == 0) {
        out.append(bytes.data() + i, run - i);
        out.append(kReplacement);
        ++replaced;
        run += bad_len;
        i = run;
        continue;
      }
      run += len;
      while (run < n && static_cast<unsigned char>(bytes[run]) < 0x80) ++run;
    }
    out.append(bytes.data() + i, run - i);
    i = run;
  }
  return replaced;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_valid_utf8(out, bytes);
  return out;
}

std::string excerpt(std::string_view bytes, std::size_t max_chars) {
  // Look at a bounded prefix only: a garbage line may be megabytes long.
  const std::size_t budget = max_chars * 4 + 256;
  bool cut = bytes.size() > budget;
  if (cut) bytes = bytes.substr(0, budget);

  AnsiCleaner cleaner({.strip_escapes = true, .resolve_line_resets = false, .make_valid_utf8 = true});
  std::string clean;
  cleaner.feed(bytes, clean);
  cleaner.finish(clean);

  std::string out;
  std::size_t chars = 0;
  std::size_t i = 0;
  for (; i < clean.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(clean[i]);
    const bool starts_char = (c & 0xC0) != 0x80;
    if (starts_char) {
      if (chars == max_chars) {
        cut = true;
        break;
      }
      ++chars;
    }
    out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
  }
  // Trailing blanks (a line's own newline, spaces) say nothing.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::size_t first = 0;
  while (first < out.size() && out[first] == ' ') ++first;
  out.erase(0, first);
  if (cut) out += "…";
  if (out.empty()) return "(empty)";
  return out;
}

std::size_t keep_utf8_tail(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return 0;
  std::size_t cut = text.size() - max_bytes;
  while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
  text.erase(0, cut);
  return cut;
}

bool append_keeping_tail(std::string& text, std::string_view piece, std::size_t max_bytes) {
  const std::size_t limit = max_bytes + max_bytes / 16;
  const std::size_t needed = text.size() + piece.size();
  // A large text gets its final capacity at once: growing by reallocation would leave the freed
  // buffers in the heap, resident.
  // (Beyond 256 MiB, ordinary growth: a reservation that large might not be granted.)
  if (needed > text.capacity() && needed > (std::size_t{1} << 20))
    text.reserve(limit <= (std::size_t{256} << 20) ? limit : 2 * needed);
  if (needed <= limit) {
    text.append(piece);
    return false;
  }
  // Room is made first: the text never grows past `limit`. It stays a suffix of everything
  // appended, so where the cuts fall never changes what keep_utf8_tail() finally keeps.
  if (piece.size() >= max_bytes) {
    text.assign(piece.substr(piece.size() - max_bytes));
  } else {
    text.erase(0, needed - max_bytes);
    text.append(piece);
  }
  std::size_t split = 0;
  while (split < text.size() && (static_cast<unsigned char>(text[split]) & 0xC0) == 0x80) ++split;
  text.erase(0, split);
  return true;
}

}  // namespace drover::parsers
