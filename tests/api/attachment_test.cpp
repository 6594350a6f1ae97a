// Attachments over the API against the mock gateway: each wire format carries images, PDFs and
// text files the provider's way (what the gateway's request log recorded is checked), remote
// https references pass as URLs where the provider takes them, and what cannot be sent (a
// category, an image on a text-only model, an attachment over a documented limit) is refused
// before any request.
#include <chrono>
#include <fstream>
#include <ostream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "src/api/api_transport.h"
#include "src/loop/loop.h"
#include "support/drover_cli.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

using nlohmann::json;

const char* const kKey = "sk-ATTACH-SECRET-4242";

struct Provider {
  std::string route;   ///< the provider id in the config
  std::string format;  ///< transport.api.format
  std::string model;
  bool v1 = false;     ///< baseUrl ends in /v1 (OpenAI)
};

void PrintTo(const Provider& p, std::ostream* os) { *os << p.route; }

const Provider kChat{"openai", "openai-chat", "gpt-4.1", true};
const Provider kResponses{"responses", "openai-responses", "gpt-5.5", true};
const Provider kAnthropic{"anthropic", "anthropic", "claude-sonnet-4-5", false};
const Provider kGemini{"gemini", "gemini", "gemini-2.5-flash", false};

/// One API account for `p` at `gateway`; `model` is the models[] entry (a name or an object).
json config_for(const Provider& p, const std::string& gateway, bool stream, const json& model,
                const json& extra_api = json::object()) {
  json api = {{"format", p.format},
              {"baseUrl", gateway + (p.v1 ? "/v1" : "")},
              {"apiKeyEnv", "DROVER_ATTACH_KEY"},
              {"parameters", {{"stream", stream}}}};
  api.update(extra_api);
  return {{"providers",
           {{p.route,
             {{"accounts",
               {{{"id", "main"}, {"transport", {{"kind", "api"}, {"api", api}}}, {"models", {model}}}}}}}}},
          {"routing", {{"fallback", {{"on", json::object()}}}}}};
}

json vision_model(const Provider& p) { return {{"id", p.model}, {"supportsImages", true}}; }

Config attachment_config(const json& j) {
  auto [config, error] = parse_config(j.dump(), "test.json");
  EXPECT_TRUE(config) << (error ? error->message : "");
  return config ? std::move(*config) : Config{};
}

std::vector<json> log_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

/// A gateway logging to a file, and runs of one request against it.
class Gateway {
 public:
  Gateway() : log_(dir_.path() + "/log.jsonl"), gateway_({"--log", log_}) {
    ::setenv("DROVER_ATTACH_KEY", kKey, 1);
  }
  bool ok() const { return gateway_.ok(); }
  const std::string& url() const { return gateway_.url(); }
  /// The log lines so far.
  std::vector<json> log() const { return log_lines(log_); }
  /// The log once it has `n` lines: a stream's line is written after its last event, so the
  /// client may have its answer first (bounded: 10 s).
  std::vector<json> log(size_t n) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto lines = log_lines(log_);
      if (lines.size() >= n || std::chrono::steady_clock::now() > deadline) return lines;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  Result run(const json& config, const Provider& p, std::vector<Attachment> attachments,
             const std::string& prompt = "what is attached?") {
    Client client(attachment_config(config));
    RunRequest request;
    request.prompt = prompt;
    request.route = p.route;
    request.attachments = std::move(attachments);
    return client.run(request);
  }
  const ScratchDir& dir() const { return dir_; }

 private:
  ScratchDir dir_;
  std::string log_;
  MockGateway gateway_;
};

const std::string kPng = read_fixture("api/attach-pixels.png");
const std::string kPdf = read_fixture("api/attach-page.pdf");
const std::string kTxt = read_fixture("api/attach-notes.txt");

json logged(const std::string& part, const std::string& type, const std::string& mime, size_t bytes,
            const std::string& name = "") {
  json j = {{"part", part}, {"type", type}, {"mime", mime}};
  if (!name.empty()) j["name"] = name;
  j["bytes"] = bytes;
  return j;
}

class ApiAttachments : public ::testing::TestWithParam<std::tuple<Provider, bool>> {};

