#include <cstring>
#include <limits>

#include "parsers/parser_kinds.h"
#include "parsers/selector.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLineWarnings = 5;
constexpr std::size_t kLineExcerptChars = 80;

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  return true;
}

/// Usage::add without signed overflow: false (and nothing added) when a sum would not fit.
bool add_checked(Usage& into, const Usage& from) {
  const auto fits = [](const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
    return !a || !b || *a <= std::numeric_limits<std::int64_t>::max() - *b;
  };
  if (!fits(into.input_tokens, from.input_tokens) || !fits(into.output_tokens, from.output_tokens) ||
      !fits(into.total_tokens, from.total_tokens) ||
      !fits(into.cache_read_tokens, from.cache_read_tokens) ||
      !fits(into.cache_write_tokens, from.cache_write_tokens) ||
      !fits(into.reasoning_tokens, from.reasoning_tokens) ||
      into.calls > std::numeric_limits<std::int64_t>::max() - from.calls)
    return false;
  into.add(from);
  return true;
}

class JsonlParser final : public OutputParser {
 public:
  explicit JsonlParser(const ParserSpec& spec) : selectors_(spec) {
    out_.warnings = selectors_.problems();
  }

  void feed(std::string_view chunk, std::vector<Event>& deltas) override {
    if (finished_) return;
    while (!chunk.empty()) {
      const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
      if (nl == nullptr) {
        partial_.append(chunk);
        return;
      }
      const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - chunk.data());
      if (partial_.empty()) {
        process_line(chunk.substr(0, len), deltas);
      } else {
        partial_.append(chunk.substr(0, len));
        process_line(partial_, deltas);
        partial_.clear();
      }
      chunk.remove_prefix(len + 1);
    }
  }

  ParsedOutput finish(std::vector<Event>& deltas) override {
    if (!finished_) {
      finished_ = true;
      if (!partial_.empty()) {
        process_line(partial_, deltas);
        partial_.clear();
      }
      if (bad_lines_ > kMaxLineWarnings)
        out_.warnings.push_back("skipped " + std::to_string(bad_lines_ - kMaxLineWarnings) +
                                " more non-JSON stdout lines (" + std::to_string(bad_lines_) +
                                " in all)");
    }
    return out_;
  }

 private:
  void process_line(std::string_view line, std::vector<Event>& deltas) {
    ++line_number_;
    if (is_blank(line)) return;
    json doc = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    // A bare scalar ("42", "true") is a plain-text line that happens to parse, not an event.
    if (doc.is_discarded() || !(doc.is_object() || doc.is_array())) {
      if (++bad_lines_ <= kMaxLineWarnings)
        out_.warnings.push_back("stdout line " + std::to_string(line_number_) +
                                " is not JSON; skipped: " + excerpt(line, kLineExcerptChars));
      return;
    }
    out_.structured = true;

    Extraction found = selectors_.extract(doc);
    if (found.text) {
      out_.text += *found.text;
      Event event;
      event.kind = Event::Kind::delta;
      event.text = std::move(*found.text);
      deltas.push_back(std::move(event));
    }
    if (found.usage) {
      if (!out_.usage) {
        out_.usage = std::move(found.usage);
      } else if (!add_checked(*out_.usage, *found.usage)) {
        out_.warnings.push_back("stdout line " + std::to_string(line_number_) +
                                " reports usage too large to add; ignored");
      }
    }
    // Identifiers and errors: the last line that states one wins.
    if (found.error) out_.error = std::move(found.error);
    if (found.session_id) out_.session_id = std::move(found.session_id);
    if (found.stop_reason) out_.stop_reason = std::move(found.stop_reason);
    if (found.model) out_.model = std::move(found.model);
  }

  SelectorSet selectors_;
  ParsedOutput out_;
  std::string partial_;  // the line still being received
  std::size_t line_number_ = 0;
  std::size_t bad_lines_ = 0;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<OutputParser> make_jsonl_parser(const ParserSpec& spec) {
  return std::make_unique<JsonlParser>(spec);
}

}  // namespace drover::parsers
