#include "parsers/ansi_cleaner.h"

#include "parsers/output_parser.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

constexpr unsigned char kEsc = 0x1B;
constexpr unsigned char kBel = 0x07;

}  // namespace

void AnsiCleaner::feed(std::string_view chunk, std::string& out) {
  const char* p = chunk.data();
  const std::size_t n = chunk.size();
  std::size_t i = 0;
  while (i < n) {
    if (state_ == State::text && !pending_cr_) {
      // Fast path: copy the run of ordinary bytes in one go.
      std::size_t j = i;
      while (j < n) {
        const unsigned char c = static_cast<unsigned char>(p[j]);
        if (c == '\n' || (c == kEsc && options_.strip_escapes) ||
            (c == '\r' && options_.resolve_line_resets))
          break;
        ++j;
      }
      line_.append(p + i, j - i);
      i = j;
      // Checked before the next special byte: the pieces never depend on the chunking.
      while (line_.size() > options_.max_line_bytes) pass_on_long_line(out);
      if (i == n) break;
    }
    step(static_cast<unsigned char>(p[i]), out);
    while (line_.size() > options_.max_line_bytes) pass_on_long_line(out);
    ++i;
  }
}

void AnsiCleaner::pass_on_long_line(std::string& out) {
  // The first max_line_bytes, less a character that straddles the cut (it goes with the rest).
  std::size_t cut = options_.max_line_bytes;
  std::size_t back = 0;
  while (back < 3 && cut > back &&
         (static_cast<unsigned char>(line_[cut - back]) & 0xC0) == 0x80)
    ++back;
  if (back > 0 && back < cut && static_cast<unsigned char>(line_[cut - back]) >= 0xC0)
    cut -= back;
  if (cut == 0) cut = options_.max_line_bytes;
  const std::string_view piece(line_.data(), cut);
  if (options_.make_valid_utf8)
    invalid_utf8_replaced_ += append_valid_utf8(out, piece);
  else
    out += piece;
  line_.erase(0, cut);
}

void AnsiCleaner::finish(std::string& out) {
  // A trailing '\r' overwrote nothing yet, and an unfinished escape sequence is dropped.
  pending_cr_ = false;
  state_ = State::text;
  if (line_.empty()) return;
  if (options_.make_valid_utf8)
    invalid_utf8_replaced_ += append_valid_utf8(out, line_);
  else
    out += line_;
  line_.clear();
}

void AnsiCleaner::complete_line(std::string& out) {
  if (options_.make_valid_utf8)
    invalid_utf8_replaced_ += append_valid_utf8(out, line_);
  else
    out += line_;
  out.push_back('\n');
  line_.clear();
}

void AnsiCleaner::step(unsigned char b, std::string& out) {
  // Bytes >= 0x80 are never C1 controls here: 0x9B and friends are UTF-8 continuation bytes.
  // An aborted sequence hands its byte back to the text state ("continue").
  for (;;) {
    switch (state_) {
      case State::text:
        if (pending_cr_) {
          if (b == '\r') return;  // "\r\r\n" is still one newline
          pending_cr_ = false;
          if (b == '\n') {
            complete_line(out);
            return;
          }
          line_.clear();  // the spinner frame is overwritten by what follows
        }
        if (b == '\n') {
          complete_line(out);
        } else if (b == '\r' && options_.resolve_line_resets) {
          pending_cr_ = true;
        } else if (b == kEsc && options_.strip_escapes) {
          state_ = State::escape;
        } else {
          line_.push_back(static_cast<char>(b));
        }
        return;

      case State::escape:
        if (b == '[') {
          state_ = State::csi;
          csi_param_len_ = 0;
          csi_has_intermediate_ = false;
        } else if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_') {
          state_ = State::string_body;
        } else if (b >= 0x20 && b <= 0x2F) {
          state_ = State::escape_intermediate;
        } else if (b >= 0x30 && b <= 0x7E) {
          state_ = State::text;
        } else if (b == kEsc) {
          // ESC ESC: the first one was aborted, the second starts over.
        } else {
          state_ = State::text;
          continue;
        }
        return;

      case State::escape_intermediate:
        if (b >= 0x20 && b <= 0x2F) return;
        state_ = State::text;
        if (b >= 0x30 && b <= 0x7E) return;
        continue;

      case State::csi:
        if (b >= 0x30 && b <= 0x3F) {
          if (csi_param_len_ < sizeof(csi_params_)) csi_params_[csi_param_len_] = static_cast<char>(b);
          if (csi_param_len_ < 255) ++csi_param_len_;
          return;
        }
        if (b >= 0x20 && b <= 0x2F) {
          csi_has_intermediate_ = true;
          return;
        }
        state_ = State::text;
        if (b >= 0x40 && b <= 0x7E) {
          end_csi(b);
          return;
        }
        continue;  // malformed: a control or non-ASCII byte ends it and is kept

      case State::string_body:
        if (b == kBel) {
          state_ = State::text;
        } else if (b == kEsc) {
          state_ = State::string_escape;
        } else if (b == '\n') {
          // Unterminated OSC: give the line back rather than swallow the rest of the answer.
          state_ = State::text;
          continue;
        }
        return;

      case State::string_escape:
        if (b == '\\') {
          state_ = State::text;
          return;
        }
        state_ = State::escape;  // ESC that is not ST starts a new sequence
        continue;
    }
    return;
  }
}

void AnsiCleaner::end_csi(unsigned char final_byte) {
  if (!options_.resolve_line_resets || csi_has_intermediate_) return;
  if (csi_param_len_ > sizeof(csi_params_)) return;  // longer than anything matched below
  const std::string_view params(csi_params_, csi_param_len_);
  // Erase line (1K, 2K) and cursor-to-column-1 (G, 1G) are how spinners redraw without '\r'.
  if (final_byte == 'K' && (params == "1" || params == "2")) line_.clear();
  if (final_byte == 'G' && (params.empty() || params == "0" || params == "1")) line_.clear();
}

std::string strip_ansi(std::string_view text) {
  AnsiCleaner cleaner({.strip_escapes = true, .resolve_line_resets = true, .make_valid_utf8 = false});
  std::string out;
  out.reserve(text.size());
  cleaner.feed(text, out);
  cleaner.finish(out);
  return out;
}

}  // namespace drover::parsers
