// Attachments in the wire formats: the provider-native blocks each request carries, and the
// documented inline limits checked before anything is sent.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/api/wire.h"
#include "src/core/base64.h"

namespace drover::api {
namespace {

using nlohmann::json;
using Category = AttachmentCategory;

ApiAttachment inline_attachment(std::string name, Category category, std::string mime, std::string content) {
  ApiAttachment a;
  a.name = std::move(name);
  a.category = category;
  a.mime = std::move(mime);
  a.content = std::move(content);
  return a;
}

ApiAttachment remote(std::string name, Category category, std::string url) {
  ApiAttachment a;
  a.name = std::move(name);
  a.category = category;
  a.url = std::move(url);
  return a;
}

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";
const std::string kPdf = "%PDF-1.4 page";

ApiCall call_with(WireFormat format, std::vector<ApiAttachment> attachments) {
  ApiCall call;
  call.format = format;
  call.model = "m-1";
  call.prompt = "Describe";
  call.attachments = std::move(attachments);
  return call;
}

std::vector<ApiAttachment> three() {
  return {inline_attachment("a.png", Category::image, "image/png", kPng),
          inline_attachment("b.pdf", Category::document, "application/pdf", kPdf),
          inline_attachment("c.txt", Category::text, "text/plain", "some notes")};
}

json body_of(const ApiCall& call) { return json::parse(build_request(call).body); }

TEST(WireAttachments, OpenAiChatImageUrlFileAndTextParts) {
  const json content = body_of(call_with(WireFormat::openai_chat, three()))["messages"][0]["content"];
  const json expected = json::parse(R"([
    {"type":"image_url","image_url":{"url":"data:image/png;base64,)" + base64_encode(kPng) + R"("}},
    {"type":"file","file":{"filename":"b.pdf","file_data":"data:application/pdf;base64,)" + base64_encode(kPdf) + R"("}},
    {"type":"text","text":"[attachment: c.txt]\nsome notes"},
    {"type":"text","text":"Describe"}])");
  EXPECT_EQ(content, expected);
  const json url = body_of(call_with(WireFormat::openai_chat, {remote("x.png", Category::image, "https://h/x.png?s=1")}));
  EXPECT_EQ(url["messages"][0]["content"][0], json::parse(R"({"type":"image_url","image_url":{"url":"https://h/x.png?s=1"}})"));
}

TEST(WireAttachments, OpenAiResponsesInputImageInputFileAndText) {
  const json input = body_of(call_with(WireFormat::openai_responses, three()))["input"];
  const json expected = json::parse(R"([{"role":"user","content":[
    {"type":"input_image","image_url":"data:image/png;base64,)" + base64_encode(kPng) + R"("},
    {"type":"input_file","filename":"b.pdf","file_data":"data:application/pdf;base64,)" + base64_encode(kPdf) + R"("},
    {"type":"input_text","text":"[attachment: c.txt]\nsome notes"},
    {"type":"input_text","text":"Describe"}]}])");
  EXPECT_EQ(input, expected);
  const json urls = body_of(call_with(WireFormat::openai_responses, {remote("x.png", Category::image, "https://h/x.png"),
                                                                     remote("d.pdf", Category::document, "https://h/d.pdf")}));
  EXPECT_EQ(urls["input"][0]["content"][0], json::parse(R"({"type":"input_image","image_url":"https://h/x.png"})"));
  EXPECT_EQ(urls["input"][0]["content"][1], json::parse(R"({"type":"input_file","file_url":"https://h/d.pdf"})"));
}

TEST(WireAttachments, AnthropicImageDocumentAndTextBlocks) {
  const json content = body_of(call_with(WireFormat::anthropic_messages, three()))["messages"][0]["content"];
  const json expected = json::parse(R"([
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":")" + base64_encode(kPng) + R"("}},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" + base64_encode(kPdf) + R"("},"title":"b.pdf"},
    {"type":"text","text":"[attachment: c.txt]\nsome notes"},
    {"type":"text","text":"Describe"}])");
  EXPECT_EQ(content, expected);
  const json urls = body_of(call_with(WireFormat::anthropic_messages, {remote("x.png", Category::image, "https://h/x.png"),
                                                                       remote("d.pdf", Category::document, "https://h/d.pdf")}));
  EXPECT_EQ(urls["messages"][0]["content"][0], json::parse(R"({"type":"image","source":{"type":"url","url":"https://h/x.png"}})"));
  EXPECT_EQ(urls["messages"][0]["content"][1],
            json::parse(R"({"type":"document","source":{"type":"url","url":"https://h/d.pdf"},"title":"d.pdf"})"));
}

TEST(WireAttachments, GeminiInlineDataAndTextParts) {
  const json parts = body_of(call_with(WireFormat::gemini, three()))["contents"][0]["parts"];
  const json expected = json::parse(R"([
    {"inlineData":{"mimeType":"image/png","data":")" + base64_encode(kPng) + R"("}},
    {"inlineData":{"mimeType":"application/pdf","data":")" + base64_encode(kPdf) + R"("}},
    {"text":"[attachment: c.txt]\nsome notes"},
    {"text":"Describe"}])");
  EXPECT_EQ(parts, expected);
}

TEST(WireAttachments, WithoutAttachmentsTheBodiesAreAsBefore) {
  EXPECT_EQ(body_of(call_with(WireFormat::openai_chat, {}))["messages"][0]["content"], "Describe");
  EXPECT_EQ(body_of(call_with(WireFormat::openai_responses, {}))["input"], "Describe");
  EXPECT_EQ(body_of(call_with(WireFormat::anthropic_messages, {}))["messages"][0]["content"], "Describe");
  EXPECT_EQ(body_of(call_with(WireFormat::gemini, {}))["contents"][0]["parts"], json::parse(R"([{"text":"Describe"}])"));
}

TEST(WireAttachments, WhatEachFormatTakes) {
  const std::vector<Category> all = {Category::image, Category::document, Category::text};
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::openai_responses, WireFormat::anthropic_messages,
                       WireFormat::gemini})
    EXPECT_EQ(inline_categories(f), all);
  EXPECT_EQ(remote_categories(WireFormat::openai_chat), std::vector<Category>{Category::image});
  EXPECT_EQ(remote_categories(WireFormat::openai_responses), (std::vector<Category>{Category::image, Category::document}));
  EXPECT_EQ(remote_categories(WireFormat::anthropic_messages), (std::vector<Category>{Category::image, Category::document}));
  EXPECT_TRUE(remote_categories(WireFormat::gemini).empty());

  EXPECT_TRUE(takes_image_type(WireFormat::anthropic_messages, "image/gif"));
  EXPECT_FALSE(takes_image_type(WireFormat::anthropic_messages, "image/bmp"));
  EXPECT_FALSE(takes_image_type(WireFormat::gemini, "image/gif"));
  EXPECT_TRUE(takes_image_type(WireFormat::gemini, "image/heic"));

  EXPECT_TRUE(is_default_endpoint(WireFormat::openai_chat, ""));
  EXPECT_TRUE(is_default_endpoint(WireFormat::openai_chat, "https://api.openai.com/v1/"));
  EXPECT_FALSE(is_default_endpoint(WireFormat::openai_chat, "http://127.0.0.1:8046/v1"));
  EXPECT_TRUE(is_default_endpoint(WireFormat::gemini, "https://generativelanguage.googleapis.com"));

  EXPECT_EQ(attachment_delivery(inline_attachment("a", Category::image, "image/png", "x")), "image");
  EXPECT_EQ(attachment_delivery(inline_attachment("a", Category::document, "application/pdf", "x")), "document");
  EXPECT_EQ(attachment_delivery(inline_attachment("a", Category::text, "text/plain", "x")), "text");
  EXPECT_EQ(attachment_delivery(remote("a", Category::image, "https://h/a.png")), "link");
}

constexpr size_t kMiB = 1024 * 1024;

void expect_error(const std::optional<Error>& error, ErrorCode code, const std::string& says) {
  ASSERT_TRUE(error) << "expected: " << says;
  EXPECT_EQ(error->code, code) << error->message;
  EXPECT_NE(error->message.find(says), std::string::npos) << error->message;
}

TEST(WireAttachmentLimits, AnthropicCountsImagesBase64Encoded) {
  // 3.75 MiB encodes to exactly 5 MiB: the limit itself passes, one byte more does not.
  const size_t at_limit = 5 * kMiB / 4 * 3;
  EXPECT_FALSE(check_attachments(call_with(WireFormat::anthropic_messages,
                                           {inline_attachment("a.png", Category::image, "image/png", std::string(at_limit, 'x'))})));
  expect_error(check_attachments(call_with(WireFormat::anthropic_messages,
                                           {inline_attachment("a.png", Category::image, "image/png", std::string(at_limit + 1, 'x'))})),
               ErrorCode::validation_error, "\"a.png\"");
  expect_error(check_attachments(call_with(WireFormat::anthropic_messages,
                                           {inline_attachment("a.png", Category::image, "image/png", std::string(at_limit + 1, 'x'))})),
               ErrorCode::validation_error, "(3932161 bytes) is, base64-encoded, 5242884 bytes, over Anthropic's limit of 5242880 bytes (5 MiB) per image");
  std::vector<ApiAttachment> many(101, inline_attachment("i.png", Category::image, "image/png", "x"));
  expect_error(check_attachments(call_with(WireFormat::anthropic_messages, many)), ErrorCode::validation_error,
               "101 images are over Anthropic's limit of 100 per request");
  EXPECT_FALSE(check_request_size(WireFormat::anthropic_messages, 32 * kMiB));
  expect_error(check_request_size(WireFormat::anthropic_messages, 32 * kMiB + 1), ErrorCode::validation_error,
               "limit of 33554432 bytes (32 MiB) per request");
}

TEST(WireAttachmentLimits, OpenAiImagesAndFiles) {
  for (WireFormat f : {WireFormat::openai_chat, WireFormat::openai_responses}) {
    EXPECT_FALSE(check_attachments(call_with(f, {inline_attachment("a.png", Category::image, "image/png", std::string(20 * kMiB, 'x'))})));
    expect_error(check_attachments(call_with(f, {inline_attachment("a.png", Category::image, "image/png", std::string(20 * kMiB + 1, 'x'))})),
                 ErrorCode::validation_error, "image \"a.png\" is 20971521 bytes, over OpenAI's limit of 20971520 bytes (20 MiB) per image");
    std::vector<ApiAttachment> images(3, inline_attachment("a.png", Category::image, "image/png", std::string(17 * kMiB, 'x')));
    expect_error(check_attachments(call_with(f, images)), ErrorCode::validation_error,
                 "the images come to 53477376 bytes (51 MiB), over OpenAI's limit of 52428800 bytes (50 MiB) per request");
    std::vector<ApiAttachment> pdfs(2, inline_attachment("b.pdf", Category::document, "application/pdf", std::string(16 * kMiB + 1, 'x')));
    expect_error(check_attachments(call_with(f, pdfs)), ErrorCode::validation_error, "the PDFs come to 33554434 bytes, over OpenAI's limit of 33554432 bytes (32 MiB) per request");
    // Remote references carry no bytes: only their number counts.
    EXPECT_FALSE(check_attachments(call_with(f, {remote("x.png", Category::image, "https://h/x.png")})));
    EXPECT_FALSE(check_request_size(f, 1ull << 30)) << "no request limit documented";
  }
}

TEST(WireAttachmentLimits, GeminiPdfsAndRequest) {
  EXPECT_FALSE(check_attachments(call_with(WireFormat::gemini, {inline_attachment("b.pdf", Category::document, "application/pdf", std::string(50 * kMiB, 'x'))})));
  expect_error(check_attachments(call_with(WireFormat::gemini, {inline_attachment("b.pdf", Category::document, "application/pdf", std::string(50 * kMiB + 1, 'x'))})),
               ErrorCode::validation_error, "PDF \"b.pdf\" is 52428801 bytes, over Gemini's limit of 52428800 bytes (50 MiB) per PDF");
  expect_error(check_request_size(WireFormat::gemini, 100 * kMiB + 1), ErrorCode::validation_error, "(100 MiB) per request");
}

TEST(WireAttachmentLimits, ImageTypesTheProviderDoesNotTake) {
  expect_error(check_attachments(call_with(WireFormat::openai_chat, {inline_attachment("a.bmp", Category::image, "image/bmp", "BM")})),
               ErrorCode::unsupported_capability, "does not take image/bmp images (attachment \"a.bmp\"); it takes JPEG, PNG, GIF and WebP");
  expect_error(check_attachments(call_with(WireFormat::gemini, {inline_attachment("a.gif", Category::image, "image/gif", "GIF8")})),
               ErrorCode::unsupported_capability, "it takes PNG, JPEG, WebP, HEIC and HEIF");
}

TEST(WireAttachmentLimits, WhatStagingLoads) {
  EXPECT_EQ(max_inline_attachment_bytes(WireFormat::anthropic_messages), 32 * kMiB);
  EXPECT_EQ(max_inline_attachment_bytes(WireFormat::openai_chat), 50 * kMiB);
  EXPECT_EQ(max_inline_attachment_bytes(WireFormat::gemini), 100 * kMiB);
}

}  // namespace
}  // namespace drover::api
