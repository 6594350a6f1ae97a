#include "parsers/noise_filter.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <regex>

namespace drover::parsers {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool all_blank(std::string_view s) { return std::all_of(s.begin(), s.end(), is_blank); }

std::string_view trim_left(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_blank(s[i])) ++i;
  return s.substr(i);
}

std::string_view trim_right(std::string_view s) {
  std::size_t n = s.size();
  while (n > 0 && is_blank(s[n - 1])) --n;
  return s.substr(0, n);
}

std::string_view trim(std::string_view s) { return trim_right(trim_left(s)); }

bool has_line_break(std::string_view s) { return s.find('\n') != std::string_view::npos; }

/// Either one can still grow into the other: `seen` is what arrived of a line, `marker` what it
/// would have to start with.
bool compatible(std::string_view seen, std::string_view marker) {
  return seen.starts_with(marker) || marker.starts_with(seen);
}

/// Whether a line starting with `seen` (its leading blanks removed) can still be `marker` once
/// trimmed: `seen` is a prefix of `marker`, or `marker` followed by blanks.
bool may_equal(std::string_view seen, std::string_view marker) {
  if (marker.starts_with(seen)) return true;
  return seen.starts_with(marker) && all_blank(seen.substr(marker.size()));
}

/// Whether `pattern` has a '|' outside every group and class ("a|b", not "a(?:b|c)").
bool has_top_level_alternation(std::string_view pattern) {
  int depth = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      depth = std::max(depth - 1, 0);
    } else if (c == '|' && depth == 0) {
      return true;
    }
  }
  return false;
}

/// The bytes every whole match of an ECMAScript `pattern` must start with, "" when unknown.
/// Conservative: it stops at anything that is not a plain literal, and a quantifier takes back
/// the byte before it (std::regex<char> sees UTF-8 as bytes, so that is the quantified atom).
std::string literal_prefix(std::string_view pattern) {
  if (has_top_level_alternation(pattern)) return {};
  std::size_t i = pattern.starts_with('^') ? 1 : 0;
  std::string prefix;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '?' || c == '*' || c == '+' || c == '{') {
      if (!prefix.empty()) prefix.pop_back();
      break;
    }
    if (c == '.' || c == '^' || c == '$' || c == '(' || c == ')' || c == '[' || c == ']' ||
        c == '}')
      break;
    if (c == '\\') {
      // Only identity escapes of ASCII punctuation (\. \- \/ ...) are literals; \d, \b, \1 are not.
      if (i + 1 >= pattern.size()) break;
      const unsigned char next = static_cast<unsigned char>(pattern[i + 1]);
      if (next >= 0x80 || std::isalnum(next) != 0) break;
      prefix.push_back(static_cast<char>(next));
      i += 2;
      continue;
    }
    prefix.push_back(c);
    ++i;
  }
  return prefix;
}

/// `line` for removed(): trailing blanks dropped, cut on a UTF-8 boundary.
std::string shown_removed(std::string_view line) {
  line = trim_right(line);
  if (line.size() <= NoiseFilter::kMaxRemovedLineBytes) return std::string(line);
  std::size_t cut = NoiseFilter::kMaxRemovedLineBytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  std::string shown(line.substr(0, cut));
  shown += "…";
  return shown;
}

// std::regex compiles slowly (the built-in markers take a few hundred microseconds), and every
// run builds a filter: compiled patterns are kept for the process, at most kMaxCachedRegexes of
// them (configs name a handful). A const std::regex may be matched from several threads.
constexpr std::size_t kMaxCachedRegexes = 256;

std::shared_ptr<const std::regex> compiled_regex(const std::string& pattern) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::regex>, std::less<>> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = cache.find(pattern); found != cache.end()) return found->second;
  }
  auto re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);  // may throw
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() < kMaxCachedRegexes) cache.emplace(pattern, re);
  return re;
}

enum class Verdict { hold, answer, blank, noise, block };

}  // namespace

struct NoiseFilter::Compiled {
  // Compiled when a line first starts with its literal prefix (most runs never see one): a
  // one-shot `drover run` otherwise spent a tenth of its CPU compiling the built-in markers.
  struct Regex {
    std::string pattern;
    std::string literal_prefix;
  };
  struct Block {
    std::string open, close;
  };

  std::vector<std::string> lines;
  std::vector<std::string> prefixes;
  std::vector<Regex> regexes;
  std::vector<Block> blocks;
  std::vector<std::string> after_noise;

