#include "drover/output.h"

#include <algorithm>
#include <cerrno>
#include <random>

namespace drover {

bool FileOutput::write(std::string_view text) {
  if (error_ != 0) return false;
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    error_ = errno != 0 ? errno : EIO;
    return false;
  }
  return true;
}

std::string_view to_string(OutputFormat format) noexcept {
  switch (format) {
    case OutputFormat::text: return "text";
    case OutputFormat::json: return "json";
    case OutputFormat::jsonl: return "jsonl";
  }
  return "text";
}

std::optional<OutputFormat> output_format_from_string(std::string_view name) noexcept {
  for (OutputFormat f : {OutputFormat::text, OutputFormat::json, OutputFormat::jsonl})
    if (to_string(f) == name) return f;
  return std::nullopt;
}

std::string dump_json_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool write_json_with_text(nlohmann::json line, const std::string& text, const OutputSink& out) {
  // A placeholder no other member can hold: a fresh random one each time.
  std::random_device random;
  const std::string placeholder =
      "\x01drover-text-" + std::to_string(random()) + "-" + std::to_string(random()) + "\x01";
  line["text"] = placeholder;
  const std::string doc = dump_json_line(line);
  const std::string marker = dump_json_line(nlohmann::json(placeholder));
  const std::size_t at = doc.find(marker);
  if (at == std::string::npos) {  // cannot happen; never lose the answer over it
    line["text"] = text;
    return out(dump_json_line(line) + "\n");
  }
  std::string piece = doc.substr(0, at) + "\"";
  constexpr std::size_t kPiece = 1 << 16;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = std::min(text.size(), pos + kPiece);
    // Cut at a character boundary: escaping is per character, so pieces escape as the whole.
    while (end < text.size() && end > pos && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    if (end == pos) end = std::min(text.size(), pos + kPiece);
    const std::string escaped = dump_json_line(nlohmann::json(text.substr(pos, end - pos)));
    piece.append(escaped, 1, escaped.size() - 2);
    if (piece.size() >= kPiece) {
      if (!out(piece)) return false;
      piece.clear();
    }
    pos = end;
  }
  piece += "\"";
  piece.append(doc, at + marker.size());
  piece += "\n";
  return out(piece);
}

OutputWriter::OutputWriter(OutputFormat format, std::FILE* file) : format_(format), file_(file) {
  out_ = file_->sink();
}

bool OutputWriter::on_event(const Event& event) {
  if (format_ != OutputFormat::jsonl) return true;
  return out_(dump_json_line(to_json(event)) + "\n");
}

bool OutputWriter::on_result(Result& result) {
  if (format_ == OutputFormat::text) {
    if (!result.ok()) return true;
    if (!out_(result.text)) return false;
    if (result.text.empty() || result.text.back() != '\n') return out_("\n");
    return true;
  }
  // The answer is moved out of the Result and escaped piecewise rather than copied into the JSON.
  std::string text = std::move(result.text);
  result.text.clear();
  nlohmann::json line = to_json(result);
  if (format_ == OutputFormat::jsonl) line["type"] = "result";
  return write_json_with_text(std::move(line), text, out_);
}

}  // namespace drover
