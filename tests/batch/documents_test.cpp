// A batch's documents: prompt templates, keys, shards, inputs and the manifest.
#include "src/batch/documents.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover {
namespace {

using test::ScratchDir;

BatchDocument file_doc(const std::string& path) {
  BatchDocument d;
  d.id = path;
  d.input = path;
  d.path = path;
  return d;
}

std::string render(std::string_view tmpl, const BatchDocument& doc,
                   const std::optional<std::string>& text = std::nullopt) {
  std::optional<Error> error;
  auto out = render_batch_prompt(tmpl, doc, text, error);
  EXPECT_TRUE(out) << (error ? error->message : "");
  return out.value_or("<error>");
}

std::vector<std::string> ids(const std::vector<BatchDocument>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.id);
  return out;
}

// ---- template ----------------------------------------------------------------------------------

TEST(BatchTemplate, ReplacesThePlaceholders) {
  BatchDocument doc = file_doc("in/sub/report.txt");
  doc.vars = {{"lang", "de"}, {"n", 3}, {"strict", true}};
  EXPECT_EQ(render("{document.name}|{document.path}|{document.text}|{vars.lang}{vars.n}{vars.strict}",
                   doc, "TEXT"),
            "report.txt|in/sub/report.txt|TEXT|de3true");
}

TEST(BatchTemplate, OtherBracesStayLiteral) {
  BatchDocument doc = file_doc("a.txt");
  EXPECT_EQ(render(R"(Answer as {"name": "...", "tags": []} for {document.name} {x} {vars.} {vars.a b} {)",
                   doc),
            R"(Answer as {"name": "...", "tags": []} for a.txt {x} {vars.} {vars.a b} {)");
  EXPECT_EQ(render("{{document.name}}", doc), "{a.txt}");
  EXPECT_EQ(render("{document.nam}", doc), "{document.nam}");
}

TEST(BatchTemplate, ReplacementsAreNeverExpandedAgain) {
  BatchDocument doc = file_doc("a.txt");
  doc.vars = {{"v", "{document.text}{vars.v}"}};
  EXPECT_EQ(render("[{vars.v}] [{document.text}]", doc, "{document.name}"),
            "[{document.text}{vars.v}] [{document.name}]");
}

TEST(BatchTemplate, MissingVarIsAValidationErrorNamingItAndTheDocument) {
  BatchDocument doc = file_doc("a.txt");
  doc.vars = {{"other", "x"}};
  std::optional<Error> error;
  EXPECT_FALSE(render_batch_prompt("hi {vars.lang}", doc, std::nullopt, error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::validation_error);
  EXPECT_NE(error->message.find("{vars.lang}"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("a.txt"), std::string::npos) << error->message;
}

TEST(BatchTemplate, TextWithoutTextIsAnError) {
  std::optional<Error> error;
  EXPECT_FALSE(render_batch_prompt("{document.text}", file_doc("a.txt"), std::nullopt, error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::validation_error);
  EXPECT_NE(error->message.find("{document.text}"), std::string::npos);
}

TEST(BatchTemplate, ManifestTextDocumentNameIsItsIdAndPathEmpty) {
  BatchDocument doc;
  doc.id = "doc-7";
  doc.input = "doc-7";
  doc.text = "body";
  EXPECT_EQ(render("<{document.name}|{document.path}>", doc), "<doc-7|>");
}

TEST(BatchTemplate, UsesText) {
  EXPECT_TRUE(template_uses_text("x {document.text} y"));
  EXPECT_FALSE(template_uses_text("x {document.name} {document.tex} y"));
}

// ---- key ---------------------------------------------------------------------------------------

TEST(BatchKey, ChangesWithEachInputAndNotOtherwise) {
  const nlohmann::json vars = {{"a", 1}};
  const std::string base = batch_document_key("T", "C", vars, "r", "m", "S");
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base, batch_document_key("T", "C", nlohmann::json{{"a", 1}}, "r", "m", "S"));
  std::set<std::string> keys{base};
  keys.insert(batch_document_key("T2", "C", vars, "r", "m", "S"));
  keys.insert(batch_document_key("T", "C2", vars, "r", "m", "S"));
  keys.insert(batch_document_key("T", "C", nlohmann::json{{"a", 2}}, "r", "m", "S"));
  keys.insert(batch_document_key("T", "C", vars, "r2", "m", "S"));
  keys.insert(batch_document_key("T", "C", vars, "r", "m2", "S"));
  keys.insert(batch_document_key("T", "C", vars, "r", "m", "S2"));
  EXPECT_EQ(keys.size(), 7u);
  // Length prefixes: moving a byte from one field to the next changes the key.
  EXPECT_NE(batch_document_key("ab", "c", vars, "r", "m", ""),
            batch_document_key("a", "bc", vars, "r", "m", ""));
  EXPECT_NE(batch_document_key("T", "C", vars, "r", "", "m"),
            batch_document_key("T", "C", vars, "r", "m", ""));
}

// ---- shards ------------------------------------------------------------------------------------

TEST(BatchShard, StableKnownValues) {
  // Pinned: every machine and run must agree on these (sha256's first 8 bytes, big-endian).
  EXPECT_EQ(batch_shard_of("doc-1", 4), 1);
  EXPECT_EQ(batch_shard_of("doc-2", 4), 0);
  EXPECT_EQ(batch_shard_of("a/b.txt", 7), 0);
  EXPECT_EQ(batch_shard_of("", 3), 1);
  EXPECT_EQ(batch_shard_of("anything", 1), 0);
}

TEST(BatchShard, EveryIdInExactlyOneShardTheSameAcrossCalls) {
  for (int64_t n : {1, 2, 3, 4, 16}) {
    std::vector<int64_t> sizes(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < 2000; ++i) {
      const std::string id = "docs/file-" + std::to_string(i) + ".txt";
      const int64_t s = batch_shard_of(id, n);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, n);
      ASSERT_EQ(s, batch_shard_of(id, n));
      ++sizes[static_cast<std::size_t>(s)];
    }
    for (int64_t size : sizes) EXPECT_GT(size, 2000 / n / 2) << "n=" << n;  // roughly even
  }
}

TEST(BatchShard, ParsesIOverN) {
  std::optional<Error> error;
  auto s = parse_batch_shard("2/5", error);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 5);
  for (const char* bad : {"5/5", "-1/4", "1/0", "1", "a/4", "1/4x", " 1/4", "1/", "/4", "1//4",
                          "99999999999999999999/4"}) {
    error.reset();
    EXPECT_FALSE(parse_batch_shard(bad, error)) << bad;
    ASSERT_TRUE(error) << bad;
    EXPECT_EQ(error->code, ErrorCode::validation_error);
  }
}

