#include <algorithm>

#include "parsers/ansi_cleaner.h"
#include "parsers/parser_kinds.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Longest line held whole for spinner resolution: spinner frames are short, and an endless line
// must not sit in memory twice (cleaner and answer).
constexpr std::size_t kMaxHeldLine = std::size_t{1} << 20;

class TextParser final : public OutputParser {
 public:
  TextParser(const ParserSpec& spec, std::size_t max_bytes)
      : cleaner_({.strip_escapes = spec.strip_ansi,
                  .resolve_line_resets = spec.strip_ansi,
                  // The answer ends up in JSON, which cannot carry ill-formed UTF-8.
                  .make_valid_utf8 = true,
                  .max_line_bytes = std::min(max_bytes, kMaxHeldLine)}),
        trim_(spec.trim),
        max_bytes_(std::max<std::size_t>(max_bytes, 1)) {}

  void feed(std::string_view chunk, std::vector<Event>& deltas) override {
    if (finished_) return;
    finished_lines_.clear();
    cleaner_.feed(chunk, finished_lines_);
    release(finished_lines_, deltas);
  }

  ParsedOutput finish(std::vector<Event>& deltas) override {
    if (!finished_) {
      finished_ = true;
      finished_lines_.clear();
      cleaner_.finish(finished_lines_);
      release(finished_lines_, deltas);
      if (!trim_ && !held_whitespace_.empty()) {
        emit(std::move(held_whitespace_), deltas);
        held_whitespace_.clear();
      }
    }
    ParsedOutput out;
    if (keep_utf8_tail(text_, max_bytes_) > 0) dropped_ = true;
    out.text = std::move(text_);  // finish() runs once: the answer is not kept twice
    if (dropped_)
      out.warnings.push_back("the answer exceeded " + std::to_string(max_bytes_) +
                             " bytes (maxOutputBytes); only its last " +
                             std::to_string(out.text.size()) + " bytes were kept");
    if (cleaner_.invalid_utf8_replaced() > 0)
      out.warnings.push_back("stdout contained " + std::to_string(cleaner_.invalid_utf8_replaced()) +
                             " invalid UTF-8 sequence(s); replaced with U+FFFD");
    return out;
  }

 private:
  // Final text goes out at once, except trailing whitespace: only later text can tell whether
  // it is inside the answer or trimmed off its end.
  void release(std::string_view piece, std::vector<Event>& deltas) {
    if (trim_ && !started_) {
      std::size_t first = 0;
      while (first < piece.size() && is_space(piece[first])) ++first;
      piece.remove_prefix(first);
      if (piece.empty()) return;
      started_ = true;
    }
    std::size_t end = piece.size();
    while (end > 0 && is_space(piece[end - 1])) --end;
    if (end == 0) {
      held_whitespace_.append(piece);
      return;
    }
    std::string delta = std::move(held_whitespace_);
    held_whitespace_.clear();
    delta.append(piece.substr(0, end));
    held_whitespace_.assign(piece.substr(end));
    emit(std::move(delta), deltas);
  }

  void emit(std::string delta, std::vector<Event>& deltas) {
    if (append_keeping_tail(text_, delta, max_bytes_)) dropped_ = true;
    Event event;
    event.kind = Event::Kind::delta;
    event.text = std::move(delta);
    deltas.push_back(std::move(event));
  }

  AnsiCleaner cleaner_;
  bool trim_;
  std::size_t max_bytes_;
  bool dropped_ = false;   // text_ lost its front to the bound
  bool started_ = false;   // trim: the first non-space byte of the answer has been seen
  bool finished_ = false;
  std::string finished_lines_;  // scratch: what the cleaner completed during one call
  std::string held_whitespace_;
  std::string text_;
};

}  // namespace

std::unique_ptr<OutputParser> make_text_parser(const ParserSpec& spec, std::size_t max_bytes) {
  return std::make_unique<TextParser>(spec, max_bytes);
}

}  // namespace drover::parsers
