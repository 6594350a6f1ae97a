// Attachments over the API: what each wire format carries, the providers' documented inline
// limits, and the checks made before a request is sent (README "Attachments over the API").
#include <algorithm>
#include <array>

#include "src/api/wire_common.h"
#include "src/core/base64.h"

namespace drover::api {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

using Category = AttachmentCategory;

std::string provider_name(WireFormat format) {
  switch (format) {
    case WireFormat::openai_chat:
    case WireFormat::openai_responses: return "OpenAI";
    case WireFormat::anthropic_messages: return "Anthropic";
    case WireFormat::gemini: return "Gemini";
  }
  return "the provider";
}

/// "5242880 bytes (5 MiB)".
std::string bytes_text(uint64_t bytes) {
  std::string out = std::to_string(bytes) + " bytes";
  if (bytes >= kMiB && bytes % kMiB == 0) out += " (" + std::to_string(bytes / kMiB) + " MiB)";
  return out;
}

uint64_t base64_size(uint64_t bytes) { return (bytes + 2) / 3 * 4; }

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

}  // namespace

bool is_default_endpoint(WireFormat format, std::string_view base_url) {
  return wire::base_url_or_default(format, base_url) == wire::base_url_or_default(format, "");
}

std::vector<AttachmentCategory> inline_categories(WireFormat) {
  return {Category::image, Category::document, Category::text};
}

std::vector<AttachmentCategory> remote_categories(WireFormat format) {
  switch (format) {
    case WireFormat::anthropic_messages: return {Category::image, Category::document};
    case WireFormat::openai_chat: return {Category::image};
    case WireFormat::openai_responses: return {Category::image, Category::document};
    case WireFormat::gemini: return {};
  }
  return {};
}

AttachmentLimits attachment_limits(WireFormat format) {
  AttachmentLimits limits;
  switch (format) {
    case WireFormat::anthropic_messages:
      // Vision: 5 MB per image (the API measures the base64 text), 100 images per request;
      // PDF support: 32 MB per request, everything in it included.
      limits.image_base64_bytes = 5 * kMiB;
      limits.max_images = 100;
      limits.request_bytes = 32 * kMiB;
      break;
    case WireFormat::openai_chat:
    case WireFormat::openai_responses:
      // Images: 20 MB each, 50 MB of image bytes and 500 images per request; file inputs:
      // 32 MB of file content per request.
      limits.image_bytes = 20 * kMiB;
      limits.images_total_bytes = 50 * kMiB;
      limits.max_images = 500;
      limits.documents_total_bytes = 32 * kMiB;
      break;
    case WireFormat::gemini:
      // Inline data: 100 MB per request, base64-encoded; PDFs: 50 MB each.
      limits.document_bytes = 50 * kMiB;
      limits.request_bytes = 100 * kMiB;
      break;
  }
  return limits;
}

uint64_t max_inline_attachment_bytes(WireFormat format) {
  const AttachmentLimits limits = attachment_limits(format);
  uint64_t most = 0;
  for (uint64_t limit : {limits.image_bytes, limits.images_total_bytes, limits.document_bytes,
                         limits.documents_total_bytes, limits.request_bytes})
    most = std::max(most, limit);
  return most;
}

bool takes_image_type(WireFormat format, std::string_view mime) {
  static constexpr std::array<std::string_view, 4> kCommon{"image/jpeg", "image/png", "image/gif",
                                                          "image/webp"};
  static constexpr std::array<std::string_view, 5> kGemini{"image/png", "image/jpeg", "image/webp",
                                                          "image/heic", "image/heif"};
  if (format == WireFormat::gemini) return std::find(kGemini.begin(), kGemini.end(), mime) != kGemini.end();
  return std::find(kCommon.begin(), kCommon.end(), mime) != kCommon.end();
}

std::optional<Error> check_attachments(const ApiCall& call) {
  const AttachmentLimits limits = attachment_limits(call.format);
  const std::string provider = provider_name(call.format);
  // "<subject> <size>, over <provider>'s limit of <limit> <per>".
  auto over = [&](const std::string& subject, uint64_t size, uint64_t limit, const std::string& per) {
    return Error::make(ErrorCode::validation_error, subject + " " + bytes_text(size) + ", over " +
                                                        provider + "'s limit of " + bytes_text(limit) +
                                                        " " + per);
  };
  uint64_t image_total = 0;
  uint64_t document_total = 0;
  std::size_t images = 0;
  for (const ApiAttachment& a : call.attachments) {
    const uint64_t size = a.content.size();
    if (a.category == Category::image) {
      ++images;
      if (a.url) continue;
      if (!takes_image_type(call.format, a.mime))
        return Error::make(ErrorCode::unsupported_capability,
                           provider + " does not take " + a.mime + " images (attachment " +
                               quoted(a.name) + "); it takes " +
                               (call.format == WireFormat::gemini ? "PNG, JPEG, WebP, HEIC and HEIF"
                                                                  : "JPEG, PNG, GIF and WebP"));
      if (limits.image_bytes > 0 && size > limits.image_bytes)
        return over("image " + quoted(a.name) + " is", size, limits.image_bytes, "per image");
      if (limits.image_base64_bytes > 0 && base64_size(size) > limits.image_base64_bytes)
        return over("image " + quoted(a.name) + " (" + std::to_string(size) + " bytes) is, base64-encoded,",
                    base64_size(size), limits.image_base64_bytes, "per image");
      image_total += size;
    } else if (a.category == Category::document && !a.url) {
      if (limits.document_bytes > 0 && size > limits.document_bytes)
        return over("PDF " + quoted(a.name) + " is", size, limits.document_bytes, "per PDF");
      document_total += size;
    }
  }
  if (limits.max_images > 0 && images > limits.max_images)
    return Error::make(ErrorCode::validation_error,
                       std::to_string(images) + " images are over " + provider + "'s limit of " +
                           std::to_string(limits.max_images) + " per request");
  if (limits.images_total_bytes > 0 && image_total > limits.images_total_bytes)
    return over("the images come to", image_total, limits.images_total_bytes, "per request");
  if (limits.documents_total_bytes > 0 && document_total > limits.documents_total_bytes)
    return over("the PDFs come to", document_total, limits.documents_total_bytes, "per request");
  return std::nullopt;
}

std::optional<Error> check_request_size(WireFormat format, std::size_t body_bytes) {
  const uint64_t limit = attachment_limits(format).request_bytes;
  if (limit == 0 || body_bytes <= limit) return std::nullopt;
  return Error::make(ErrorCode::validation_error,
                     "the request with its attachments is " + bytes_text(body_bytes) + ", over " +
                         provider_name(format) + "'s limit of " + bytes_text(limit) + " per request");
}

std::string_view attachment_delivery(const ApiAttachment& attachment) noexcept {
  if (attachment.url) return "link";
  switch (attachment.category) {
    case Category::image: return "image";
    case Category::document: return "document";
    case Category::text: return "text";
    case Category::other: break;
  }
  return "text";
}

namespace wire {

std::string data_url(std::string_view mime, std::string_view bytes) {
  return "data:" + std::string(mime) + ";base64," + base64_encode(bytes);
}

std::string attachment_text(const ApiAttachment& attachment) {
  return "[attachment: " + attachment.name + "]\n" + attachment.content;
}

}  // namespace wire
}  // namespace drover::api
