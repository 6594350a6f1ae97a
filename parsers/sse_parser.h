// Incremental Server-Sent Events parser (the text/event-stream format of the HTML standard).
// Pure: bytes in, events out; chunk boundaries never change the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover::parsers {

struct SseEvent {
  std::string event;  ///< "" when the block had no `event:` field (the standard's "message")
  std::string data;   ///< `data:` lines joined with '\n'
  std::string id;
  std::optional<int64_t> retry_ms;
};

class SseParser {
 public:
  /// Consumes the next chunk; appends every event it completes (a blank line ends one).
  /// Handles LF, CRLF and CR line ends split anywhere, a leading BOM, comment lines (`:`),
  /// fields without a value, and one optional space after the colon.
  void feed(std::string_view chunk, std::vector<SseEvent>& out);
  /// End of stream: an event still being built (no blank line yet) is dispatched when it has
  /// data (servers that close without the final blank line).
  void finish(std::vector<SseEvent>& out);
  /// Bytes seen so far that belonged to no complete line (for diagnostics).
  size_t buffered() const noexcept { return line_.size(); }

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);
  std::string line_;
  SseEvent pending_;
  bool has_data_ = false;
  bool saw_cr_ = false;
  bool started_ = false;  // BOM check done
};

}  // namespace drover::parsers
