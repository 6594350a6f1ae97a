#include <algorithm>
#include <limits>
#include <utility>

#include "parsers/json_limits.h"
#include "parsers/line_splitter.h"
#include "parsers/parser_kinds.h"
#include "parsers/selector.h"
#include "parsers/tool_events.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLineWarnings = 5;
// A harness may warn on every line; its warnings past these are only counted.
constexpr std::size_t kMaxHarnessWarnings = 20;
constexpr std::size_t kLineExcerptChars = 80;

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  return true;
}

class JsonlParser final : public OutputParser {
 public:
  JsonlParser(const ParserSpec& spec, std::size_t max_bytes, const ParserContext& context)
      : selectors_(spec, context),
        max_bytes_(std::max<std::size_t>(max_bytes, 1)),
        splitter_(max_bytes_),
        activity_by_line_(spec.progress.has_value() && !spec.progress_resets_idle) {
    out_.warnings = selectors_.problems();
  }

  void feed(std::string_view chunk, std::vector<Event>& deltas) override {
    if (finished_) return;
    splitter_.feed(chunk, [&](std::string_view line, bool too_long) {
      process_line(line, too_long, deltas);
    });
  }

  bool take_activity() override {
    if (!activity_by_line_) return true;
    return std::exchange(activity_, false);
  }

  ParsedOutput finish(std::vector<Event>& deltas) override {
    if (!finished_) {
      finished_ = true;
      splitter_.finish([&](std::string_view line, bool too_long) {
        process_line(line, too_long, deltas);
      });
      // A line refused for its size or depth may have been the answer or the harness's error:
      // the output cannot be trusted to be complete.
      if (limit_error_) out_.error = std::move(limit_error_);
      if (keep_utf8_tail(out_.text, max_bytes_) > 0) text_dropped_ = true;
      if (text_dropped_)
        out_.warnings.push_back("the answer exceeded " + std::to_string(max_bytes_) +
                                " bytes (maxOutputBytes); only its last " +
                                std::to_string(out_.text.size()) + " bytes were kept");
      if (harness_warnings_ > kMaxHarnessWarnings)
        out_.warnings.push_back(std::to_string(harness_warnings_ - kMaxHarnessWarnings) +
                                " more harness warnings left out (" +
                                std::to_string(harness_warnings_) + " in all)");
      if (usage_overflow_)
        out_.warnings.push_back("the usage selected on a stdout line is too large to add up; "
                                "some of it was left out");
      if (bad_lines_ > kMaxLineWarnings)
        out_.warnings.push_back("skipped " + std::to_string(bad_lines_ - kMaxLineWarnings) +
                                " more non-JSON stdout lines (" + std::to_string(bad_lines_) +
                                " in all)");
    }
    return std::move(out_);  // finish() runs once: the answer is not kept twice
  }

 private:
  void process_line(std::string_view line, bool too_long, std::vector<Event>& deltas) {
    ++line_number_;
    // Anything but a progress line shows the harness at work; restored below for one.
    const bool previous_activity = std::exchange(activity_, true);
    if (too_long) {
      refuse("stdout line " + std::to_string(line_number_) + " is longer than " +
             std::to_string(max_bytes_) + " bytes (maxOutputBytes); skipped");
      return;
    }
    if (is_blank(line)) return;
    JsonLimit limit = JsonLimit::none;
    json doc = parse_untrusted(line, &limit);
    if (limit == JsonLimit::too_deep) {
      refuse("stdout line " + std::to_string(line_number_) + " is JSON " + json_depth_problem() +
             "; skipped");
      return;
    }
    // A bare scalar ("42", "true") is a plain-text line that happens to parse, not an event.
    if (doc.is_discarded() || !(doc.is_object() || doc.is_array())) {
      if (++bad_lines_ <= kMaxLineWarnings)
        out_.warnings.push_back("stdout line " + std::to_string(line_number_) +
                                " is not JSON; skipped: " + excerpt(line, kLineExcerptChars));
      return;
    }
    out_.structured = true;

    Extraction found = selectors_.extract(doc);
    if (found.text_not_string && ++text_not_string_lines_ <= kMaxLineWarnings)
      out_.warnings.push_back("stdout line " + std::to_string(line_number_) +
                              ": the selected text is not a string; ignored");
    if (found.progress && !found.text) activity_ = previous_activity;
    if (found.warning) {
      if (++harness_warnings_ <= kMaxHarnessWarnings) {
        out_.warnings.push_back(*found.warning);
        deltas.push_back(Event::make_text(Event::Kind::warning, std::move(*found.warning)));
      }
    }
    if (found.progress) {
      Event event = Event::make_text(Event::Kind::progress, std::move(*found.progress));
      event.raw = doc;
      deltas.push_back(std::move(event));
    }
    if (found.usage_overflow) usage_overflow_ = true;
    if (found.text) {
      if (append_keeping_tail(out_.text, *found.text, max_bytes_)) text_dropped_ = true;
      Event event;
      event.kind = Event::Kind::delta;
      event.text = std::move(*found.text);
      deltas.push_back(std::move(event));
    }
    tools_.read(doc, deltas);
    if (found.usage) {
      // Each report as the line gave it; the result's usage is their sum.
      deltas.push_back(Event::make_usage(found.usage, std::move(found.usage_raw)));
      if (!out_.usage) {
        out_.usage = std::move(found.usage);
      } else if (!add_usage_checked(*out_.usage, *found.usage)) {
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

  void refuse(std::string problem) {
    out_.warnings.push_back(problem);
    if (!limit_error_) limit_error_ = std::move(problem);
  }

  SelectorSet selectors_;
  ToolEventReader tools_;
  std::size_t max_bytes_;
  LineSplitter splitter_;
  ParsedOutput out_;
  std::optional<std::string> limit_error_;  // the first line refused for its size or depth
  bool text_dropped_ = false;
  std::size_t text_not_string_lines_ = 0;
  std::size_t line_number_ = 0;
  std::size_t bad_lines_ = 0;
  std::size_t harness_warnings_ = 0;
  bool usage_overflow_ = false;
  const bool activity_by_line_;  // progress lines do not count as activity
  bool activity_ = false;        // since the last take_activity()
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<OutputParser> make_jsonl_parser(const ParserSpec& spec, std::size_t max_bytes,
                                                const ParserContext& context) {
  return std::make_unique<JsonlParser>(spec, max_bytes, context);
}

}  // namespace drover::parsers
