#include <algorithm>

#include "parsers/json_limits.h"
#include "parsers/parser_kinds.h"
#include "parsers/selector.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

// Each fallback attempt may parse up to the whole output; bound the work on garbage input.
constexpr std::size_t kMaxFallbackAttempts = 64;
constexpr std::size_t kNotJsonExcerptChars = 200;
constexpr std::size_t kNoiseExcerptChars = 80;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

json parse_document(std::string_view s, bool& too_deep) {
  JsonLimit limit = JsonLimit::none;
  json doc = parse_untrusted(s, &limit);
  if (limit == JsonLimit::too_deep) too_deep = true;
  // A bare string or number is a plain-text answer that happens to parse, not a result object.
  if (!doc.is_discarded() && !doc.is_object() && !doc.is_array())
    return json(json::value_t::discarded);
  return doc;
}

class JsonParser final : public OutputParser {
 public:
  JsonParser(const ParserSpec& spec, std::size_t max_bytes, const ParserContext& context)
      : selectors_(spec, context), max_bytes_(std::max<std::size_t>(max_bytes, 1)) {}

  void feed(std::string_view chunk, std::vector<Event>&) override {
    if (too_large_) return;
    if (output_.size() + chunk.size() > max_bytes_) {
      too_large_ = true;
      std::string().swap(output_);  // the document cannot be parsed: hold nothing more
      return;
    }
    output_.append(chunk);
  }

  ParsedOutput finish(std::vector<Event>& deltas) override {
    ParsedOutput out;
    out.warnings = selectors_.problems();
    if (too_large_) {
      out.error = "stdout is longer than " + std::to_string(max_bytes_) +
                  " bytes (maxOutputBytes); the JSON document was not parsed";
      return out;
    }
    bool too_deep = false;
    const std::string_view all = output_;
    const std::string_view trimmed = trim(all);

    json doc = parse_document(trimmed, too_deep);
    if (doc.is_discarded()) {
      // Harnesses sometimes print a warning line first: take the last line that starts with
      // '{' and parses through to the end.
      const std::size_t first_tried = static_cast<std::size_t>(trimmed.data() - all.data());
      std::size_t attempts = 0;
      std::size_t pos = all.size();
      while (pos > 0 && attempts < kMaxFallbackAttempts) {
        const std::size_t nl = all.rfind('\n', pos - 1);
        if (nl == std::string_view::npos) break;  // line 1 starts at 0: already tried whole
        pos = nl;
        const std::size_t start = nl + 1;
        if (start >= all.size() || all[start] != '{' || start == first_tried) continue;
        ++attempts;
        doc = parse_document(trim(all.substr(start)), too_deep);
        if (!doc.is_discarded()) {
          out.warnings.push_back("stdout had non-JSON text before the JSON object; skipped: " +
                                 excerpt(all.substr(0, start), kNoiseExcerptChars));
          break;
        }
      }
    }
    if (doc.is_discarded() && too_deep) {
      out.error = "stdout is JSON " + json_depth_problem() + "; not parsed";
      return out;
    }
    if (doc.is_discarded()) {
      out.error = "stdout is not JSON: " + excerpt(all, kNotJsonExcerptChars);
      return out;
    }

    out.structured = true;
    Extraction found = selectors_.extract(doc);
    if (found.text_not_string)
      out.warnings.push_back("the selected text is not a string; ignored");
    if (found.text) {
      out.text = std::move(*found.text);
      Event event;
      event.kind = Event::Kind::delta;
      event.text = out.text;
      deltas.push_back(std::move(event));
    }
    if (found.usage_overflow)
      out.warnings.push_back("the usage selected is too large to add up; some of it was left out");
    if (found.usage) deltas.push_back(Event::make_usage(found.usage, std::move(found.usage_raw)));
    out.usage = std::move(found.usage);
    out.error = std::move(found.error);
    out.session_id = std::move(found.session_id);
    out.stop_reason = std::move(found.stop_reason);
    out.model = std::move(found.model);
    return out;
  }

 private:
  SelectorSet selectors_;
  std::size_t max_bytes_;
  bool too_large_ = false;
  std::string output_;
};

}  // namespace

std::unique_ptr<OutputParser> make_json_parser(const ParserSpec& spec, std::size_t max_bytes,
                                               const ParserContext& context) {
  return std::make_unique<JsonParser>(spec, max_bytes, context);
}

}  // namespace drover::parsers
