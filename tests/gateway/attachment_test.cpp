// The request log records each attachment a request carries — its wire part, type, MIME type,
// decoded size or the URL it references — in all four wire formats, and never the bytes.
#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"
#include "src/core/base64.h"
#include "support/fixtures.h"

namespace drover::test::gateway {
namespace {

std::string b64(const std::string& bytes) { return base64_encode(bytes); }

struct Fixtures {
  std::string png = read_fixture("api/attach-pixels.png");
  std::string pdf = read_fixture("api/attach-page.pdf");
  std::string png64 = b64(png);
  std::string pdf64 = b64(pdf);
};

json entry(const std::string& part, const std::string& type, const std::string& mime, size_t bytes) {
  return {{"part", part}, {"type", type}, {"mime", mime}, {"bytes", bytes}};
}

class GatewayAttachments : public ::testing::TestWithParam<bool> {
 protected:
  bool stream() const { return GetParam(); }
  /// The request's one log line, with the attachments' bytes nowhere in the log.
  json logged(ScriptedGateway& gw, const Fixtures& f) {
    auto log = gw.log(1);
    EXPECT_EQ(log.size(), 1u);
    const std::string text = slurp(gw.log_path());
    EXPECT_EQ(text.find(f.png64), std::string::npos) << "bytes in the log";
    EXPECT_EQ(text.find(f.pdf64.substr(0, 40)), std::string::npos) << "bytes in the log";
    return log.empty() ? json() : log[0];
  }
};

TEST_P(GatewayAttachments, OpenAiChatImageUrlAndFileParts) {
  Fixtures f;
  ScriptedGateway gw(json::object());
  json content = json::array(
      {{{"type", "text"}, {"text", "describe these"}},
       {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + f.png64}, {"detail", "auto"}}}},
       {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.png?sig=s3cr3t"}}}},
       {{"type", "file"}, {"file", {{"filename", "page.pdf"}, {"file_data", "data:application/pdf;base64," + f.pdf64}}}}});
  json body = {{"model", "gpt-4.1"}, {"stream", stream()},
               {"messages", {{{"role", "user"}, {"content", content}}}}};
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", body).status, 200);
  const json line = logged(gw, f);
  EXPECT_EQ(line["lastUserText"], "describe these");
  json pdf = entry("file", "document", "application/pdf", f.pdf.size());
  pdf["name"] = "page.pdf";
  json expected = json::array({entry("image_url", "image", "image/png", f.png.size()),
                               {{"part", "image_url"}, {"type", "image"}, {"mime", nullptr},
                                {"url", "https://example.com/cat.png"}},
                               pdf});
  EXPECT_EQ(line["attachments"], expected) << line.dump();
  EXPECT_EQ(slurp(gw.log_path()).find("s3cr3t"), std::string::npos) << "a URL's query is not logged";
}

TEST_P(GatewayAttachments, OpenAiResponsesInputImageAndInputFile) {
  Fixtures f;
  ScriptedGateway gw(json::object());
  json content = json::array(
      {{{"type", "input_text"}, {"text", "look"}},
       {{"type", "input_image"}, {"image_url", "data:image/png;base64," + f.png64}},
       {{"type", "input_image"}, {"image_url", "https://example.com/a.png"}},
       {{"type", "input_file"}, {"filename", "page.pdf"}, {"file_data", "data:application/pdf;base64," + f.pdf64}},
       {{"type", "input_file"}, {"file_url", "https://example.com/doc.pdf"}}});
  json body = {{"model", "gpt-5.5"}, {"stream", stream()},
               {"input", {{{"type", "message"}, {"role", "user"}, {"content", content}}}}};
  ASSERT_EQ(post(gw.port(), "/v1/responses", body).status, 200);
  const json line = logged(gw, f);
  EXPECT_EQ(line["lastUserText"], "look");
  json pdf = entry("input_file", "document", "application/pdf", f.pdf.size());
  pdf["name"] = "page.pdf";
  json expected = json::array(
      {entry("input_image", "image", "image/png", f.png.size()),
       {{"part", "input_image"}, {"type", "image"}, {"mime", nullptr}, {"url", "https://example.com/a.png"}},
       pdf,
       {{"part", "input_file"}, {"type", "document"}, {"mime", nullptr}, {"url", "https://example.com/doc.pdf"}}});
  EXPECT_EQ(line["attachments"], expected) << line.dump();
}

