// Removes harness noise from answer text: idle greetings, model-switch announcements, version and
// update banners, <local-command-caveat> commentary. Pure: text in, text out; no I/O, no clock.
//
// The rules, for the whole text and for every way of cutting it into deltas alike:
//
// Lines. Text is split at '\n'; a trailing '\r' and other ASCII blanks (space, \t, \v, \f) are
// trimmed off both ends of a line before it is compared. The last line needs no '\n'. A line is
// judged once, in this order:
//   1. inside an open block (see 2): noise; the line that contains the block's close tag ends it.
//   2. its first kMaxNoiseLineBytes bytes, leading blanks removed, start with a block's open tag:
//      noise, and a block opens; the close tag may follow the open tag on the same line. A block
//      that is never closed runs to the end of the text.
//   3. the same head starts with one of `prefixes`: noise.
//   4. only blanks: a blank line (see "Blank lines").
//   5. shorter than kMaxNoiseLineBytes bytes and, trimmed, equal to one of `lines`, or to one of
//      `after_noise` when the previous non-blank line was noise, or matched whole by one of
//      `regexes`: noise.
//   6. anything else: answer text, kept byte for byte.
//   So a line of kMaxNoiseLineBytes bytes or more is never noise by rule 5: noise lines are short,
//   which also bounds what std::regex ever sees.
//
// Blank lines. Between two answer lines they are kept exactly, unless noise was removed between
// those lines: then only the longest run of blank lines of that gap is kept (the first on a tie),
// so "A\n\n<noise>\n\nB" gives "A\n\nB". Blank lines before the first answer line are dropped when
// noise was removed before it, and blank lines after the last answer line are dropped when noise
// was removed after it. Text without noise comes out unchanged.
//
// Streaming. Text is released as soon as it is known not to be noise: complete lines at once; a
// partial last line as soon as no marker can match it any more (judged on what has arrived, with
// the leading literal part of each regex: "pi v\d+" can only match lines starting "pi v"). Only
// the current partial line is ever held, and only while it is blank or shorter than
// kMaxNoiseLineBytes bytes and could still become noise. A regex without a leading literal (one
// that starts with a group, a class, an escape like \d, or has a top-level '|') makes every short
// line wait for its '\n'. Output is never cut where neither the input was cut nor a line ends, so
// deltas that are whole UTF-8 sequences stay so.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drover/parser_spec.h"

namespace drover::parsers {

/// Lines of this many bytes or more (without the '\n') are never noise by exact text or regex, and
/// a partial line this long is released unless it is blank or already known to be noise.
inline constexpr std::size_t kMaxNoiseLineBytes = 256;

/// The built-in markers: English and Russian idle greetings, model-switch announcements, pi's
/// version banner and the "---" under it, "New version ... available" notices and
/// <local-command-caveat> blocks. Chosen so that ordinary answer lines are not eaten: greetings
/// are whole-line matches, announcements need a model-like token and nothing after it.
NoiseMarkers default_noise_markers();

/// Checks markers before use: empty markers or markers containing '\n' (they would match every
/// line, or none) and regexes std::regex rejects. Returns the first problem, named by field and
/// index ("regexes[2]: ..."), or nullopt when all are usable. Never throws.
std::optional<std::string> validate(const NoiseMarkers& markers);

/// Streaming filter over the answer text of one turn, delivered as deltas. The concatenation of
/// everything `feed` and `finish` return equals `filter_noise` of the whole text, wherever the
/// deltas were cut (including inside a UTF-8 sequence or a marker). Markers `validate` would
/// reject are ignored. Not thread-safe; one instance per turn. Construction compiles the regexes;
/// copies share them, so a route can keep one fresh filter and copy it for each turn.
class NoiseFilter {
 public:
  explicit NoiseFilter(const NoiseMarkers& markers);

  /// Consumes the next delta; returns the text that is now safe to emit (often "").
  std::string feed(std::string_view delta);
  /// End of the turn: judges the held partial line and returns what remains to emit. Call once;
  /// `feed` and `finish` return "" afterwards.
  std::string finish();

  /// Whether any noise line was removed so far.
  bool removed_anything() const noexcept { return removed_count_ > 0; }
  /// After `finish`: the turn had non-blank text and all of it was noise (the caller treats the
  /// turn as empty, e.g. temporary_unavailable).
  bool only_noise() const noexcept { return removed_count_ > 0 && !saw_answer_; }
  /// The first kMaxRemovedLines removed lines, without their line ends, each cut to
  /// kMaxRemovedLineBytes bytes (on a UTF-8 boundary, "…" appended), for a debug log or warning.
  std::vector<std::string> removed() const { return removed_; }
  /// How many lines were removed in all (may exceed removed().size()).
  std::size_t removed_count() const noexcept { return removed_count_; }

  static constexpr std::size_t kMaxRemovedLines = 64;
  static constexpr std::size_t kMaxRemovedLineBytes = 512;

 private:
  struct Compiled;  // the markers normalized (regexes compiled on first use); shared by copies
  enum class Mode { undecided, answer, noise, block };
  enum class Ending { none, newline, end_of_text };

  void consume(std::string_view segment, Ending ending, std::string& out);
  void start_block(std::size_t index, std::string_view after_open);
  void scan_for_close(std::string_view bytes);
  void release_answer(std::string& out);
  void note_removed(std::string_view bytes);
  void end_noise_line();
  void end_line();

  std::shared_ptr<const Compiled> m_;

  // The current line.
  Mode mode_ = Mode::undecided;
  std::string line_;         // undecided: every byte of the line so far
  bool line_blank_ = true;   // undecided: line_ holds blanks only
  std::size_t line_bytes_ = 0;  // bytes of the current line seen so far, in any mode
  std::string removing_;     // noise/block: the start of the line, for removed()
  bool in_block_ = false;    // a block is open (possibly since an earlier line)
  std::size_t block_ = 0;    // which one
  bool close_seen_ = false;  // the current line contains the open block's close tag
  std::string close_carry_;  // the line's last bytes that may begin a split close tag
  bool previous_noise_ = false;  // the previous non-blank line was noise

  // The gap since the last answer line: blank lines, and whether noise was removed in it.
  std::string run_;       // the current run of blank lines
  std::size_t run_lines_ = 0;
  std::string best_run_;  // the longest finished run of the gap
  std::size_t best_lines_ = 0;
  bool gap_noise_ = false;

  bool saw_answer_ = false;
  bool finished_ = false;
  std::size_t removed_count_ = 0;
  std::vector<std::string> removed_;
};

/// Filters `text` at once (NoiseFilter fed the whole text). `only_noise`, when given, receives
/// NoiseFilter::only_noise().
std::string filter_noise(std::string_view text, const NoiseMarkers& markers,
                         bool* only_noise = nullptr);

}  // namespace drover::parsers
