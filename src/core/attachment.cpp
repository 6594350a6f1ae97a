#include "drover/attachment.h"

namespace drover {

std::string_view to_string(AttachmentCategory category) noexcept {
  switch (category) {
    case AttachmentCategory::image: return "image";
    case AttachmentCategory::document: return "document";
    case AttachmentCategory::text: return "text";
    case AttachmentCategory::other: return "other";
  }
  return "other";
}

std::optional<AttachmentCategory> attachment_category_from_string(std::string_view name) noexcept {
  for (auto category : {AttachmentCategory::image, AttachmentCategory::document,
                        AttachmentCategory::text, AttachmentCategory::other})
    if (to_string(category) == name) return category;
  return std::nullopt;
}

}  // namespace drover