TEST_P(ApiAttachments, ImagePdfAndTextReachTheProviderInItsOwnBlocks) {
  const auto& [p, stream] = GetParam();
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  Result r = gw.run(config_for(p, gw.url(), stream, vision_model(p)), p,
                    {fixture_path("api/attach-pixels.png"), fixture_path("api/attach-page.pdf"),
                     fixture_path("api/attach-notes.txt")});
  ASSERT_TRUE(r.ok()) << r.error->message;

  const auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  const json& line = log[0];
  json expected;
  if (p.format == "openai-chat") {
    expected = {logged("image_url", "image", "image/png", kPng.size()),
                logged("file", "document", "application/pdf", kPdf.size(), "attach-page.pdf")};
  } else if (p.format == "openai-responses") {
    expected = {logged("input_image", "image", "image/png", kPng.size()),
                logged("input_file", "document", "application/pdf", kPdf.size(), "attach-page.pdf")};
  } else if (p.format == "anthropic") {
    expected = {logged("image", "image", "image/png", kPng.size()),
                logged("document", "document", "application/pdf", kPdf.size(), "attach-page.pdf")};
  } else {
    expected = {logged("inlineData", "image", "image/png", kPng.size()),
                logged("inlineData", "document", "application/pdf", kPdf.size())};
  }
  EXPECT_EQ(line.value("attachments", json()), expected) << line.dump();
  // The text file is inline, headed by its name, before the prompt.
  const std::string text = "[attachment: attach-notes.txt]\n" + kTxt + "\nwhat is attached?";
  EXPECT_EQ(line["lastUserText"], text);
  EXPECT_EQ(r.text, "MOCK: " + text);
  EXPECT_EQ(line["stream"], stream);

  ASSERT_EQ(r.attachments.size(), 3u);
  const std::vector<std::tuple<std::string, std::string, std::string, size_t>> want = {
      {"attach-pixels.png", "image", "image/png", kPng.size()},
      {"attach-page.pdf", "document", "application/pdf", kPdf.size()},
      {"attach-notes.txt", "text", "text/plain", kTxt.size()}};
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& [name, delivery, mime, bytes] = want[i];
    EXPECT_EQ(r.attachments[i].name, name);
    EXPECT_EQ(r.attachments[i].delivery, delivery) << name;
    EXPECT_EQ(r.attachments[i].category, delivery) << name;
    EXPECT_EQ(r.attachments[i].mime, mime) << name;
    EXPECT_EQ(r.attachments[i].bytes, static_cast<int64_t>(bytes)) << name;
    EXPECT_EQ(r.attachments[i].source, fixture_path("api/" + name));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryFormat, ApiAttachments,
                         ::testing::Combine(::testing::Values(kChat, kResponses, kAnthropic, kGemini),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param).route +
                                  (std::get<1>(info.param) ? "_stream" : "_plain");
                         });

TEST(ApiAttachmentsBytes, InHandAndDataUrlAttachmentsAreSentToo) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  // stdin-style bytes with a name, and a data: URL.
  Result r = gw.run(config_for(kAnthropic, gw.url(), false, vision_model(kAnthropic)), kAnthropic,
                    {Attachment::bytes("shot.png", kPng), Attachment("data:text/plain;base64,aGVsbG8=")});
  ASSERT_TRUE(r.ok()) << r.error->message;
  const auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("attachments", json()), json::array({logged("image", "image", "image/png", kPng.size())}));
  EXPECT_NE(log[0]["lastUserText"].get<std::string>().find("]\nhello\nwhat is attached?"), std::string::npos)
      << log[0].dump();
  ASSERT_EQ(r.attachments.size(), 2u);
  EXPECT_EQ(r.attachments[0].delivery, "image");
  EXPECT_EQ(r.attachments[0].source, "-");
  EXPECT_EQ(r.attachments[1].delivery, "text");
  EXPECT_EQ(r.attachments[1].source, "data:");
}

