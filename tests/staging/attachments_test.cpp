// Attachments are staged as private copies under safe names, refused before anything is written
// when they are not regular files, too large or of a category the route does not take, and
// removed with the StagedAttachments unless kept.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "src/core/base64.h"
#include "src/loop/loop.h"
#include "staging/attachments.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;

// A 1x1 PNG and the start of a PDF: enough for libmagic.
const std::string kPng = *base64_decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");
const std::string kPdf = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

struct Staged {
  std::optional<StagedAttachments> staged;
  std::optional<Error> error;
};

Staged stage(std::vector<Attachment> attachments, StagingOptions options) {
  Loop loop;
  Staged out;
  bool called = false;
  stage_attachments(loop, std::move(attachments), std::move(options),
                    [&](std::optional<StagedAttachments> s, std::optional<Error> e) {
                      called = true;
                      out.staged = std::move(s);
                      out.error = std::move(e);
                    });
  EXPECT_FALSE(called) << "done ran inside stage_attachments";
  loop.run();
  EXPECT_TRUE(called);
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Staging : public ::testing::Test {
 protected:
  StagingOptions options() const {
    StagingOptions o;
    o.route_id = "p:cli:a";
    o.workspace = workspace_.path();
    o.dir = staging_.path();
    return o;
  }
  // Nothing is left under the staging directory.
  void expect_nothing_staged() const { EXPECT_TRUE(staging_.empty()) << staging_.path(); }

  ScratchDir workspace_, staging_, outside_;
};

TEST(AttachmentNames, HostileNamesBecomeSafeBasenames) {
  const std::vector<std::string> none;
  EXPECT_EQ(sanitize_attachment_name("../../etc/passwd", none), "passwd");
  EXPECT_EQ(sanitize_attachment_name("-rf", none), "rf");
  EXPECT_EQ(sanitize_attachment_name("--help.txt", none), "help.txt");
  EXPECT_EQ(sanitize_attachment_name(".bashrc", none), "bashrc");
  EXPECT_EQ(sanitize_attachment_name("..", none), "attachment");
  EXPECT_EQ(sanitize_attachment_name("", none), "attachment");
  EXPECT_EQ(sanitize_attachment_name("a\nb\r\"c'$(x).txt", none), "a_b__c___x_.txt");
  EXPECT_EQ(sanitize_attachment_name("dir\\win.txt", none), "win.txt");
  EXPECT_EQ(sanitize_attachment_name("r\xC3\xA9sum\xC3\xA9.pdf", none), "r\xC3\xA9sum\xC3\xA9.pdf");
  EXPECT_EQ(sanitize_attachment_name("bad\xFF\xC3(.txt", none), "bad___.txt");
  EXPECT_EQ(sanitize_attachment_name("space name.csv", none), "space_name.csv");
  // Invalid UTF-8 lead bytes, C1 controls, bidi overrides, line separators: replaced.
  EXPECT_EQ(sanitize_attachment_name("a\xFF\x80\x80.txt", none), "a___.txt");
  EXPECT_EQ(sanitize_attachment_name("a\xC2\x85" "b.txt", none), "a__b.txt");
  EXPECT_EQ(sanitize_attachment_name("evil\xE2\x80\xAEtxt.exe", none), "evil___txt.exe");
  EXPECT_EQ(sanitize_attachment_name("a\xE2\x80\xA8" "b", none), "a___b");
}

TEST(AttachmentNames, LongNamesAreCutOnACharacterBoundaryKeepingTheExtension) {
  std::string name;
  for (int i = 0; i < 150; ++i) name += "\xC3\xA9";  // 300 bytes of é
  name += ".png";
  const std::string safe = sanitize_attachment_name(name, {});
  EXPECT_LE(safe.size(), kMaxAttachmentNameBytes);
  EXPECT_EQ(safe.substr(safe.size() - 4), ".png");
  const std::string stem = safe.substr(0, safe.size() - 4);
  EXPECT_EQ(stem.size() % 2, 0u) << "cut inside a character";
  for (size_t i = 0; i < stem.size(); i += 2) EXPECT_EQ(stem.substr(i, 2), "\xC3\xA9");
}

TEST(AttachmentNames, CollisionsAreSuffixedBeforeTheExtension) {
  std::vector<std::string> taken{"a.txt"};
  EXPECT_EQ(sanitize_attachment_name("x/a.txt", taken), "a-2.txt");
  taken.push_back("a-2.txt");
  EXPECT_EQ(sanitize_attachment_name("y/a.txt", taken), "a-3.txt");
  std::vector<std::string> long_taken{sanitize_attachment_name(std::string(300, 'z') + ".txt", {})};
  const std::string second = sanitize_attachment_name(std::string(300, 'z') + ".txt", long_taken);
  EXPECT_NE(second, long_taken[0]);
  EXPECT_LE(second.size(), kMaxAttachmentNameBytes);
  EXPECT_EQ(second.substr(second.size() - 6), "-2.txt");
}

TEST(AttachmentTypes, ContentDecidesThenTheExtension) {
  EXPECT_EQ(classify_attachment(sniff_mime(kPng), "x.txt").first, AttachmentCategory::image);
  EXPECT_EQ(classify_attachment(sniff_mime(kPng), "x.txt").second, "image/png");
  EXPECT_EQ(classify_attachment(sniff_mime(kPdf), "scan").second, "application/pdf");
  EXPECT_EQ(classify_attachment(sniff_mime(kPdf), "scan").first, AttachmentCategory::document);
  EXPECT_EQ(classify_attachment(sniff_mime("a,b\n1,2\n"), "t.csv").second, "text/csv");
  EXPECT_EQ(classify_attachment(sniff_mime("a,b\n1,2\n"), "t.csv").first, AttachmentCategory::text);
  EXPECT_EQ(classify_attachment(sniff_mime("hello\n"), "notes").first, AttachmentCategory::text);
  // Text named .png is text; random bytes are other.
  EXPECT_EQ(classify_attachment(sniff_mime("hello\n"), "fake.png").first, AttachmentCategory::text);
  EXPECT_EQ(classify_attachment(sniff_mime(std::string("\x00\x01\x02\xFE\xFF\x10", 6)), "blob").first,
            AttachmentCategory::other);
  EXPECT_EQ(classify_attachment(sniff_mime(""), "empty.md").second, "text/markdown");
}

TEST(DataUrls, ParsesBase64AndPercentEncoding) {
  std::string error;
  auto png = parse_data_url("data:image/png;base64," + base64_encode(kPng), error);
  ASSERT_TRUE(png) << error;
  EXPECT_EQ(png->mime, "image/png");
  EXPECT_EQ(png->bytes, kPng);
  auto text = parse_data_url("data:,hello%20world%0A", error);
  ASSERT_TRUE(text) << error;
  EXPECT_EQ(text->mime, "text/plain");
  EXPECT_EQ(text->bytes, "hello world\n");
  EXPECT_FALSE(parse_data_url("data:image/png;base64,%%%", error));
  EXPECT_FALSE(parse_data_url("data:image/png;base64", error));
  EXPECT_FALSE(parse_data_url("data:,%zz", error));
  EXPECT_FALSE(parse_data_url("data:,%4", error));
  EXPECT_FALSE(parse_data_url("data:not a type,x", error));
}

TEST_F(Staging, CopiesIntoAPrivateDirectoryAndRemovesItAfterwards) {
  workspace_.write("notes.txt", "hello");
  std::string dir;
  {
    auto out = stage({"notes.txt", Attachment::bytes("scan.png", kPng)}, options());
    ASSERT_FALSE(out.error) << out.error->message;
    ASSERT_EQ(out.staged->files.size(), 2u);
    const auto& text = out.staged->files[0];
    EXPECT_EQ(text.name, "notes.txt");
    EXPECT_EQ(text.category, AttachmentCategory::text);
    EXPECT_EQ(text.bytes, 5u);
    EXPECT_EQ(slurp(text.path), "hello");
    EXPECT_EQ(fs::path(text.path).parent_path().string(), out.staged->attachments_dir);
    EXPECT_EQ(out.staged->files[1].mime, "image/png");
    EXPECT_EQ(out.staged->files[1].source, "-");
    dir = fs::path(out.staged->attachments_dir).parent_path().string();
    EXPECT_EQ(fs::path(dir).parent_path().string(), staging_.path());
    EXPECT_EQ(fs::path(dir).filename().string().rfind(std::string(kAttachmentDirPrefix), 0), 0u);
    struct stat st;
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat(out.staged->attachments_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat(text.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto reports = out.staged->reports({"args"}, "prompt");
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_EQ(reports[0].delivery, "args");
    EXPECT_EQ(reports[1].delivery, "prompt");
    EXPECT_EQ(reports[1].category, "image");
    EXPECT_FALSE(reports[0].kept_at);
  }
  EXPECT_FALSE(fs::exists(dir));
  expect_nothing_staged();
}

TEST_F(Staging, ASymlinkIsResolvedAndItsTargetCopiedNotLinked) {
  const std::string secret = outside_.write("secret.txt", "top secret");
  fs::create_symlink(secret, workspace_.path() + "/link.txt");
  auto out = stage({"link.txt"}, options());
  ASSERT_FALSE(out.error) << out.error->message;
  const auto& file = out.staged->files[0];
  EXPECT_FALSE(fs::is_symlink(file.path));
  EXPECT_EQ(slurp(file.path), "top secret");
  EXPECT_EQ(file.name, "link.txt");
}

TEST_F(Staging, FifosDirectoriesAndMissingFilesAreRefusedBeforeAnythingIsWritten) {
  workspace_.write("ok.txt", "fine");
  ASSERT_EQ(::mkfifo((workspace_.path() + "/pipe").c_str(), 0600), 0);
  fs::create_directory(workspace_.path() + "/dir");
  for (const auto& [source, why] : {std::pair{"pipe", "FIFO"}, {"dir", "directory"},
                                    {"missing.txt", "no such file"}, {"/dev/null", "character device"}}) {
    auto out = stage({"ok.txt", source}, options());
    ASSERT_TRUE(out.error) << source;
    EXPECT_EQ(out.error->code, ErrorCode::validation_error);
    EXPECT_NE(out.error->message.find(source), std::string::npos) << out.error->message;
    EXPECT_NE(out.error->message.find(why), std::string::npos) << out.error->message;
    expect_nothing_staged();
  }
}

TEST_F(Staging, AHugeSparseFileIsRefusedWithoutReadingIt) {
  const std::string path = workspace_.path() + "/huge.bin";
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t(2) << 30), 0);  // 2 GiB, no blocks
  ::close(fd);
  auto out = stage({"huge.bin"}, options());
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::validation_error);
  EXPECT_NE(out.error->message.find("maxFileBytes"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("2147483648"), std::string::npos) << out.error->message;
  expect_nothing_staged();
}

TEST_F(Staging, TheRunLimitCountsEveryAttachment) {
  workspace_.write("a.txt", std::string(600, 'a'));
  workspace_.write("b.txt", std::string(600, 'b'));
  auto o = options();
  o.max_total_bytes = 1000;
  auto out = stage({"a.txt", "b.txt"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->message.find("maxTotalBytes"), std::string::npos) << out.error->message;
  expect_nothing_staged();
  o.max_file_bytes = 100;
  out = stage({Attachment::bytes("in.txt", std::string(101, 'x'))}, o);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->message.find("maxFileBytes"), std::string::npos) << out.error->message;
}

TEST_F(Staging, ACategoryTheRouteDoesNotTakeIsUnsupportedBeforeAnythingIsWritten) {
  workspace_.write("notes.txt", "hello");
  auto o = options();
  o.categories = {AttachmentCategory::image};
  auto out = stage({Attachment::bytes("a.png", kPng), "notes.txt"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::unsupported_capability);
  EXPECT_NE(out.error->message.find("p:cli:a"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("text"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("notes.txt"), std::string::npos) << out.error->message;
  EXPECT_NE(out.error->message.find("it takes: image"), std::string::npos) << out.error->message;
  expect_nothing_staged();
}

TEST_F(Staging, DuplicateNamesGetSuffixes) {
  workspace_.write("a/report.txt", "one");
  workspace_.write("b/report.txt", "two");
  auto out = stage({"a/report.txt", "b/report.txt"}, options());
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.staged->files[0].name, "report.txt");
  EXPECT_EQ(out.staged->files[1].name, "report-2.txt");
  EXPECT_EQ(slurp(out.staged->files[1].path), "two");
}

TEST_F(Staging, HostileNamesStayInsideTheStagingDirectory) {
  auto out = stage({Attachment::bytes("../../escape.txt", "x"), Attachment::bytes("-rf", "y"),
                    Attachment::bytes("a\nb.txt", "z")},
                   options());
  ASSERT_FALSE(out.error) << out.error->message;
  for (const auto& file : out.staged->files) {
    EXPECT_EQ(fs::path(file.path).parent_path().string(), out.staged->attachments_dir);
    EXPECT_NE(file.name.front(), '-');
    EXPECT_EQ(file.name.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(staging_.path() + "/escape.txt"));
}

TEST_F(Staging, DataUrlsAndRemoteReferences) {
  auto o = options();
  o.remote_categories = {AttachmentCategory::image};
  auto out = stage({"data:image/png;base64," + base64_encode(kPng),
                    "https://user:pw@example.com/pics/cat.png?sig=SECRET"},
                   o);
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.staged->files[0].name, "attachment.png");
  EXPECT_EQ(out.staged->files[0].source, "data:");
  EXPECT_EQ(out.staged->files[0].bytes, kPng.size());
  const auto& remote = out.staged->files[1];
  EXPECT_EQ(remote.url, "https://user:pw@example.com/pics/cat.png?sig=SECRET");
  EXPECT_EQ(remote.source, "https://example.com/pics/cat.png");  // no userinfo, no query
  EXPECT_EQ(remote.category, AttachmentCategory::image);
  EXPECT_TRUE(remote.path.empty());

  // No path: the name never comes from the authority (it may hold credentials).
  out = stage({"https://user:token@example.com"}, o);
  ASSERT_TRUE(out.error);  // category other: not a remote image
  o.remote_categories = {AttachmentCategory::other};
  out = stage({"https://user:token@example.com?x=1"}, o);
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.staged->files[0].name, "attachment");
  o.remote_categories = {AttachmentCategory::image};

  out = stage({"https://example.com/doc.pdf?token=SECRET"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::unsupported_capability);
  EXPECT_EQ(out.error->message.find("SECRET"), std::string::npos) << out.error->message;
  out = stage({"http://example.com/a.png"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::validation_error);
  out = stage({"data:image/png;base64,@@@"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->message.find("base64"), std::string::npos);
}

TEST_F(Staging, LoadsTheBytesWhenAskedAndCopiesOnlyWhenAsked) {
  workspace_.write("small.txt", "small");
  workspace_.write("big.txt", std::string(100, 'b'));
  auto o = options();
  o.copy = false;
  o.load_max_bytes = 10;
  auto out = stage({"small.txt", "big.txt"}, o);
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(out.staged->files[0].content, "small");
  EXPECT_FALSE(out.staged->files[1].content);
  EXPECT_TRUE(out.staged->files[0].path.empty());
  expect_nothing_staged();
}

TEST_F(Staging, IntoAnExistingDirectoryRemovesOnlyWhatItMade) {
  ScratchDir run_dir;
  workspace_.write("notes.txt", "hello");
  auto o = options();
  o.into = run_dir.path();
  {
    auto out = stage({"notes.txt"}, o);
    ASSERT_FALSE(out.error) << out.error->message;
    EXPECT_EQ(out.staged->files[0].path, run_dir.path() + "/attachments/notes.txt");
  }
  EXPECT_FALSE(fs::exists(run_dir.path() + "/attachments"));
  EXPECT_TRUE(fs::exists(run_dir.path()));
  // A long-lived agent's cwd may have an attachments/ of its own: it is left alone.
  run_dir.write("attachments/agent-work.txt", "mine");
  {
    auto out = stage({"notes.txt"}, o);
    ASSERT_FALSE(out.error) << out.error->message;
    EXPECT_EQ(out.staged->files[0].path, run_dir.path() + "/attachments-2/notes.txt");
  }
  EXPECT_FALSE(fs::exists(run_dir.path() + "/attachments-2"));
  EXPECT_EQ(slurp(run_dir.path() + "/attachments/agent-work.txt"), "mine");
  // A refused staging removes nothing of it either.
  auto refused = stage({"notes.txt", "missing.txt"}, o);
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(slurp(run_dir.path() + "/attachments/agent-work.txt"), "mine");
  expect_nothing_staged();
}

TEST_F(Staging, KeepLeavesTheCopiesAndSaysWhere) {
  workspace_.write("notes.txt", "hello");
  auto o = options();
  o.keep = true;
  std::string kept;
  {
    auto out = stage({"notes.txt"}, o);
    ASSERT_FALSE(out.error) << out.error->message;
    ASSERT_TRUE(out.staged->kept_at);
    kept = *out.staged->kept_at;
    EXPECT_EQ(fs::path(kept).filename().string().rfind(std::string(kKeptAttachmentDirPrefix), 0), 0u)
        << kept << ": a name the sweep of dead runs' directories leaves alone";
    auto reports = out.staged->reports({"args"});
    ASSERT_TRUE(reports[0].kept_at);
    EXPECT_EQ(*reports[0].kept_at, out.staged->files[0].path);
  }
  EXPECT_TRUE(fs::exists(kept + "/attachments/notes.txt"));
  EXPECT_EQ(TempDir::remove_stale(std::string(kAttachmentDirPrefix), staging_.path()), 0u);
  EXPECT_TRUE(fs::exists(kept + "/attachments/notes.txt"));
}

TEST_F(Staging, ACancelledJobLeavesNothingAndSaysAborted) {
  workspace_.write("big.bin", std::string(8 << 20, 'x'));
  Loop loop;
  std::optional<Error> error;
  bool got_staged = false;
  auto job = stage_attachments(loop, {"big.bin"}, options(),
                               [&](std::optional<StagedAttachments> s, std::optional<Error> e) {
                                 got_staged = s.has_value();
                                 error = std::move(e);
                               });
  job->cancel();
  loop.run();
  EXPECT_FALSE(got_staged);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::aborted);
  expect_nothing_staged();
}

TEST_F(Staging, CopyingALargeAttachmentLeavesTheLoopFree) {
  // The copy runs on the work queue: the loop keeps serving timers (other runs) meanwhile.
  workspace_.write("large.bin", std::string(64 << 20, 'x'));
  Loop loop;
  bool done = false;
  int ticks = 0;
  LoopTimer timer(loop);
  std::function<void()> tick = [&] {
    ++ticks;
    if (!done) timer.start(1, tick);
  };
  timer.start(1, tick);
  stage_attachments(loop, {"large.bin"}, options(),
                    [&](std::optional<StagedAttachments> s, std::optional<Error> e) {
                      done = true;
                      EXPECT_TRUE(s.has_value()) << (e ? e->message : "");
                    });
  loop.run();
  EXPECT_TRUE(done);
  EXPECT_GE(ticks, 2) << "the loop was blocked while the attachment was copied";
  expect_nothing_staged();
}

TEST_F(Staging, AStagingDirectoryOthersCanWriteToIsRefused) {
  workspace_.write("notes.txt", "hello");
  ScratchDir shared;
  ASSERT_EQ(::chmod(shared.path().c_str(), 0777), 0);
  auto o = options();
  o.dir = shared.path();
  auto out = stage({"notes.txt"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::config_error);
  EXPECT_NE(out.error->message.find("not sticky"), std::string::npos) << out.error->message;
  EXPECT_TRUE(shared.empty());
  ASSERT_EQ(::chmod(shared.path().c_str(), 01777), 0);  // like /tmp: fine
  out = stage({"notes.txt"}, o);
  EXPECT_FALSE(out.error) << out.error->message;
}

TEST_F(Staging, AnUnwritableStagingDirectoryIsAClearError) {
  workspace_.write("notes.txt", "hello");
  auto o = options();
  o.dir = staging_.path() + "/missing/deeper";
  auto out = stage({"notes.txt"}, o);
  ASSERT_TRUE(out.error);
  EXPECT_NE(out.error->message.find("missing/deeper"), std::string::npos) << out.error->message;
}

TEST(StaleStaging, DirectoriesOfDeadProcessesGoAndNothingElse) {
  ScratchDir parent;
  const std::string dead = parent.path() + "/" + std::string(kAttachmentDirPrefix) + "999999999-abcDEF";
  const std::string alive = parent.path() + "/" + std::string(kAttachmentDirPrefix) +
                            std::to_string(::getpid()) + "-abcDEF";
  const std::string other = parent.path() + "/drover-att-notapid-abcDEF";
  for (const auto& d : {dead, alive, other}) fs::create_directories(d + "/attachments");
  EXPECT_EQ(TempDir::remove_stale(std::string(kAttachmentDirPrefix), parent.path()), 1u);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(other));
}

}  // namespace
}  // namespace drover::test
