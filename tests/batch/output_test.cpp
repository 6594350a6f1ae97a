// A batch's output file: records, the lock, torn-line repair, reading at every split point.
#include "src/batch/output.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "support/drover_cli.h"

namespace drover {
namespace {

using test::ScratchDir;
using json = nlohmann::json;

BatchRecord sample(const std::string& id, bool ok = true) {
  BatchRecord r;
  r.id = id;
  r.input = "docs/" + id;
  r.route = "fake/cli";
  r.model = "m1";
  r.text = ok ? "answer for " + id + "\nline two \"quoted\"" : "";
  if (ok) {
    r.json = json{{"title", id}};
    Usage u;
    u.input_tokens = 100;
    u.output_tokens = 20;
    u.cost_usd = 0.0125;
    u.calls = 1;
    r.usage = u;
  } else {
    r.error = Error::make(ErrorCode::timeout, "no answer in 30 s");
  }
  r.attempts = ok ? 1 : 3;
  r.duration_ms = 1234.5;
  r.key = std::string(64, 'a');
  return r;
}

std::string line_of(const BatchRecord& r) { return batch_record_line(r); }

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

TEST(BatchRecordJson, AllPinnedFieldsAlwaysPresent) {
  BatchRecord bare;
  bare.id = "x";
  const json j = to_json(bare);
  for (const char* key : {"id", "input", "route", "model", "text", "json", "usage", "error",
                          "attempts", "durationMs", "key"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.size(), 11u);
  EXPECT_TRUE(j["json"].is_null());
  EXPECT_TRUE(j["usage"].is_null());
  EXPECT_TRUE(j["error"].is_null());

  const json failed = to_json(sample("f", false));
  EXPECT_EQ(failed["error"]["code"], "timeout");
  EXPECT_EQ(failed["error"]["message"], "no answer in 30 s");
  EXPECT_EQ(failed["attempts"], 3);
  EXPECT_EQ(failed["durationMs"], 1234.5);
}

TEST(BatchRecordJson, RoundTrips) {
  for (bool ok : {true, false}) {
    const BatchRecord r = sample("doc", ok);
    std::string error;
    auto back = batch_record_from_json(to_json(r), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(to_json(*back), to_json(r));
  }
}

TEST(BatchRecordJson, TheWrittenLineIsTheRecordsJsonWithIdFirst) {
  std::vector<BatchRecord> records = {sample("ok"), sample("failed", false), BatchRecord{}};
  BatchRecord odd = sample("odd \"one\"\\");
  odd.text = std::string("tab\t cr\r ff\f bs\b nul") + '\0' + "\x01\x1f\x7f end";
  records.push_back(odd);
  BatchRecord utf8 = sample("caf\xc3\xa9");
  utf8.text = "na\xc3\xafve \xe2\x80\x94 \xff\xfe bad";  // the last two bytes are ill-formed
  records.push_back(utf8);
  for (const BatchRecord& r : records) {
    const std::string line = batch_record_line(r);
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
    EXPECT_EQ(line.rfind("{\"id\":", 0), 0u) << line;
    const json parsed = json::parse(line);  // throws on invalid JSON or UTF-8
    const json expected =
        json::parse(to_json(r).dump(-1, ' ', false, json::error_handler_t::replace));
    EXPECT_EQ(parsed, expected) << line;
  }
  EXPECT_EQ(json::parse(batch_record_line(odd))["text"], odd.text);
  EXPECT_EQ(json::parse(batch_record_line(utf8))["text"], "na\xc3\xafve \xe2\x80\x94 \xef\xbf\xbd\xef\xbf\xbd bad");
}

TEST(BatchRecordJson, RejectsWhatIsNotARecord) {
  const json good = to_json(sample("d"));
  std::vector<std::pair<json, std::string>> cases;
  cases.push_back({json::array(), "object"});
  json j = good; j.erase("id"); cases.push_back({j, "\"id\""});
  j = good; j["id"] = 5; cases.push_back({j, "\"id\""});
  j = good; j["text"] = 5; cases.push_back({j, "\"text\""});
  j = good; j["attempts"] = "1"; cases.push_back({j, "\"attempts\""});
  j = good; j["attempts"] = -1; cases.push_back({j, "\"attempts\""});
  j = good; j["durationMs"] = "x"; cases.push_back({j, "\"durationMs\""});
  j = good; j["usage"] = "x"; cases.push_back({j, "usage"});
  j = good; j["usage"]["inputTokens"] = "x"; cases.push_back({j, "inputTokens"});
  j = good; j["error"] = {{"code", "no_such_code"}, {"message", "m"}}; cases.push_back({j, "no_such_code"});
  j = good; j["error"] = 7; cases.push_back({j, "\"error\""});
  for (const auto& [value, problem] : cases) {
    std::string error;
    EXPECT_FALSE(batch_record_from_json(value, error)) << value.dump();
    EXPECT_NE(error.find(problem), std::string::npos) << error;
  }
}

TEST(BatchOutputFile, AppendsAndReadsBackLastLinePerId) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  {
    std::optional<Error> error;
    auto out = BatchOutput::open(path, error);
    ASSERT_TRUE(out) << error->message;
    EXPECT_TRUE(out->previous().empty());
    ASSERT_TRUE(out->append(sample("a", false), error));
    ASSERT_TRUE(out->append(sample("b"), error));
    ASSERT_TRUE(out->append(sample("a"), error));
  }
  const std::string text = test::read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text, line_of(sample("a", false)) + line_of(sample("b")) + line_of(sample("a")));
  std::optional<Error> error;
  auto out = BatchOutput::open(path, error);
  ASSERT_TRUE(out) << error->message;
  ASSERT_EQ(out->previous().size(), 2u);
  EXPECT_FALSE(out->previous().at("a").error);  // the later line wins
  EXPECT_EQ(read_batch_output(path, error).size(), 3u);
}

// Lines are written at once and fsynced by the output's own thread, in groups: every line is in
// the file (in order) as append() returns, and flush() returns once the last one is synced.
TEST(BatchOutputFile, LinesAreInTheFileAtOnceAndFlushWaitsForTheirSync) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  std::optional<Error> error;
  auto out = BatchOutput::open(path, error);
  ASSERT_TRUE(out) << error->message;
  std::string expected;
  for (int i = 0; i < 500; ++i) {
    const BatchRecord record = sample("doc-" + std::to_string(i), i % 3 != 0);
    ASSERT_TRUE(out->append(record, error)) << error->message;
    expected += line_of(record);
    if (i % 100 == 0) {
      EXPECT_EQ(test::read_file(path), expected);  // before any flush
    }
  }
  ASSERT_TRUE(out->flush(error)) << error->message;
  EXPECT_EQ(test::read_file(path), expected);
  ASSERT_TRUE(out->flush(error));  // nothing new: returns at once
  ASSERT_TRUE(out->append(sample("last"), error));
  out.reset();  // the destructor syncs the rest
  EXPECT_EQ(read_batch_output(path, error).size(), 501u);
}

TEST(BatchOutputFile, TornLastLineIsCutGoodLinesRemain) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  const std::string good = line_of(sample("a")) + line_of(sample("b"));
  const std::string torn = line_of(sample("c"));
  write_file(path, good + torn.substr(0, torn.size() / 2));
  {
    std::optional<Error> error;
    auto out = BatchOutput::open(path, error);
    ASSERT_TRUE(out) << error->message;
    EXPECT_EQ(out->previous().size(), 2u);
    EXPECT_FALSE(out->previous().count("c"));
    EXPECT_EQ(test::read_file(path), good);  // cut before anything is added
    ASSERT_TRUE(out->append(sample("c"), error));
  }
  EXPECT_EQ(test::read_file(path), good + torn);
}