  explicit Compiled(const NoiseMarkers& markers) {
    const auto add_whole = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
      for (const std::string& marker : from) {
        const std::string_view trimmed = trim(marker);
        if (!trimmed.empty() && !has_line_break(trimmed)) to.emplace_back(trimmed);
      }
    };
    add_whole(lines, markers.lines);
    add_whole(after_noise, markers.after_noise);
    for (const std::string& prefix : markers.prefixes) {
      const std::string_view trimmed = trim_left(prefix);
      if (!trimmed.empty() && !has_line_break(trimmed)) prefixes.emplace_back(trimmed);
    }
    for (const auto& [open, close] : markers.blocks) {
      const std::string_view trimmed = trim_left(open);
      if (trimmed.empty() || close.empty() || has_line_break(trimmed) || has_line_break(close))
        continue;
      blocks.push_back({std::string(trimmed), close});
    }
    for (const std::string& pattern : markers.regexes) {
      if (pattern.empty()) continue;
      regexes.push_back({pattern, literal_prefix(pattern)});
    }
  }

  bool regex_matches(std::string_view trimmed) const {
    for (const Regex& r : regexes) {
      if (!trimmed.starts_with(r.literal_prefix)) continue;
      try {
        const auto re = compiled_regex(r.pattern);
        if (std::regex_match(trimmed.begin(), trimmed.end(), *re)) return true;
      } catch (const std::exception&) {
        // A pattern that does not compile (validate() reports it) matches nothing;
        // error_complexity / error_stack: no match either.
      }
    }
    return false;
  }

  /// Whether a partial line whose start (leading blanks removed, not empty) is `seen` could still
  /// turn out to be noise. Must never say false for a line that becomes noise.
  bool could_become_noise(std::string_view seen, bool after_noise_allowed) const {
    for (const Block& b : blocks)
      if (compatible(seen, b.open)) return true;
    for (const std::string& p : prefixes)
      if (compatible(seen, p)) return true;
    for (const Regex& r : regexes)
      if (compatible(seen, r.literal_prefix)) return true;
    for (const std::string& l : lines)
      if (may_equal(seen, l)) return true;
    if (after_noise_allowed)
      for (const std::string& l : after_noise)
        if (may_equal(seen, l)) return true;
    return false;
  }

  /// The rules of the header, applied to `line` (no '\n'); `blank` says it holds blanks only.
  /// A partial line (`complete` false) may get `hold`; every other verdict is final and the same
  /// one the complete line would get. For `block`, `block_index` and `after_open` (offset of the
  /// text after the open tag) are set.
  Verdict judge(std::string_view line, bool blank, bool complete, bool after_noise_allowed,
                std::size_t& block_index, std::size_t& after_open) const {
    const std::string_view head = line.substr(0, std::min(line.size(), kMaxNoiseLineBytes));
    const std::string_view start = trim_left(head);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (start.starts_with(blocks[i].open)) {
        block_index = i;
        after_open = head.size() - start.size() + blocks[i].open.size();
        return Verdict::block;
      }
    }
    for (const std::string& p : prefixes)
      if (start.starts_with(p)) return Verdict::noise;
    if (blank) return complete ? Verdict::blank : Verdict::hold;
    if (line.size() >= kMaxNoiseLineBytes) return Verdict::answer;
    if (!complete)
      return could_become_noise(start, after_noise_allowed) ? Verdict::hold : Verdict::answer;
    const std::string_view trimmed = trim_right(start);
    if (std::find(lines.begin(), lines.end(), trimmed) != lines.end()) return Verdict::noise;
    if (after_noise_allowed &&
        std::find(after_noise.begin(), after_noise.end(), trimmed) != after_noise.end())
      return Verdict::noise;
    if (regex_matches(trimmed)) return Verdict::noise;
    return Verdict::answer;
  }
};

