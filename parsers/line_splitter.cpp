#include "parsers/line_splitter.h"

#include <cstring>

namespace drover::parsers {

LineSplitter::LineSplitter(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

void LineSplitter::feed(std::string_view bytes, const Sink& sink) {
  while (!bytes.empty()) {
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    const std::size_t len =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
    if (skipping_) {
      if (!nl) return;
      skipping_ = false;
    } else if (partial_.size() + len > max_line_bytes_) {
      partial_.append(bytes.substr(0, max_line_bytes_ - partial_.size()));
      sink(partial_, true);
      partial_.clear();
      skipping_ = nl == nullptr;
    } else if (!nl) {
      partial_.append(bytes);
      return;
    } else {
      std::string_view line = bytes.substr(0, len);
      if (!partial_.empty()) line = partial_.append(line);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      sink(line, false);
      partial_.clear();
    }
    bytes.remove_prefix(nl ? len + 1 : len);
  }
}

void LineSplitter::finish(const Sink& sink) {
  std::string_view line = skipping_ ? std::string_view() : std::string_view(partial_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) sink(line, false);
  reset();
}

void LineSplitter::reset() noexcept {
  partial_.clear();
  skipping_ = false;
}

}  // namespace drover::parsers
