// Incremental terminal-output cleaner: bytes in, finished lines out. Escape sequences and "\r\n"
// may be split across chunks; the output never depends on where the chunks were cut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace drover::parsers {

class AnsiCleaner {
 public:
  struct Options {
    /// Drop CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings (ESC ] ... BEL or ESC \) and the
    /// other ESC sequences (ESC, optional intermediates 0x20-0x2F, final 0x30-0x7E).
    bool strip_escapes = true;
    /// Spinner handling: a '\r' not followed by '\n' discards the line written so far, as do
    /// "erase line" (CSI 1K / 2K) and "cursor to column 1" (CSI G / 1G). A run of '\r' before
    /// '\n' is one newline. When off, '\r' is an ordinary byte.
    bool resolve_line_resets = true;
    /// Replace ill-formed UTF-8 in finished lines with U+FFFD.
    bool make_valid_utf8 = false;
    /// A line growing past this many bytes is passed on in pieces, without a '\n', so that one
    /// endless line never sits in memory whole; a later line reset only discards what follows
    /// the last piece.
    std::size_t max_line_bytes = SIZE_MAX;
  };

  explicit AnsiCleaner(Options options) : options_(options) {}

  /// Consumes `chunk`; appends each line it completes (with its '\n') to `out`.
  void feed(std::string_view chunk, std::string& out);
  /// End of input: appends the unterminated last line, if any (a pending '\r' keeps it).
  void finish(std::string& out);
  /// How many ill-formed UTF-8 sequences were replaced so far (make_valid_utf8).
  std::size_t invalid_utf8_replaced() const noexcept { return invalid_utf8_replaced_; }

 private:
  enum class State : std::uint8_t {
    text,
    escape,               // after ESC
    escape_intermediate,  // ESC 0x20-0x2F ...
    csi,                  // ESC [ ...
    string_body,          // ESC ] ... (and DCS, SOS, PM, APC)
    string_escape,        // ESC inside a string: ESC \ ends it
  };

  void step(unsigned char byte, std::string& out);
  void end_csi(unsigned char final_byte);
  void complete_line(std::string& out);
  void pass_on_long_line(std::string& out);

  Options options_;
  State state_ = State::text;
  std::size_t invalid_utf8_replaced_ = 0;
  bool pending_cr_ = false;  // saw '\r'; the next byte decides between newline and reset
  std::string line_;         // the current line, escapes already removed
  // CSI parameters, only what line-reset detection needs.
  char csi_params_[4] = {};
  std::uint8_t csi_param_len_ = 0;
  bool csi_has_intermediate_ = false;
};

}  // namespace drover::parsers