NoiseMarkers default_noise_markers() {
  NoiseMarkers m;
  // Idle greetings, as whole lines only: "Ready to work on the parser next" stays.
  m.lines = {"Ready to work",      "Ready to work.",     "Ready to work!",
             "I'm ready to work.", "I'm ready to work!", "I am ready to work.",
             "Готов к работе",     "Готов к работе.",    "Готов к работе!",
             "Готова к работе",    "Готова к работе.",   "Готова к работе!",
             "Я готов к работе.",  "Я готова к работе."};
  // "Жду ..." only as a short line whose first word is what an idle agent waits for
  // ("Жду ваших указаний.", "Жду задачу"), so "Жду ответа от сервера, потом ..." stays.
  const std::string waiting =
      "Жду (?:ваш|тво|дальнейш|следующ|нов|задач|указани|инструкц|команд|запрос|вопрос|"
      "сообщени)[^.!?]{0,60}(?:[.!]|…)?";
  m.regexes = {
      waiting,
      "Готов(?:а)? к работе[.!]? " + waiting,
      // Model switches: the announcement and a short model name, nothing else on the line.
      R"(Model switched to \S+(?: \S+){0,3})",
      R"(Switched to model \S+(?: \S+){0,3})",
      R"(Model changed to \S+(?: \S+){0,3})",
      R"(Now using model:? \S+(?: \([^()]*\))?\.?)",
      // pi's start-up banner; the "---" under it is an after_noise line.
      R"(pi v\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)",
      // Update notices: "New version available: 1.2.3", and pi's
      // "New version 1.2.3 is available. Run: npm install -g ..."
      R"(New version available: v?\d+(?:\.\d+)+.*)",
      R"(New version v?\d+(?:\.\d+)+\S* is available\..*)",
  };
  m.blocks = {{"<local-command-caveat>", "</local-command-caveat>"}};
  m.after_noise = {"---"};
  return m;
}

std::optional<std::string> validate(const NoiseMarkers& markers) {
  const auto check_text = [](const std::vector<std::string>& list, std::string_view field,
                             bool keep_trailing) -> std::optional<std::string> {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string_view s = keep_trailing ? trim_left(list[i]) : trim(list[i]);
      const std::string where = std::string(field) + "[" + std::to_string(i) + "]: ";
      if (s.empty()) return where + "empty";
      if (has_line_break(s)) return where + "contains a line break";
    }
    return std::nullopt;
  };
  if (auto problem = check_text(markers.lines, "lines", false)) return problem;
  if (auto problem = check_text(markers.prefixes, "prefixes", true)) return problem;
  for (std::size_t i = 0; i < markers.regexes.size(); ++i) {
    const std::string where = "regexes[" + std::to_string(i) + "]: ";
    if (markers.regexes[i].empty()) return where + "empty";
    try {
      compiled_regex(markers.regexes[i]);  // the filter reuses what this compiles
    } catch (const std::exception& e) {
      return where + e.what();
    }
  }
  for (std::size_t i = 0; i < markers.blocks.size(); ++i) {
    const std::string where = "blocks[" + std::to_string(i) + "]: ";
    const auto& [open, close] = markers.blocks[i];
    if (trim_left(open).empty()) return where + "empty open tag";
    if (close.empty()) return where + "empty close tag";
    if (has_line_break(open) || has_line_break(close)) return where + "tag contains a line break";
  }
  if (auto problem = check_text(markers.after_noise, "after_noise", false)) return problem;
  return std::nullopt;
}

NoiseFilter::NoiseFilter(const NoiseMarkers& markers)
    : m_(std::make_shared<const Compiled>(markers)) {}

std::string NoiseFilter::feed(std::string_view delta) {
  std::string out;
  if (finished_) return out;
  while (!delta.empty()) {
    const std::size_t newline = delta.find('\n');
    if (newline == std::string_view::npos) {
      consume(delta, Ending::none, out);
      break;
    }
    consume(delta.substr(0, newline), Ending::newline, out);
    delta.remove_prefix(newline + 1);
  }
  return out;
}

std::string NoiseFilter::finish() {
  std::string out;
  if (finished_) return out;
  finished_ = true;
  if (line_bytes_ > 0) consume({}, Ending::end_of_text, out);
  // Trailing blank lines go with the noise after the answer; without noise they stay.
  if (!gap_noise_) out += run_;
  run_.clear();
  best_run_.clear();
  return out;
}