TEST_P(GatewayAttachments, AnthropicImageAndDocumentBlocks) {
  Fixtures f;
  ScriptedGateway gw(json::object());
  json content = json::array(
      {{{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", f.png64}}}},
       {{"type", "image"}, {"source", {{"type", "url"}, {"url", "https://example.com/b.png"}}}},
       {{"type", "document"}, {"title", "page.pdf"},
        {"source", {{"type", "base64"}, {"media_type", "application/pdf"}, {"data", f.pdf64}}}},
       {{"type", "document"}, {"source", {{"type", "url"}, {"url", "https://example.com/c.pdf"}}}},
       {{"type", "document"}, {"source", {{"type", "text"}, {"media_type", "text/plain"}, {"data", "héllo"}}}},
       {{"type", "text"}, {"text", "what is in them"}}});
  json body = {{"model", "claude-opus-5-5"}, {"stream", stream()}, {"max_tokens", 100},
               {"messages", {{{"role", "user"}, {"content", content}}}}};
  ASSERT_EQ(post(gw.port(), "/v1/messages", body, {{"anthropic-version", "2023-06-01"}}).status, 200);
  const json line = logged(gw, f);
  EXPECT_EQ(line["lastUserText"], "what is in them");
  json pdf = entry("document", "document", "application/pdf", f.pdf.size());
  pdf["name"] = "page.pdf";
  json expected = json::array(
      {entry("image", "image", "image/png", f.png.size()),
       {{"part", "image"}, {"type", "image"}, {"mime", nullptr}, {"url", "https://example.com/b.png"}},
       pdf,
       {{"part", "document"}, {"type", "document"}, {"mime", nullptr}, {"url", "https://example.com/c.pdf"}},
       entry("document", "document", "text/plain", 6)});
  EXPECT_EQ(line["attachments"], expected) << line.dump();
}

TEST_P(GatewayAttachments, GeminiInlineDataAndFileData) {
  Fixtures f;
  ScriptedGateway gw(json::object());
  json parts = json::array({{{"text", "read"}},
                            {{"inlineData", {{"mimeType", "image/png"}, {"data", f.png64}}}},
                            {{"inline_data", {{"mime_type", "application/pdf"}, {"data", f.pdf64}}}},
                            {{"fileData", {{"mimeType", "application/pdf"},
                                           {"fileUri", "https://generativelanguage.googleapis.com/v1beta/files/x"}}}}});
  json body = {{"contents", {{{"role", "user"}, {"parts", parts}}}}};
  const std::string path = stream() ? "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                                    : "/v1beta/models/gemini-2.5-flash:generateContent";
  ASSERT_EQ(post(gw.port(), path, body).status, 200);
  const json line = logged(gw, f);
  EXPECT_EQ(line["lastUserText"], "read");
  json expected = json::array(
      {entry("inlineData", "image", "image/png", f.png.size()),
       entry("inlineData", "document", "application/pdf", f.pdf.size()),
       {{"part", "fileData"}, {"type", "document"}, {"mime", "application/pdf"},
        {"url", "https://generativelanguage.googleapis.com/v1beta/files/x"}}});
  EXPECT_EQ(line["attachments"], expected) << line.dump();
}

INSTANTIATE_TEST_SUITE_P(Stream, GatewayAttachments, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Streaming" : "Whole"; });

TEST(GatewayAttachmentLog, Base64SizesAndInvalidDataAreCountedNotFatal) {
  ScriptedGateway gw(json::object());
  json parts = json::array({{{"text", "sizes"}}});
  for (const char* data : {"", "QQ", "QQ==", "QUI=", "QUJD", "QUJD\nRA==", "Q", "QQ=x", "QQ===", "QU*D"})
    parts.push_back({{"inlineData", {{"mimeType", "application/octet-stream"}, {"data", data}}}});
  // Malformed data: URLs in OpenAI parts, and a part whose fields have the wrong types.
  json turn = {{"parts", parts}};
  ASSERT_EQ(post(gw.port(), "/v1beta/models/g:generateContent", {{"contents", json::array({turn})}}).status, 200);
  json content = json::array({{{"type", "text"}, {"text", "broken"}},
                              {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64"}}}},
                              {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,@@@@"}}}},
                              {{"type", "image_url"}, {"image_url", {{"url", "data:text/plain,a%2"}}}},
                              {{"type", "image_url"}, {"image_url", {{"url", "data:,a%20b"}}}},
                              {{"type", "image_url"}, {"image_url", 42}},
                              {{"type", "file"}, {"file", "nope"}},
                              {{"type", "input_file"}, {"file_data", json::array()}}});
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions",
                 {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", content}}}}}).status, 200);
  auto log = gw.log(2);
  ASSERT_EQ(log.size(), 2u);

  const json sizes = find_line(log, "sizes")["attachments"];
  ASSERT_EQ(sizes.size(), 10u) << sizes.dump();
  const std::vector<json> want = {0, 1, 1, 2, 3, 4, nullptr, nullptr, nullptr, nullptr};
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].is_null()) {
      EXPECT_EQ(sizes[i].value("invalid", false), true) << i << " " << sizes[i].dump();
      EXPECT_FALSE(sizes[i].contains("bytes")) << i;
    } else {
      EXPECT_EQ(sizes[i]["bytes"], want[i]) << i << " " << sizes[i].dump();
      EXPECT_FALSE(sizes[i].contains("invalid")) << i;
    }
  }

  const json broken = find_line(log, "broken")["attachments"];
  ASSERT_EQ(broken.size(), 7u) << broken.dump();
  EXPECT_EQ(broken[0]["invalid"], true) << "no comma";
  EXPECT_EQ(broken[0]["mime"], "image/png");
  EXPECT_EQ(broken[1]["invalid"], true) << "not base64";
  EXPECT_EQ(broken[2]["invalid"], true) << "a cut percent escape";
  EXPECT_EQ(broken[3]["bytes"], 3) << "percent-decoded";
  EXPECT_TRUE(broken[3]["mime"].is_null());
  for (size_t i = 4; i < 7; ++i) {
    EXPECT_FALSE(broken[i].contains("bytes")) << broken[i].dump();
    EXPECT_FALSE(broken[i].contains("url")) << broken[i].dump();
  }
}

TEST(GatewayAttachmentLog, RecordsAtMost100AndCountsTheRest) {
  ScriptedGateway gw(json::object());
  json content = json::array({{{"type", "text"}, {"text", "many"}}});
  for (int i = 0; i < 130; ++i)
    content.push_back({{"type", "image_url"}, {"image_url", {{"url", "data:image/gif;base64,R0lG"}}}});
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions",
                 {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", content}}}}}).status, 200);
  auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["attachments"].size(), 100u);
  EXPECT_EQ(log[0]["attachmentsOmitted"], 30);
  EXPECT_EQ(log[0]["attachments"][99], entry("image_url", "image", "image/gif", 3));
}

TEST(GatewayAttachmentLog, AnthropicToolResultImagesCountAndTextOnlyRequestsHaveNone) {
  ScriptedGateway gw(json::object());
  json content = json::array(
      {{{"type", "tool_result"}, {"tool_use_id", "t1"},
        {"content", {{{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", "image/jpeg"}, {"data", "AAAA"}}}}}}}});
  ASSERT_EQ(post(gw.port(), "/v1/messages",
                 {{"model", "c"}, {"messages", {{{"role", "user"}, {"content", "tool please"}},
                                                {{"role", "user"}, {"content", content}}}}}).status, 200);
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions",
                 {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "plain"}}}}}).status, 200);
  auto log = gw.log(2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(find_line(log, "tool please")["attachments"],
            json::array({entry("image", "image", "image/jpeg", 3)}));
  EXPECT_FALSE(find_line(log, "plain").contains("attachments"));
}

}  // namespace
}  // namespace drover::test::gateway