TEST(BatchOutputFile, ABadCompleteLineIsAnErrorAndTheFileIsLeftAlone) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  const std::string content = line_of(sample("a")) + "\n{\"not\":\"a record\"}\n" + "{\"id\":\"tor";
  write_file(path, content);
  std::optional<Error> error;
  EXPECT_FALSE(BatchOutput::open(path, error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_NE(error->message.find("out.jsonl"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("line 3"), std::string::npos) << error->message;
  EXPECT_EQ(test::read_file(path), content);
  error.reset();
  EXPECT_TRUE(read_batch_output(path, error).empty());
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("line 3"), std::string::npos) << error->message;
}

// A line longer than any record drover writes is refused before it is parsed, naming it.
TEST(BatchOutputFile, AnOverlongLineIsRefusedUnparsed) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  write_file(path, line_of(sample("a")) + "[" + std::string((256u << 20) + 1, ' ') + "]\n");
  std::optional<Error> error;
  EXPECT_FALSE(BatchOutput::open(path, error));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("line 2"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("longer than 256 MiB"), std::string::npos) << error->message;
}

TEST(BatchOutputFile, ParsesAtEverySplitPointOfATruncatedFile) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  const std::string full = line_of(sample("a")) + line_of(sample("b", false)) + line_of(sample("c"));
  for (std::size_t cut = 0; cut <= full.size(); ++cut) {
    const std::string prefix = full.substr(0, cut);
    const auto complete = std::count(prefix.begin(), prefix.end(), '\n');
    write_file(path, prefix);
    std::optional<Error> error;
    const auto records = read_batch_output(path, error);
    ASSERT_FALSE(error) << "cut " << cut << ": " << error->message;
    ASSERT_EQ(static_cast<long>(records.size()), complete) << "cut " << cut;
    auto out = BatchOutput::open(path, error);
    ASSERT_TRUE(out) << "cut " << cut << ": " << error->message;
    EXPECT_EQ(static_cast<long>(out->previous().size()), complete);
    out.reset();
    EXPECT_EQ(test::read_file(path), prefix.substr(0, prefix.rfind('\n') + 1)) << "cut " << cut;
  }
}