void NoiseFilter::consume(std::string_view segment, Ending ending, std::string& out) {
  const bool complete = ending != Ending::none;
  line_bytes_ += segment.size();
  switch (mode_) {
    case Mode::answer:
      out += segment;
      if (ending == Ending::newline) out += '\n';
      if (complete) end_line();
      return;
    case Mode::noise:
      note_removed(segment);
      if (complete) end_noise_line();
      return;
    case Mode::block:
      note_removed(segment);
      scan_for_close(segment);
      if (complete) end_noise_line();
      return;
    case Mode::undecided:
      break;
  }

  line_ += segment;
  line_blank_ = line_blank_ && all_blank(segment);
  std::size_t block_index = 0;
  std::size_t after_open = 0;
  switch (m_->judge(line_, line_blank_, complete, previous_noise_, block_index, after_open)) {
    case Verdict::hold:
      return;
    case Verdict::answer:
      release_answer(out);
      out += line_;
      if (ending == Ending::newline) out += '\n';
      line_.clear();
      if (complete) {
        end_line();
      } else {
        mode_ = Mode::answer;
      }
      return;
    case Verdict::blank:
      run_ += line_;
      if (ending == Ending::newline) run_ += '\n';
      ++run_lines_;
      end_line();
      return;
    case Verdict::noise:
      note_removed(line_);
      line_.clear();
      if (complete) {
        end_noise_line();
      } else {
        mode_ = Mode::noise;
      }
      return;
    case Verdict::block:
      note_removed(line_);
      start_block(block_index, std::string_view(line_).substr(after_open));
      line_.clear();
      if (complete) {
        end_noise_line();
      } else {
        mode_ = Mode::block;
      }
      return;
  }
}

void NoiseFilter::start_block(std::size_t index, std::string_view after_open) {
  in_block_ = true;
  block_ = index;
  close_seen_ = false;
  close_carry_.clear();
  scan_for_close(after_open);
}

void NoiseFilter::scan_for_close(std::string_view bytes) {
  if (close_seen_ || bytes.empty()) return;
  const std::string& close = m_->blocks[block_].close;
  const std::size_t keep = close.size() - 1;  // a longer tail would hold a whole tag
  std::string joined = close_carry_;
  joined.append(bytes.substr(0, std::min(bytes.size(), keep)));
  if (joined.find(close) != std::string::npos || bytes.find(close) != std::string_view::npos) {
    close_seen_ = true;
    close_carry_.clear();
    return;
  }
  if (bytes.size() >= keep) {
    close_carry_.assign(bytes.substr(bytes.size() - keep));
  } else {
    close_carry_ += bytes;
    if (close_carry_.size() > keep) close_carry_.erase(0, close_carry_.size() - keep);
  }
}

// An answer line starts: the blank lines of the gap before it go out first (see the header).
void NoiseFilter::release_answer(std::string& out) {
  if (!gap_noise_) {
    out += run_;
  } else if (saw_answer_) {
    out += run_lines_ > best_lines_ ? run_ : best_run_;
  }
  run_.clear();
  run_lines_ = 0;
  best_run_.clear();
  best_lines_ = 0;
  gap_noise_ = false;
  saw_answer_ = true;
  previous_noise_ = false;
}

void NoiseFilter::note_removed(std::string_view bytes) {
  if (removed_.size() >= kMaxRemovedLines) return;
  // A few bytes over the cap so that shown_removed() sees the line was longer.
  const std::size_t limit = kMaxRemovedLineBytes + 4;
  const std::size_t room = limit - std::min(removing_.size(), limit);
  removing_.append(bytes.substr(0, std::min(bytes.size(), room)));
}

void NoiseFilter::end_noise_line() {
  ++removed_count_;
  if (removed_.size() < kMaxRemovedLines) removed_.push_back(shown_removed(removing_));
  removing_.clear();
  if (run_lines_ > best_lines_) {
    best_run_ = std::move(run_);
    best_lines_ = run_lines_;
  }
  run_.clear();
  run_lines_ = 0;
  gap_noise_ = true;
  previous_noise_ = true;
  if (in_block_ && close_seen_) in_block_ = false;
  close_seen_ = false;
  close_carry_.clear();
  line_blank_ = true;
  line_bytes_ = 0;
  mode_ = in_block_ ? Mode::block : Mode::undecided;
}

void NoiseFilter::end_line() {
  line_.clear();
  line_blank_ = true;
  line_bytes_ = 0;
  mode_ = Mode::undecided;
}

std::string filter_noise(std::string_view text, const NoiseMarkers& markers, bool* only_noise) {
  NoiseFilter filter(markers);
  std::string out = filter.feed(text);
  out += filter.finish();
  if (only_noise != nullptr) *only_noise = filter.only_noise();
  return out;
}

}  // namespace drover::parsers
