// Attachments as a caller gives them (README "Attachments"): a local path, a data: URL, a remote
// https:// reference, or bytes in hand (stdin) with a name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace drover {

/// What an attachment is, decided by its content (libmagic) and then its name's extension.
enum class AttachmentCategory {
  image,     ///< image/*
  document,  ///< application/pdf
  text,      ///< text/*, JSON, XML, CSV and the like
  other,     ///< anything else
};
/// "image" / "document" / "text" / "other".
std::string_view to_string(AttachmentCategory category) noexcept;
std::optional<AttachmentCategory> attachment_category_from_string(std::string_view name) noexcept;

struct Attachment {
  /// A local path (relative paths resolve against the run's workspace), a `data:` URL, or an
  /// `https://` URL (passed as a reference where the route takes one). Empty when `content` is set.
  std::string source;
  /// The bytes themselves (`--file -` reads stdin into this); `name` then names them.
  std::optional<std::string> content;
  /// The name the harness or model sees (sanitized when staged); empty: the source's basename.
  std::string name;

  Attachment() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): a path is the common case
  Attachment(std::string source_) : source(std::move(source_)) {}
  Attachment(const char* source_) : source(source_) {}
  static Attachment bytes(std::string name, std::string content) {
    Attachment a;
    a.name = std::move(name);
    a.content = std::move(content);
    return a;
  }
};

}  // namespace drover
