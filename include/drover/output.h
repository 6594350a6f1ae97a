// The CLI's output formats (text, json, jsonl) as a library: one writer for events and the Result,
// writing to a sink function or a FILE*. README "Commands" and "Result JSON" pin what they write.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "drover/result.h"

namespace drover {

/// Receives output text in order; false when the write failed (nothing more is then written).
using OutputSink = std::function<bool(std::string_view)>;

/// A FILE* written and flushed piece by piece. The first failed write is remembered (its errno)
/// and nothing more is written after it: the reader is gone or the disk is full.
class FileOutput {
 public:
  explicit FileOutput(std::FILE* file) noexcept : file_(file) {}
  bool write(std::string_view text);
  /// errno of the first failed write (EIO when the C library set none), 0 while all went through.
  int error() const noexcept { return error_; }
  /// Records a failure noticed elsewhere (the reader of a pipe went away): later writes are refused.
  void fail(int error) noexcept {
    if (error_ == 0) error_ = error;
  }
  /// A sink writing here; `*this` must outlive it.
  OutputSink sink() {
    return [this](std::string_view text) { return write(text); };
  }

 private:
  std::FILE* file_;
  int error_ = 0;
};

enum class OutputFormat { text, json, jsonl };
std::string_view to_string(OutputFormat format) noexcept;
/// "text", "json", "jsonl"; nullopt for anything else.
std::optional<OutputFormat> output_format_from_string(std::string_view name) noexcept;

/// JSON as one line; invalid UTF-8 (harness output may hold any bytes) becomes U+FFFD.
std::string dump_json_line(const nlohmann::json& value);

/// Writes `line` with `text` as its "text" member, and a newline. The answer may be very long: it
/// is escaped and written piece by piece (64 KiB), so no whole escaped copy of it is built.
/// False when a write failed (what followed it was not written).
bool write_json_with_text(nlohmann::json line, const std::string& text, const OutputSink& out);

/// One run's output in one of the formats:
///  - text: nothing per event; the answer (plus a newline when it has none) when the run succeeded;
///  - json: nothing per event; the Result JSON, one line;
///  - jsonl: one line per event (`to_json(Event)`), then the Result JSON with `"type":"result"`.
/// Warnings and errors are the caller's to report (text writes only the answer).
class OutputWriter {
 public:
  OutputWriter(OutputFormat format, OutputSink out) : format_(format), out_(std::move(out)) {}
  /// Writes to `file` through a FileOutput of its own (see error()).
  OutputWriter(OutputFormat format, std::FILE* file);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;

  OutputFormat format() const noexcept { return format_; }
  /// False when writing failed (the run is worth stopping: nobody reads what follows).
  bool on_event(const Event& event);
  /// The final output. json/jsonl move the text out of `result` (it may be maxOutputBytes long:
  /// it is written piecewise, never copied); everything else in it stays. False when writing
  /// failed.
  bool on_result(Result& result);
  /// With the FILE* constructor: errno of the first failed write, else 0.
  int error() const noexcept { return file_ ? file_->error() : 0; }

 private:
  OutputFormat format_;
  std::optional<FileOutput> file_;
  OutputSink out_;
};

}  // namespace drover