class ScopedEnv {
 public:
  explicit ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                             "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX"}) {
      if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
      ::unsetenv(name);
      names_.push_back(name);
    }
    for (auto [k, v] : vars) ::setenv(k, v, 1);
  }
  ~ScopedEnv() {
    for (const char* name : names_) ::unsetenv(name);
    for (auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::vector<const char*> names_;
  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST(BatchShard, FromEnvironment) {
  std::optional<Error> error;
  {
    ScopedEnv env({});
    EXPECT_FALSE(shard_from_environment(std::nullopt, error));
    EXPECT_FALSE(error);
  }
  {
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
    auto s = shard_from_environment(std::nullopt, error);
    ASSERT_TRUE(s) << error->message;
    EXPECT_EQ(s->index, 2);
    EXPECT_EQ(s->count, 4);
  }
  {  // --array=1-4
    ScopedEnv env({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"},
                   {"SLURM_ARRAY_TASK_MIN", "1"}});
    auto s = shard_from_environment(std::nullopt, error);
    ASSERT_TRUE(s) << error->message;
    EXPECT_EQ(s->index, 3);
  }
  {
    ScopedEnv env({{"JOB_COMPLETION_INDEX", "1"}});
    auto s = shard_from_environment(3, error);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, 1);
    EXPECT_EQ(s->count, 3);
  }
}

TEST(BatchShard, MalformedEnvironmentNamesTheVariable) {
  struct Case {
    std::vector<std::pair<const char*, const char*>> vars;
    std::optional<int64_t> shards;
    const char* names;
  };
  const std::vector<Case> cases = {
      {{{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, std::nullopt, "SLURM_ARRAY_TASK_ID"},
      {{{"SLURM_ARRAY_TASK_ID", "1"}}, std::nullopt, "SLURM_ARRAY_TASK_COUNT"},
      {{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "-4"}}, std::nullopt, "SLURM_ARRAY_TASK_COUNT"},
      {{{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, std::nullopt, "SLURM_ARRAY_TASK_ID"},
      {{{"SLURM_ARRAY_TASK_ID", ""}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, std::nullopt, "SLURM_ARRAY_TASK_ID"},
      {{{"JOB_COMPLETION_INDEX", "1"}}, std::nullopt, "JOB_COMPLETION_INDEX"},
      {{{"JOB_COMPLETION_INDEX", "3"}}, 3, "JOB_COMPLETION_INDEX"},
      {{{"JOB_COMPLETION_INDEX", "1e2"}}, 3, "JOB_COMPLETION_INDEX"},
  };
  for (const Case& c : cases) {
    ScopedEnv env({});
    for (auto [k, v] : c.vars) ::setenv(k, v, 1);
    std::optional<Error> error;
    EXPECT_FALSE(shard_from_environment(c.shards, error)) << c.names;
    ASSERT_TRUE(error) << c.names;
    EXPECT_EQ(error->code, ErrorCode::validation_error);
    EXPECT_NE(error->message.find(c.names), std::string::npos) << error->message;
  }
}

// ---- reading a document ------------------------------------------------------------------------

TEST(BatchRead, BoundedRegularFilesOnly) {
  ScratchDir dir;
  const std::string file = dir.write("a.txt", "hello");
  std::optional<Error> error;
  EXPECT_EQ(read_batch_document(file_doc(file), 5, error).value_or("?"), "hello");
  EXPECT_FALSE(read_batch_document(file_doc(file), 4, error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::validation_error);
  EXPECT_NE(error->message.find("a.txt"), std::string::npos);

  error.reset();
  EXPECT_FALSE(read_batch_document(file_doc(dir.path()), 100, error));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("not a regular file"), std::string::npos);

  error.reset();
  EXPECT_FALSE(read_batch_document(file_doc(dir.path() + "/missing"), 100, error));
  ASSERT_TRUE(error);

  BatchDocument text;
  text.id = "t";
  text.text = "inline";
  error.reset();
  EXPECT_EQ(read_batch_document(text, 6, error).value_or("?"), "inline");
  EXPECT_FALSE(read_batch_document(text, 5, error));
}

TEST(BatchRead, AFifoIsRefusedWithoutBlocking) {
  ScratchDir dir;
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::optional<Error> error;
  EXPECT_FALSE(read_batch_document(file_doc(fifo), 100, error));  // would hang if opened blocking
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("not a regular file"), std::string::npos);
}

// ---- collecting --------------------------------------------------------------------------------

TEST(BatchCollect, DirectoriesRecursedSortedHiddenSkipped) {
  ScratchDir dir;
  dir.write("in/b.txt", "b");
  dir.write("in/a.txt", "a");
  dir.write("in/sub/c.txt", "c");
  dir.write("in/a.txt.d/x", "x");
  dir.write("in/.hidden", "h");
  dir.write("in/.git/config", "g");
  ::mkfifo((dir.path() + "/in/fifo").c_str(), 0600);
  ::symlink((dir.path() + "/in/sub").c_str(), (dir.path() + "/in/link-dir").c_str());
  ::symlink((dir.path() + "/in/b.txt").c_str(), (dir.path() + "/in/link-file").c_str());
  const std::string in = dir.path() + "/in";
  std::optional<Error> error;
  auto docs = collect_batch_documents({in + "/"}, std::nullopt, error);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(ids(docs), (std::vector<std::string>{in + "/a.txt", in + "/a.txt.d/x", in + "/b.txt",
                                                 in + "/link-file", in + "/sub/c.txt"}));
  EXPECT_EQ(docs[0].input, docs[0].id);
  EXPECT_EQ(docs[0].path.value_or(""), in + "/a.txt");
}

TEST(BatchCollect, FilesGlobsInOrderDuplicatesOnce) {
  ScratchDir dir;
  const std::string z = dir.write("z.md", "z");
  dir.write("b.txt", "b");
  dir.write("a.txt", "a");
  std::optional<Error> error;
  auto docs = collect_batch_documents({z, dir.path() + "/*.txt", dir.path() + "/a.txt"},
                                      std::nullopt, error);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(ids(docs), (std::vector<std::string>{z, dir.path() + "/a.txt", dir.path() + "/b.txt"}));
}

TEST(BatchCollect, MissingInputsAndEmptyGlobsAreErrorsNamingThem) {
  ScratchDir dir;
  std::optional<Error> error;
  EXPECT_TRUE(collect_batch_documents({dir.path() + "/nope.txt"}, std::nullopt, error).empty());
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::validation_error);
  EXPECT_NE(error->message.find("nope.txt"), std::string::npos);
  error.reset();
  EXPECT_TRUE(collect_batch_documents({dir.path() + "/*.pdf"}, std::nullopt, error).empty());
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("*.pdf"), std::string::npos);
  EXPECT_NE(error->message.find("matches no file"), std::string::npos);
}

TEST(BatchCollect, HostileFileNames) {
  ScratchDir dir;
  const std::string newline = dir.write("line\nbreak.txt", "1");
  const std::string dash = dir.write("-rf", "2");
  const std::string star = dir.write("lit*eral", "3");
  const std::string bad = dir.path() + "/bad\xff\xfe.txt";
  std::ofstream(bad) << "4";
  std::optional<Error> error;
  auto docs = collect_batch_documents({newline, dash, star, bad}, std::nullopt, error);
  ASSERT_FALSE(error) << error->message;
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0].id, newline);
  EXPECT_EQ(docs[1].id, dash);
  EXPECT_EQ(docs[2].id, star);  // exists as written: not a pattern
  // Invalid UTF-8 in a name: the id spells each bad byte as \xHH; the path keeps the bytes.
  EXPECT_EQ(docs[3].id, dir.path() + "/bad\\xff\\xfe.txt");
  EXPECT_EQ(docs[3].path.value_or(""), bad);
  EXPECT_NO_THROW(nlohmann::json(docs[3].id).dump());
  EXPECT_EQ(read_batch_document(docs[3], 10, error).value_or("?"), "4");
  EXPECT_EQ(render("{document.name}", docs[3]), "bad\\xff\\xfe.txt");
}