TEST(BatchOutputFile, SecondWriterInTheSameProcessIsRefused) {
  // flock locks belong to the open file description: two opens conflict even in one process.
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  std::optional<Error> error;
  auto first = BatchOutput::open(path, error);
  ASSERT_TRUE(first) << error->message;
  EXPECT_FALSE(BatchOutput::open(path, error));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::config_error);
  EXPECT_NE(error->message.find("is being written by another drover batch (pid " +
                                std::to_string(::getpid()) + ")"),
            std::string::npos)
      << error->message;
  first.reset();
  error.reset();
  EXPECT_TRUE(BatchOutput::open(path, error)) << error->message;
}

TEST(BatchOutputFile, SecondProcessIsRefusedUntilTheFirstDies) {
  ScratchDir dir;
  const std::string path = dir.path() + "/out.jsonl";
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    std::optional<Error> error;
    auto out = BatchOutput::open(path, error);
    const char c = out ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    char buf;
    while (::read(release[0], &buf, 1) > 0) {
    }
    ::_exit(0);  // the lock dies with the process, never stale
  }
  ::close(ready[1]);
  ::close(release[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  std::optional<Error> error;
  EXPECT_FALSE(BatchOutput::open(path, error));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("(pid " + std::to_string(child) + ")"), std::string::npos)
      << error->message;
  ::close(release[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(ready[0]);
  error.reset();
  EXPECT_TRUE(BatchOutput::open(path, error)) << error->message;
}

TEST(BatchOutputFile, NotARegularFileIsRefused) {
  ScratchDir dir;
  std::optional<Error> error;
  EXPECT_FALSE(BatchOutput::open(dir.path(), error));
  ASSERT_TRUE(error);
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  error.reset();
  EXPECT_FALSE(BatchOutput::open(fifo, error));  // never blocks
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("not a regular file"), std::string::npos) << error->message;
  error.reset();
  EXPECT_TRUE(read_batch_output(fifo, error).empty());
  ASSERT_TRUE(error);
}

}  // namespace
}  // namespace drover