// Remote references are passed as URLs where the provider takes them, never fetched.
TEST(ApiAttachmentsRemote, HttpsReferencesPassAsUrls) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  const std::string image = "https://example.com/pics/cat.png?sig=abc";
  const std::string pdf = "https://example.com/docs/report.pdf";
  struct Case {
    Provider p;
    std::vector<Attachment> attachments;
    json expected;
  };
  const std::vector<Case> cases = {
      {kChat, {image}, {{{"part", "image_url"}, {"type", "image"}, {"mime", nullptr}, {"url", "https://example.com/pics/cat.png"}}}},
      {kResponses, {image, pdf},
       {{{"part", "input_image"}, {"type", "image"}, {"mime", nullptr}, {"url", "https://example.com/pics/cat.png"}},
        {{"part", "input_file"}, {"type", "document"}, {"mime", nullptr}, {"url", pdf}}}},
      {kAnthropic, {image, pdf},
       {{{"part", "image"}, {"type", "image"}, {"mime", nullptr}, {"url", "https://example.com/pics/cat.png"}},
        {{"part", "document"}, {"type", "document"}, {"mime", nullptr}, {"name", "report.pdf"}, {"url", pdf}}}},
  };
  size_t lines = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.p.route);
    Result r = gw.run(config_for(c.p, gw.url(), true, vision_model(c.p)), c.p, c.attachments);
    ASSERT_TRUE(r.ok()) << r.error->message;
    const auto log = gw.log(++lines);
    ASSERT_EQ(log.size(), lines);
    EXPECT_EQ(log.back().value("attachments", json()), c.expected) << log.back().dump();
    ASSERT_EQ(r.attachments.size(), c.attachments.size());
    for (const auto& a : r.attachments) {
      EXPECT_EQ(a.delivery, "link");
      EXPECT_EQ(a.bytes, 0);
    }
  }
}

TEST(ApiAttachmentsRemote, AreRefusedWhereTheProviderTakesNone) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  // Gemini takes no URL; chat completions takes no PDF by URL.
  Result gemini = gw.run(config_for(kGemini, gw.url(), false, vision_model(kGemini)), kGemini,
                         {"https://example.com/pics/cat.png"});
  ASSERT_FALSE(gemini.ok());
  EXPECT_EQ(gemini.error->code, ErrorCode::unsupported_capability) << gemini.error->message;
  Result chat = gw.run(config_for(kChat, gw.url(), false, vision_model(kChat)), kChat,
                       {"https://example.com/docs/report.pdf"});
  ASSERT_FALSE(chat.ok());
  EXPECT_EQ(chat.error->code, ErrorCode::unsupported_capability) << chat.error->message;
  // (whole answers are logged before they are sent, so a request sent would show by now)
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";
}

TEST(ApiAttachmentsRefused, OtherFilesBeforeAnyRequest) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  const std::string blob = gw.dir().write("blob.bin", std::string("\x00\x01\x02\x03\xfe\xff\x00\x10", 8));
  for (const Provider& p : {kChat, kResponses, kAnthropic, kGemini}) {
    Result r = gw.run(config_for(p, gw.url(), false, vision_model(p)), p, {blob});
    ASSERT_FALSE(r.ok()) << p.route;
    EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability) << r.error->message;
    EXPECT_NE(r.error->message.find("other"), std::string::npos) << r.error->message;
    EXPECT_TRUE(r.attachments.empty());
  }
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";
}

TEST(ApiAttachmentsRefused, ImagesAndPdfsNeedAModelThatReadsThem) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  const std::string png = fixture_path("api/attach-pixels.png");
  const std::string pdf = fixture_path("api/attach-page.pdf");
  const std::string txt = fixture_path("api/attach-notes.txt");
  // A custom endpoint whose model does not say supportsImages: true, and one that says false.
  for (const json& model : {json(kChat.model), json{{"id", kChat.model}, {"supportsImages", false}}}) {
    for (const std::string& file : {png, pdf}) {
      Result r = gw.run(config_for(kChat, gw.url(), false, model), kChat, {file});
      ASSERT_FALSE(r.ok()) << model.dump() << " " << file;
      EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability);
      EXPECT_NE(r.error->message.find("supportsImages"), std::string::npos) << r.error->message;
    }
  }
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";
  // Text files go to any model.
  Result text = gw.run(config_for(kChat, gw.url(), false, json(kChat.model)), kChat, {txt});
  ASSERT_TRUE(text.ok()) << text.error->message;
  ASSERT_EQ(text.attachments.size(), 1u);
  EXPECT_EQ(text.attachments[0].delivery, "text");
  EXPECT_EQ(gw.log(1).size(), 1u);
}

