// SseParser: the HTML standard's "interpreting an event stream", fed in arbitrary chunks.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
#include "parsers/sse_parser.h"

#include <limits>

namespace drover::parsers {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

void SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  if (!started_) {
    // The BOM may itself arrive split; line_ holds its prefix (it contains no line end) until
    // three bytes, or a byte that cannot belong to it, decide.
    while (!chunk.empty() && line_.size() < kBom.size() &&
           static_cast<unsigned char>(chunk.front()) ==
               static_cast<unsigned char>(kBom[line_.size()])) {
      line_.push_back(chunk.front());
      chunk.remove_prefix(1);
    }
    if (line_.size() < kBom.size() && chunk.empty()) return;
    started_ = true;
    if (line_.size() == kBom.size()) {
      line_.clear();
    } else {
      std::string held;
      held.swap(line_);  // a partial BOM followed by something else: ordinary bytes
      feed(held, out);
    }
  }

  while (!chunk.empty()) {
    if (saw_cr_) {
      saw_cr_ = false;
      if (chunk.front() == '\n') {  // the LF of a CRLF whose CR ended the previous chunk
        chunk.remove_prefix(1);
        continue;
      }
    }
    const std::size_t end = chunk.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      line_.append(chunk);
      return;
    }
    std::string_view text = chunk.substr(0, end);
    if (!line_.empty()) {
      line_.append(text);
      text = line_;
    }
    line(text, out);
    line_.clear();
    if (chunk[end] == '\r') saw_cr_ = true;
    chunk.remove_prefix(end + 1);
  }
}

void SseParser::finish(std::vector<SseEvent>& out) {
  if (!started_) {
    started_ = true;  // a stream of fewer bytes than a BOM: those bytes are an ordinary line
  }
  // A last line without its line end still counts (servers that close right after the data),
  // then the event it belongs to is dispatched when it carries data.
  if (!line_.empty()) {
    const std::string last = std::move(line_);
    line_.clear();
    line(last, out);
  }
  saw_cr_ = false;
  line({}, out);
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (has_data_) out.push_back(pending_);
    // The last event id persists across events (the standard's "last event ID buffer"); the
    // event type and data do not. A `retry` seen in a block without data is kept for the next
    // dispatched event rather than lost.
    if (has_data_) pending_.retry_ms.reset();
    pending_.event.clear();
    pending_.data.clear();
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // comment

  std::string_view field = text;
  std::string_view value;
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }

  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id.assign(value);
  } else if (field == "retry") {
    if (value.empty()) return;
    int64_t ms = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return;
      if (ms > (std::numeric_limits<int64_t>::max() - 9) / 10) return;  // absurd: ignore
      ms = ms * 10 + (c - '0');
    }
    pending_.retry_ms = ms;
  }
  // Any other field is ignored, as the standard says.
}

}  // namespace drover::parsers
