// Newline framing with a bound: bytes in, complete lines out, never more than one line's cap in
// memory. Used by the JSON-RPC connection and the line-based print-mode parsers.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace drover::parsers {

/// NDJSON framing: bytes in, complete lines out (without "\n", a trailing "\r" removed). Keeps a
/// partial line across feeds; finish() yields a final unterminated non-empty line. A line longer
/// than max_line_bytes (counting a "\r" before its "\n") is reported once, with too_long set and
/// its first max_line_bytes bytes as `line`, and the rest of it is skipped up to the next
/// newline: the buffer never grows beyond max_line_bytes. Empty lines are passed on as they are.
/// The result never depends on how the bytes were split into feeds.
class LineSplitter {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{64} << 20;

  /// Receives each line. It must not call back into the splitter that called it.
  using Sink = std::function<void(std::string_view line, bool too_long)>;

  explicit LineSplitter(std::size_t max_line_bytes = kDefaultMaxLineBytes);

  void feed(std::string_view bytes, const Sink& sink);
  /// End of stream: passes on the final line when it is not empty, then starts afresh.
  void finish(const Sink& sink);
  /// Drops the partial line (and an over-long line being skipped).
  void reset() noexcept;

  std::size_t buffered() const noexcept { return partial_.size(); }
  std::size_t max_line_bytes() const noexcept { return max_line_bytes_; }

 private:
  std::size_t max_line_bytes_;
  std::string partial_;    // the line still being received
  bool skipping_ = false;  // inside an over-long line, until its newline
};

}  // namespace drover::parsers
