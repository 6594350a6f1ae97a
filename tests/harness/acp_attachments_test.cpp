// Attachments over ACP: staged before the agent is spawned, sent as the blocks the agent's
// promptCapabilities allow (image, embedded resource, resource_link to the staged copy), the
// staged copies readable while the turn runs and gone after it, in one-shot runs and Sessions.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drover/session.h"
#include "harness/acp.h"
#include "src/loop/loop.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A PNG signature and IHDR chunk: enough for libmagic to say image/png.
std::string png_bytes() {
  static const unsigned char kPng[] = {0x89, 'P',  'N',  'G',  0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00,
                                       0x00, 0x0d, 'I',  'H',  'D',  'R',  0x00, 0x00, 0x00, 0x01,
                                       0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
                                       0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 'I',  'D',  'A',
                                       'T',  0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00,
                                       0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 'I',
                                       'E',  'N',  'D',  0xae, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(kPng), sizeof kPng);
}

Config attachments_config(const std::string& fake_args, const json& acp = json::object()) {
  json block = {{"args", json::array()}};
  std::istringstream words(fake_args);
  for (std::string w; words >> w;) block["args"].push_back(w);
  block.merge_patch(acp);
  json config = {{"routing", {{"fallback", {{"on", json::object()}}}}},
                 {"providers",
                  {{"fake",
                    {{"accounts",
                      {{{"id", "a"},
                        {"transport", {{"kind", "acp"}, {"command", fake_acp_agent()}, {"acp", block}}},
                        {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "test.json");
  EXPECT_TRUE(parsed) << (error ? error->message : "");
  return parsed ? std::move(*parsed) : Config{};
}

// The fake agent's --record file: one JSON object per line.
std::vector<json> recorded(const std::string& file) {
  std::vector<json> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}
std::vector<json> recorded(const std::string& file, const std::string& event) {
  std::vector<json> out;
  for (auto& e : recorded(file))
    if (e.value("event", "") == event) out.push_back(e);
  return out;
}

struct Outcome {
  int done = 0;
  Result result;
};

// One run on the route's first account, through start_acp; `route_edit` may change the route
// (its staging limits) first, `during` runs after start_acp returned, before the loop.
Outcome run_once(const Config& config, RunRequest request,
                 const std::function<void(Route&)>& route_edit = nullptr,
                 const std::function<void(Loop&, RunControl&)>& during = nullptr) {
  Route route = *config.resolve("").first;
  if (route_edit) route_edit(route);
  if (request.prompt.empty()) request.prompt = "look";
  Outcome out;
  Loop loop;
  auto control = start_acp(loop, TransportAttempt{route, request, ""},
                           TransportSink{nullptr, [&out](TransportOutcome&& o) {
                                           ++out.done;
                                           out.result = std::move(o.result);
                                         }});
  if (during) during(loop, *control);
  loop.run();
  EXPECT_EQ(loop.live_processes(), 0u);
  EXPECT_EQ(out.done, 1);
  return out;
}

std::string delivery_of(const Result& result, const std::string& name) {
  for (const auto& a : result.attachments)
    if (a.name == name) return a.delivery;
  return "(not reported)";
}

// ---- the blocks, by capability (pure) --------------------------------------------------------

StagedAttachment staged(const std::string& name, AttachmentCategory category, const std::string& mime,
                        std::string content) {
  StagedAttachment f;
  f.name = name;
  f.source = name;
  f.category = category;
  f.mime = mime;
  f.bytes = content.size();
  f.path = "/stage/dir/attachments/" + name;
  f.content = std::move(content);
  return f;
}

TEST(AcpAttachmentBlocks, EachFileGoesAsTheRichestBlockTheAgentTakes) {
  std::vector<StagedAttachment> files = {
      staged("a.png", AttachmentCategory::image, "image/png", png_bytes()),
      staged("notes.txt", AttachmentCategory::text, "text/plain", "some notes\n"),
      staged("paper.pdf", AttachmentCategory::document, "application/pdf", "%PDF-1.4 fake"),
      staged("data.bin", AttachmentCategory::other, "application/octet-stream", std::string("\0\1\2", 3)),
      staged("icon.svg", AttachmentCategory::image, "image/svg+xml", "<svg/>"),
      staged("latin1.txt", AttachmentCategory::text, "text/plain", "caf\xe9"),
  };
  StagedAttachment remote;
  remote.name = "remote.png";
  remote.source = "https://example.com/remote.png";
  remote.category = AttachmentCategory::image;
  remote.mime = "image/png";
  remote.url = remote.source;
  files.push_back(remote);

  AcpPrompt both = acp_prompt_blocks("look", files, {true, true});
  ASSERT_EQ(both.blocks.size(), files.size() + 1);
  EXPECT_EQ(both.blocks[0], json({{"type", "text"}, {"text", "look"}}));
  EXPECT_EQ(both.deliveries, (std::vector<std::string>{"image", "resource", "resource", "link", "link",
                                                        "link", "link"}));
  EXPECT_EQ(both.blocks[1]["type"], "image");
  EXPECT_EQ(both.blocks[1]["mimeType"], "image/png");
  EXPECT_EQ(both.blocks[1]["data"].get<std::string>().size(), (png_bytes().size() + 2) / 3 * 4);
  EXPECT_EQ(both.blocks[2]["resource"]["text"], "some notes\n");
  EXPECT_EQ(both.blocks[2]["resource"]["uri"], "file:///stage/dir/attachments/notes.txt");
  EXPECT_EQ(both.blocks[3]["resource"]["blob"], "JVBERi0xLjQgZmFrZQ==");
  EXPECT_EQ(both.blocks[3]["resource"]["mimeType"], "application/pdf");
  EXPECT_EQ(both.blocks[4], json({{"type", "resource_link"},
                                  {"name", "data.bin"},
                                  {"mimeType", "application/octet-stream"},
                                  {"uri", "file:///stage/dir/attachments/data.bin"},
                                  {"size", 3}}))
      << "an arbitrary binary goes as a link: agents drop or inline blobs they cannot read";
  EXPECT_EQ(both.blocks[5]["type"], "resource_link") << "an image type models do not take";
  EXPECT_EQ(both.blocks[6]["type"], "resource_link") << "text that is not UTF-8";
  EXPECT_EQ(both.blocks[7]["uri"], "https://example.com/remote.png");
  EXPECT_FALSE(both.blocks[7].contains("size"));

  AcpPrompt none = acp_prompt_blocks("look", files, {false, false});
  for (size_t i = 1; i < none.blocks.size(); ++i)
    EXPECT_EQ(none.blocks[i]["type"], "resource_link") << i;
  EXPECT_EQ(none.deliveries, std::vector<std::string>(files.size(), "link"));

  AcpPrompt images = acp_prompt_blocks("look", files, {true, false});
  EXPECT_EQ(images.deliveries[0], "image");
  EXPECT_EQ(images.deliveries[1], "link");
  EXPECT_EQ(images.deliveries[2], "link");
  AcpPrompt embedded = acp_prompt_blocks("look", files, {false, true});
  EXPECT_EQ(embedded.deliveries[0], "link") << "no image capability: no image block";
  EXPECT_EQ(embedded.deliveries[1], "resource");
}

TEST(AcpAttachmentBlocks, WhatIsOverTheEmbeddingLimitsGoesAsALink) {
  std::vector<StagedAttachment> files = {
      staged("big1.txt", AttachmentCategory::text, "text/plain", std::string(9u << 20, 'a')),
      staged("big2.txt", AttachmentCategory::text, "text/plain", std::string(9u << 20, 'b')),
      staged("big3.txt", AttachmentCategory::text, "text/plain", std::string(9u << 20, 'c')),
  };
  StagedAttachment unloaded = staged("huge.png", AttachmentCategory::image, "image/png", "");
  unloaded.content.reset();  // over the load limit: staging did not read it
  unloaded.bytes = 50u << 20;
  files.push_back(unloaded);
  AcpPrompt prompt = acp_prompt_blocks("look", files, {true, true});
  EXPECT_EQ(prompt.deliveries,
            (std::vector<std::string>{"resource", "resource", "link", "link"}))
      << "20 MiB embedded per prompt at most";
  EXPECT_EQ(prompt.blocks[4]["size"], 50u << 20);
}

TEST(AcpAttachmentBlocks, AFileUriEscapesWhatAUriCannotHold) {
  StagedAttachment f = staged("a b.txt", AttachmentCategory::other, "application/octet-stream", "x");
  f.path = "/tmp/dir #1/a b%.txt";
  AcpPrompt prompt = acp_prompt_blocks("look", {f}, {false, false});
  EXPECT_EQ(prompt.blocks[1]["uri"], "file:///tmp/dir%20%231/a%20b%25.txt");
}

// ---- one-shot runs against the fake agent ----------------------------------------------------

TEST(AcpAttachments, TheAgentGetsAnImageAResourceAndALinkThatExistsWhileTheTurnRuns) {
  ScratchDir dir;
  const std::string png = dir.write("shot.png", png_bytes());
  const std::string txt = dir.write("notes.txt", "remember the milk\n");
  const std::string bin = dir.write("blob.bin", std::string("\x00\x01\x02\x03\xff", 5));
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.attachments = {png, txt, bin};
  Outcome out = run_once(attachments_config("--record " + record), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(prompts.size(), 1u);
  const json& blocks = prompts[0]["blocks"];
  ASSERT_EQ(blocks.size(), 4u) << blocks.dump();
  EXPECT_EQ(blocks[1]["type"], "image");
  EXPECT_EQ(blocks[1]["mimeType"], "image/png");
  EXPECT_EQ(blocks[1]["bytes"], png_bytes().size());
  EXPECT_EQ(blocks[2]["type"], "resource");
  EXPECT_EQ(blocks[2]["kind"], "text");
  EXPECT_EQ(blocks[2]["bytes"], 18);
  EXPECT_EQ(blocks[3]["type"], "resource_link");
  EXPECT_EQ(blocks[3]["size"], 5);
  EXPECT_EQ(blocks[3]["exists"], true) << "the staged copy is there while the turn runs";
  const std::string link = blocks[3]["uri"].get<std::string>().substr(7);
  EXPECT_NE(link, bin) << "the agent gets the staged copy, not the original";
  EXPECT_FALSE(fs::exists(link)) << "the staged copy is removed with the run";
  EXPECT_TRUE(fs::exists(bin)) << "the original stays";
  ASSERT_EQ(out.result.attachments.size(), 3u);
  EXPECT_EQ(delivery_of(out.result, "shot.png"), "image");
  EXPECT_EQ(delivery_of(out.result, "notes.txt"), "resource");
  EXPECT_EQ(delivery_of(out.result, "blob.bin"), "link");
}

TEST(AcpAttachments, AnAgentWithoutPromptCapabilitiesGetsLinksOnly) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.attachments = {dir.write("shot.png", png_bytes()), dir.write("notes.txt", "hello\n")};
  Outcome out = run_once(attachments_config("--prompt-caps none --record " + record), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(prompts.size(), 1u);
  const json& blocks = prompts[0]["blocks"];
  ASSERT_EQ(blocks.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(blocks[i]["type"], "resource_link") << blocks.dump();
    EXPECT_EQ(blocks[i]["exists"], true);
    EXPECT_FALSE(fs::exists(blocks[i]["uri"].get<std::string>().substr(7)));
  }
  EXPECT_EQ(blocks[1]["mimeType"], "image/png");
  EXPECT_EQ(delivery_of(out.result, "shot.png"), "link");
  EXPECT_EQ(delivery_of(out.result, "notes.txt"), "link");
}

TEST(AcpAttachments, ARemoteReferenceGoesAsALinkToItsUrl) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.attachments = {"https://example.com/pics/cat.png"};
  Outcome out = run_once(attachments_config("--record " + record), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(prompts.size(), 1u);
  ASSERT_EQ(prompts[0]["blocks"].size(), 2u);
  EXPECT_EQ(prompts[0]["blocks"][1]["type"], "resource_link");
  EXPECT_EQ(prompts[0]["blocks"][1]["uri"], "https://example.com/pics/cat.png");
  ASSERT_EQ(out.result.attachments.size(), 1u);
  EXPECT_EQ(out.result.attachments[0].delivery, "link");
}

TEST(AcpAttachments, InWorkspaceModeTheStagedDirectoryIsServedAndAnnounced) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.cwd = dir.path();
  request.attachments = {dir.write("data.bin", "not text\x01")};
  // fs/read_text_file of the link (outside the cwd) is served; an agent that takes
  // additionalDirectories is told the staged directory.
  Outcome out = run_once(
      attachments_config("--prompt-caps none --read-links --dirs-cap --record " + record,
                         {{"fs", {{"read", true}}}}),
      request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  EXPECT_NE(out.result.text.find("[read-link:not text"), std::string::npos) << out.result.text;
  auto sessions = recorded(record, "session");
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(sessions.size(), 1u);
  ASSERT_EQ(prompts.size(), 1u);
  const std::string link = prompts[0]["blocks"][1]["uri"].get<std::string>().substr(7);
  ASSERT_TRUE(sessions[0]["additionalDirectories"].is_array()) << sessions[0].dump();
  ASSERT_EQ(sessions[0]["additionalDirectories"].size(), 1u);
  EXPECT_EQ(fs::path(link).parent_path().string(), sessions[0]["additionalDirectories"][0]);
  EXPECT_EQ(link.rfind(dir.path(), 0), std::string::npos) << "staged privately, not in the workspace";

  // Without the capability the agent is not sent additionalDirectories.
  fs::remove(record);
  request.attachments = {dir.write("data.bin", "not text\x01")};
  out = run_once(attachments_config("--prompt-caps none --record " + record), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  sessions = recorded(record, "session");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(sessions[0]["additionalDirectories"].is_null()) << sessions[0].dump();
}

TEST(AcpAttachments, InCleanModeTheLinkIsUnderTheSessionsFreshCwd) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.cwd = dir.path();
  request.context_mode = ContextMode::clean;
  request.attachments = {dir.write("data.bin", "abc\x01")};
  Outcome out = run_once(attachments_config("--prompt-caps none --dirs-cap --record " + record), request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  auto sessions = recorded(record, "session");
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(sessions.size(), 1u);
  ASSERT_EQ(prompts.size(), 1u);
  const std::string cwd = sessions[0]["cwd"];
  const std::string link = prompts[0]["blocks"][1]["uri"].get<std::string>().substr(7);
  EXPECT_NE(cwd, dir.path());
  EXPECT_EQ(link.rfind(cwd + "/", 0), 0u) << link << " is not under " << cwd;
  EXPECT_EQ(prompts[0]["blocks"][1]["exists"], true);
  EXPECT_TRUE(sessions[0]["additionalDirectories"].is_null()) << "the cwd holds them already";
  EXPECT_FALSE(fs::exists(cwd));

  // Kept copies (staging.keep) cannot live in the cwd, which goes with the agent: they are
  // staged in a directory of their own, which stays and is served.
  ScratchDir staging;
  fs::remove(record);
  out = run_once(attachments_config("--prompt-caps none --dirs-cap --record " + record), request,
                 [&](Route& route) {
                   route.staging.keep = true;
                   route.staging.dir = staging.path();
                 });
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  ASSERT_EQ(out.result.attachments.size(), 1u);
  ASSERT_TRUE(out.result.attachments[0].kept_at);
  EXPECT_EQ(out.result.attachments[0].kept_at->rfind(staging.path() + "/", 0), 0u)
      << *out.result.attachments[0].kept_at;
  EXPECT_TRUE(fs::exists(*out.result.attachments[0].kept_at));
  sessions = recorded(record, "session");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["additionalDirectories"].size(), 1u) << sessions[0].dump();
}

TEST(AcpAttachments, ABadAttachmentFailsTheRunBeforeTheAgentIsSpawned) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string big = dir.write("big.txt", std::string(4096, 'x'));
  struct Case {
    std::string name;
    std::string source;
  };
  for (const Case& c : {Case{"a FIFO", fifo}, Case{"a missing file", dir.path() + "/missing.txt"},
                        Case{"a file over the limit", big}}) {
    RunRequest request;
    request.attachments = {dir.write("ok.txt", "fine\n"), c.source};
    Outcome out = run_once(attachments_config("--record " + record), request,
                           [](Route& route) { route.staging.max_file_bytes = 1024; });
    ASSERT_TRUE(out.result.error) << c.name;
    EXPECT_EQ(out.result.error->code, ErrorCode::validation_error) << c.name << ": " << out.result.error->message;
    EXPECT_FALSE(out.result.process) << c.name << ": no process";
    EXPECT_FALSE(fs::exists(record)) << c.name << ": the agent never started";
  }
}

TEST(AcpAttachments, ACategoryTheRoutesFileInputDoesNotTakeIsRefusedBeforeTheAgentIsSpawned) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = attachments_config("--record " + record, {{"fileInput", {{"categories", {"text"}}}}});
  RunRequest request;
  request.attachments = {dir.write("notes.txt", "fine\n"), dir.write("shot.png", png_bytes())};
  Outcome out = run_once(config, request);
  ASSERT_TRUE(out.result.error);
  EXPECT_EQ(out.result.error->code, ErrorCode::unsupported_capability) << out.result.error->message;
  EXPECT_NE(out.result.error->message.find("shot.png"), std::string::npos) << out.result.error->message;
  EXPECT_FALSE(fs::exists(record)) << "the agent never started";
  // Text alone is taken.
  request.attachments = {dir.write("notes.txt", "fine\n")};
  out = run_once(config, request);
  ASSERT_FALSE(out.result.error) << out.result.error->message;
  EXPECT_EQ(delivery_of(out.result, "notes.txt"), "resource");
  // So are remote references: fileInput.categories narrows them too.
  request.attachments = {"https://example.com/report.pdf"};
  out = run_once(config, request);
  ASSERT_TRUE(out.result.error);
  EXPECT_EQ(out.result.error->code, ErrorCode::unsupported_capability) << out.result.error->message;
  EXPECT_EQ(recorded(record, "prompt").size(), 1u) << "only the text run's prompt reached the agent";
}

TEST(AcpAttachments, ACancelDuringTheStagingEndsTheRunWithNothingSpawnedOrLeft) {
  ScratchDir dir, staging;
  const std::string record = dir.path() + "/record.jsonl";
  RunRequest request;
  request.attachments = {dir.write("big.bin", std::string(8u << 20, '\x01'))};
  // The run's cancel, and Ctrl-C (the loop's stop), while the staging is under way.
  const std::vector<std::function<void(Loop&, RunControl&)>> stops = {
      [](Loop&, RunControl& control) { control.cancel(); },
      [](Loop& loop, RunControl&) { loop.stop_all(StopCause::cancelled); }};
  for (size_t i = 0; i < stops.size(); ++i) {
    Outcome out = run_once(
        attachments_config("--record " + record), request,
        [&](Route& route) { route.staging.dir = staging.path(); }, stops[i]);
    ASSERT_TRUE(out.result.error) << i;
    EXPECT_EQ(out.result.error->code, ErrorCode::aborted) << i << ": " << out.result.error->message;
    EXPECT_FALSE(fs::exists(record)) << i << ": the agent never started";
    EXPECT_TRUE(staging.empty()) << i << ": nothing staged is left";
  }
}

// ---- Sessions ----------------------------------------------------------------------------------

TEST(AcpAttachments, ASessionStagesEachPromptsAttachmentsAndRemovesThemAfterItsResult) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = attachments_config("--record " + record);
  SessionOptions options;
  options.cwd = dir.path();
  Session session(config, options);
  Result first = session.prompt("one", nullptr, {dir.write("first.bin", "1\x01")});
  ASSERT_FALSE(first.error) << first.error->message;
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(prompts.size(), 1u);
  const std::string first_link = prompts[0]["blocks"][1]["uri"].get<std::string>().substr(7);
  EXPECT_EQ(prompts[0]["blocks"][1]["exists"], true);
  EXPECT_FALSE(fs::exists(first_link)) << "removed once the prompt's Result was delivered";
  EXPECT_EQ(delivery_of(first, "first.bin"), "link");

  Result second = session.prompt("two", nullptr, {dir.write("second.png", png_bytes())});
  ASSERT_FALSE(second.error) << second.error->message;
  prompts = recorded(record, "prompt");
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[1]["blocks"][1]["type"], "image");
  EXPECT_EQ(delivery_of(second, "second.png"), "image");
  EXPECT_EQ(recorded(record, "start").size(), 1u) << "one agent for both prompts";

  // A bad attachment fails that prompt only; the next one runs on the same agent.
  Result bad = session.prompt("three", nullptr, {dir.path() + "/missing.txt"});
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(bad.error->code, ErrorCode::validation_error) << bad.error->message;
  Result after = session.prompt("four", nullptr, {});
  ASSERT_FALSE(after.error) << after.error->message;
  EXPECT_EQ(recorded(record, "prompt").size(), 3u) << "the bad prompt was never sent";
  EXPECT_EQ(recorded(record, "start").size(), 1u);
}

TEST(AcpAttachments, ACleanModeSessionStagesUnderTheAgentsCwd) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = attachments_config("--prompt-caps none --record " + record);
  SessionOptions options;
  options.cwd = dir.path();
  options.context_mode = ContextMode::clean;
  Session session(config, options);
  for (const std::string name : {"a.bin", "a.bin"}) {  // the same name twice: no collision
    Result r = session.prompt("look", nullptr, {dir.write(name, "x\x01")});
    ASSERT_FALSE(r.error) << r.error->message;
    // A prompt whose staging fails in between leaves nothing that blocks the next one.
    Result bad = session.prompt("bad", nullptr, {dir.write("ok.txt", "fine\n"), dir.path() + "/missing"});
    ASSERT_TRUE(bad.error);
    EXPECT_EQ(bad.error->code, ErrorCode::validation_error) << bad.error->message;
  }
  auto sessions = recorded(record, "session");
  auto prompts = recorded(record, "prompt");
  ASSERT_EQ(sessions.size(), 1u);
  ASSERT_EQ(prompts.size(), 2u);
  const std::string cwd = sessions[0]["cwd"];
  for (const auto& p : prompts) {
    const std::string link = p["blocks"][1]["uri"].get<std::string>().substr(7);
    EXPECT_EQ(link.rfind(cwd + "/", 0), 0u) << link;
    EXPECT_EQ(p["blocks"][1]["exists"], true);
    EXPECT_FALSE(fs::exists(link));
  }
}

TEST(AcpAttachments, CancellingASessionPromptWhileItsAttachmentsAreStagedWithdrawsIt) {
  ScratchDir dir;
  const std::string record = dir.path() + "/record.jsonl";
  Config config = attachments_config("--record " + record);
  SessionOptions options;
  options.cwd = dir.path();
  Session session(config, options);
  ASSERT_FALSE(session.prompt("warm up", nullptr, {}).error);
  std::optional<Result> cancelled;
  RunHandle handle = session.submit(
      "big", nullptr, [&](Result r) { cancelled = std::move(r); },
      {dir.write("big.bin", std::string(8u << 20, '\x01'))});
  handle.cancel();
  Result next = session.prompt("next", nullptr, {});
  ASSERT_TRUE(cancelled);
  ASSERT_TRUE(cancelled->error);
  EXPECT_EQ(cancelled->error->code, ErrorCode::aborted);
  ASSERT_FALSE(next.error) << next.error->message;
  EXPECT_EQ(recorded(record, "prompt").size(), 2u) << "the cancelled prompt was never sent";
}

}  // namespace
}  // namespace drover::test