TEST(BatchCollect, Manifest) {
  ScratchDir dir;
  const std::string manifest = dir.write("m.jsonl",
      "{\"id\":\"one\",\"text\":\"hello\",\"vars\":{\"lang\":\"de\",\"n\":2}}\n"
      "\n"
      "{\"id\":\"two\",\"path\":\"docs/two.txt\"}\r\n"
      "{\"id\":\"one\",\"text\":\"again\"}\n"
      "{\"id\":\"three\",\"text\":\"no newline at the end\"}");
  std::optional<Error> error;
  auto docs = collect_batch_documents({}, manifest, error);
  ASSERT_FALSE(error) << error->message;
  ASSERT_EQ(ids(docs), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(docs[0].text.value_or(""), "hello");
  EXPECT_EQ(docs[0].vars, (nlohmann::json{{"lang", "de"}, {"n", 2}}));
  EXPECT_EQ(docs[0].input, "one");
  EXPECT_EQ(docs[1].path.value_or(""), "docs/two.txt");
  EXPECT_FALSE(docs[1].text);
  EXPECT_EQ(docs[1].input, "two");
}

TEST(BatchCollect, ManifestErrorsNameTheFileAndLine) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not JSON"},
      {"[1]", "not a JSON object"},
      {"{\"text\":\"x\"}", "\"id\""},
      {"{\"id\":3,\"text\":\"x\"}", "\"id\""},
      {"{\"id\":\"\",\"text\":\"x\"}", "\"id\""},
      {"{\"id\":\"a\"}", "exactly one"},
      {"{\"id\":\"a\",\"text\":\"x\",\"path\":\"p\"}", "exactly one"},
      {"{\"id\":\"a\",\"text\":7}", "\"text\""},
      {"{\"id\":\"a\",\"path\":\"\"}", "\"path\""},
      {"{\"id\":\"a\",\"text\":\"x\",\"vars\":[]}", "\"vars\""},
      {"{\"id\":\"a\",\"text\":\"x\",\"vars\":{\"k\":{}}}", "vars.k"},
      {"{\"id\":\"a\",\"text\":\"x\",\"vars\":{\"k\":null}}", "vars.k"},
      {"{\"id\":\"a\",\"txt\":\"x\"}", "unknown field \"txt\""},
      {"{\"id\":\"a\",\"text\":" + deep + "}", "nested deeper than 32"},
      {"{\"id\":\"a\",\"text\":\"" + std::string((1 << 20) + 10, 'x') + "\"}", "longer than"},
      {"{\"id\":\"a\",\"text\":\"\xff\"}", "not JSON"},
  };
  ScratchDir dir;
  for (const auto& [line, problem] : cases) {
    const std::string manifest =
        dir.write("m.jsonl", "{\"id\":\"ok\",\"text\":\"fine\"}\n\n" + line + "\n{\"id\":\"z\",\"text\":\"\"}\n");
    std::optional<Error> error;
    EXPECT_TRUE(collect_batch_documents({}, manifest, error).empty());
    ASSERT_TRUE(error) << problem;
    EXPECT_EQ(error->code, ErrorCode::validation_error);
    EXPECT_NE(error->message.find("m.jsonl"), std::string::npos) << error->message;
    EXPECT_NE(error->message.find("line 3"), std::string::npos) << error->message.substr(0, 300);
    EXPECT_NE(error->message.find(problem), std::string::npos) << error->message.substr(0, 300);
  }
  std::optional<Error> error;
  EXPECT_TRUE(collect_batch_documents({}, dir.path() + "/absent.jsonl", error).empty());
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("absent.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace drover