// fileInput.categories on the api block narrows what the route takes, inline and by URL (set on
// the parsed config: the test is about the transport, not the config syntax).
TEST(ApiAttachmentsRefused, FileInputCategoriesNarrowWhatTheRouteTakes) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  auto client_with = [&](std::vector<AttachmentCategory> categories) {
    Config config = attachment_config(config_for(kAnthropic, gw.url(), false, vision_model(kAnthropic)));
    FileInputSpec input;
    input.categories = std::move(categories);
    config.providers.at(0).accounts.at(0).transport.api().file_input = input;
    return Client(std::move(config));
  };
  auto run = [&](Client& client, const std::string& file) {
    RunRequest request;
    request.prompt = "what is attached?";
    request.route = kAnthropic.route;
    request.attachments = {file};
    return client.run(request);
  };
  Client text_only = client_with({AttachmentCategory::text});
  for (const std::string& file : {fixture_path("api/attach-pixels.png"), std::string("https://example.com/a.png")}) {
    Result r = run(text_only, file);
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability) << r.error->message;
  }
  Client none = client_with({AttachmentCategory::other});
  Result r = run(none, fixture_path("api/attach-notes.txt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->code, ErrorCode::unsupported_capability);
  EXPECT_NE(r.error->message.find("takes no attachments"), std::string::npos) << r.error->message;
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";
  Result text = run(text_only, fixture_path("api/attach-notes.txt"));
  ASSERT_TRUE(text.ok()) << text.error->message;
  EXPECT_EQ(gw.log(1).size(), 1u);
}

// A cancel while the attachments are being staged ends the run with nothing sent.
TEST(ApiAttachmentsControl, CancelDuringStagingSendsNothing) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  Config config = attachment_config(config_for(kGemini, gw.url(), true, vision_model(kGemini)));
  auto [route, error] = config.resolve(kGemini.route);
  ASSERT_TRUE(route) << (error ? error->message : "");
  RunRequest request;
  request.prompt = "never sent";
  request.attachments = {fixture_path("api/attach-pixels.png"), fixture_path("api/attach-page.pdf")};
  Loop loop;
  int done = 0;
  std::optional<TransportOutcome> outcome;
  auto control = start_api_call(loop, TransportAttempt{*route, request, kKey},
                                TransportSink{nullptr, [&](TransportOutcome&& o) {
                                                ++done;
                                                outcome = std::move(o);
                                              }});
  control->cancel();  // staging runs off the loop; its result can only arrive once the loop runs
  EXPECT_EQ(done, 0) << "on_done ran inside cancel()";
  loop.run();
  ASSERT_EQ(done, 1);
  ASSERT_TRUE(outcome->result.error);
  EXPECT_EQ(outcome->result.error->code, ErrorCode::aborted) << outcome->result.error->message;
  EXPECT_TRUE(outcome->result.attachments.empty());
  EXPECT_EQ(outcome->calls, 0);
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";
}

TEST(ApiAttachmentsRefused, OverTheProvidersInlineLimitBeforeAnyRequest) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  // A PNG of 4 MB: 5.3 MB base64-encoded, over Anthropic's 5 MiB per image; under OpenAI's 20.
  std::string big = kPng.substr(0, 33) + std::string(4000000, '\0');
  const std::string file = gw.dir().write("big.png", big);
  Result anthropic = gw.run(config_for(kAnthropic, gw.url(), false, vision_model(kAnthropic)), kAnthropic, {file});
  ASSERT_FALSE(anthropic.ok());
  EXPECT_EQ(anthropic.error->code, ErrorCode::validation_error) << anthropic.error->message;
  EXPECT_NE(anthropic.error->message.find("5242880 bytes (5 MiB)"), std::string::npos)
      << anthropic.error->message;
  EXPECT_NE(anthropic.error->message.find("big.png"), std::string::npos) << anthropic.error->message;
  EXPECT_TRUE(gw.log().empty()) << "no request was sent";

  Result chat = gw.run(config_for(kChat, gw.url(), false, vision_model(kChat)), kChat, {file});
  ASSERT_TRUE(chat.ok()) << chat.error->message;
  const auto log = gw.log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("attachments", json::array({json::object()}))[0].value("bytes", size_t{0}), big.size());
}

TEST(ApiAttachmentsRefused, ErrorsNeverShowSecrets) {
  Gateway gw;
  ASSERT_TRUE(gw.ok());
  const std::string blob = gw.dir().write("blob.bin", std::string("\x00\x01\x02\x03", 4));
  // The key travels in a header; a password in the baseUrl is redacted from every error.
  std::string base = gw.url();
  base.insert(base.find("//") + 2, "user:pw-ATTACH-SECRET@");
  json config = config_for(kChat, gw.url(), false, json(kChat.model));
  config["providers"]["openai"]["accounts"][0]["transport"]["api"]["baseUrl"] = base + "/v1";
  for (const std::string& file : {blob, fixture_path("api/attach-pixels.png")}) {
    Result r = gw.run(config, kChat, {file});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error->message.find("SECRET"), std::string::npos) << r.error->message;
  }
}

}  // namespace
}  // namespace drover::test
