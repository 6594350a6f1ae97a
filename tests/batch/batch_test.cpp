// The batch runner on the fake agent's batch mode: statuses, resume, concurrency, delivery,
// structured output and cancellation.
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "batch/batch_support.h"
#include "drover/batch.h"
#include "drover/client.h"
#include "drover/config.h"

namespace drover::test {
namespace {

using nlohmann::json;

Client make_client(const BatchWorkspace& ws) {
  auto [config, error] = parse_config(read_file(ws.config_path), ws.config_path);
  EXPECT_TRUE(config) << (error ? error->message : "");
  return Client(std::move(*config));
}

BatchDocument file_document(const BatchWorkspace& ws, const std::string& name,
                            const std::string& body = "hello") {
  BatchDocument d;
  d.id = name;
  d.input = ws.dir.path() + "/" + ws.document(name, body);
  d.path = d.input;
  return d;
}

BatchOptions options_for(const BatchWorkspace& ws, std::vector<BatchDocument> documents) {
  BatchOptions o;
  o.route = "t";
  o.prompt_template = "extract from {document.name}";
  o.out_path = ws.out();
  o.documents = std::move(documents);
  o.retries = 1;
  return o;
}

BatchOutcome run_batch(const BatchWorkspace& ws, BatchOptions options) {
  Client client = make_client(ws);
  Batch batch(client, std::move(options));
  return batch.run();
}

TEST(Batch, EveryDocumentEndsWithItsStatus) {
  BatchWorkspace ws;
  BatchOptions o = options_for(ws, {file_document(ws, "ok1"), file_document(ws, "ok2"),
                                    file_document(ws, "fails", "FAIL"),
                                    file_document(ws, "hangs", "HANG"),
                                    file_document(ws, "limited", "RATELIMIT"),
                                    file_document(ws, "limited-once", "RATELIMIT-ONCE")});
  o.timeout_ms = 1000;
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  EXPECT_FALSE(outcome.interrupted);
  EXPECT_EQ(outcome.progress.total, 6);
  EXPECT_EQ(outcome.progress.succeeded, 3);
  EXPECT_EQ(outcome.progress.failed, 3);
  EXPECT_EQ(outcome.exit_code(), 1);
  auto records = ws.records();
  ASSERT_EQ(records.size(), 6u);
  EXPECT_TRUE(records["ok1"]["error"].is_null());
  EXPECT_EQ(json::parse(records["ok1"]["text"].get<std::string>())["id"], "ok1");
  EXPECT_EQ(records["ok1"]["route"], "t:cli:a:m");
  EXPECT_EQ(records["ok1"]["model"], "m");
  EXPECT_EQ(records["ok1"]["attempts"], 1);
  EXPECT_EQ(records["fails"]["error"]["code"], "harness_error");
  EXPECT_EQ(records["fails"]["attempts"], 1);  // not retryable: one try
  EXPECT_EQ(records["hangs"]["error"]["code"], "timeout");
  EXPECT_EQ(records["limited"]["error"]["code"], "rate_limit");
  EXPECT_EQ(records["limited"]["attempts"], 2);  // --retries 1: one more try after a back-off
  EXPECT_TRUE(records["limited-once"]["error"].is_null()) << records["limited-once"].dump();
  EXPECT_EQ(ws.lines(), 6u);  // one line per document
}

TEST(Batch, ConcurrencyNeverExceedsTheLimitAndRequestsAreSubmittedLazily) {
  BatchWorkspace ws;
  std::vector<BatchDocument> documents;
  for (int i = 0; i < 12; ++i) documents.push_back(file_document(ws, "d" + std::to_string(i), "SLEEP=150"));
  BatchOptions o = options_for(ws, std::move(documents));
  o.concurrency = 3;
  Client client = make_client(ws);
  size_t most_pending = 0;
  o.on_progress = [&](const BatchProgress& p) {
    most_pending = std::max(most_pending, client.pending());
    EXPECT_LE(p.running, 3);
  };
  Batch batch(client, std::move(o));
  BatchOutcome outcome = batch.run();
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  EXPECT_EQ(outcome.progress.succeeded, 12);
  EXPECT_LE(ws.max_overlap(), 3);
  EXPECT_GE(ws.max_overlap(), 2);  // it does run documents side by side
  EXPECT_LE(most_pending, 3u);     // never more requests submitted than slots
}

TEST(Batch, RerunSkipsDoneDocumentsAndRunsChangedOnesAgain) {
  BatchWorkspace ws;
  auto documents = [&] {
    return std::vector<BatchDocument>{file_document(ws, "a"), file_document(ws, "b"),
                                      file_document(ws, "c")};
  };
  ASSERT_EQ(run_batch(ws, options_for(ws, documents())).exit_code(), 0);
  BatchOutcome again = run_batch(ws, options_for(ws, documents()));
  EXPECT_EQ(again.exit_code(), 0);
  EXPECT_EQ(again.progress.skipped, 3);
  EXPECT_EQ(ws.lines(), 3u);
  std::vector<BatchDocument> changed = {file_document(ws, "a"), file_document(ws, "b", "changed"),
                                        file_document(ws, "c")};
  BatchOutcome third = run_batch(ws, options_for(ws, changed));
  EXPECT_EQ(third.progress.skipped, 2);
  EXPECT_EQ(third.progress.succeeded, 1);
  EXPECT_EQ(ws.starts("a"), 1);
  EXPECT_EQ(ws.starts("b"), 2);
  EXPECT_EQ(ws.starts("c"), 1);
  // A changed prompt template is a changed key for every document.
  BatchOptions other_prompt = options_for(ws, changed);
  other_prompt.prompt_template = "another prompt for {document.name}";
  EXPECT_EQ(run_batch(ws, std::move(other_prompt)).progress.succeeded, 3);
}

TEST(Batch, FailuresStayFailedUntilRedoFailed) {
  BatchWorkspace ws;
  auto documents = [&] {
    return std::vector<BatchDocument>{file_document(ws, "ok"), file_document(ws, "bad", "FAIL")};
  };
  ASSERT_EQ(run_batch(ws, options_for(ws, documents())).exit_code(), 1);
  BatchOutcome skipped = run_batch(ws, options_for(ws, documents()));
  EXPECT_EQ(skipped.progress.skipped, 2);
  EXPECT_EQ(skipped.progress.skipped_failed, 1);
  EXPECT_EQ(skipped.exit_code(), 1);  // the failure is still the document's last line
  EXPECT_EQ(ws.starts("bad"), 1);
  BatchOptions redo = options_for(ws, documents());
  redo.redo_failed = true;
  BatchOutcome redone = run_batch(ws, std::move(redo));
  EXPECT_EQ(redone.progress.skipped, 1);
  EXPECT_EQ(redone.progress.failed, 1);
  EXPECT_EQ(ws.starts("bad"), 2);
  EXPECT_EQ(ws.starts("ok"), 1);
}

TEST(Batch, InlineDeliveryPutsTheTextInThePromptAndRefusesBinaryDocuments) {
  BatchWorkspace ws;
  BatchDocument binary;
  binary.id = "binary";
  binary.input = ws.dir.write("docs/binary.bin", std::string("ID=binary\n\0\xff\xfe", 13));
  binary.path = binary.input;
  BatchOptions o = options_for(ws, {file_document(ws, "text"), binary});
  o.delivery = BatchDelivery::inline_text;
  o.prompt_template = "read this:\n{document.text}";
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  auto records = ws.records();
  EXPECT_TRUE(records["text"]["error"].is_null()) << records["text"].dump();
  // The fake saw the document through the prompt (no file argument): its ID line.
  EXPECT_EQ(json::parse(records["text"]["text"].get<std::string>())["id"], "text");
  EXPECT_EQ(records["binary"]["error"]["code"], "validation_error");
  EXPECT_NE(records["binary"]["error"]["message"].get<std::string>().find("binary"), std::string::npos);
  EXPECT_EQ(records["binary"]["attempts"], 0);
  EXPECT_EQ(ws.starts("binary"), 0);
}

TEST(Batch, AttachDeliveryWithDocumentTextIsRefusedUpFront) {
  BatchWorkspace ws;
  BatchOptions o = options_for(ws, {file_document(ws, "a")});
  o.prompt_template = "{document.text}";
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::validation_error);
  EXPECT_EQ(outcome.exit_code(), 2);
  EXPECT_EQ(ws.starts("a"), 0);
}

TEST(Batch, JsonSchemaRetriesOnceWithTheErrorsThenFailsTheDocument) {
  BatchWorkspace ws;
  BatchOptions o = options_for(ws, {file_document(ws, "valid"),
                                    file_document(ws, "second-try", "JSON-INVALID-FIRST"),
                                    file_document(ws, "never", "JSON-NEVER")});
  o.json_schema_text = R"({"type": "object", "required": ["id", "bytes"],
                           "properties": {"bytes": {"type": "integer"}}})";
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  auto records = ws.records();
  EXPECT_EQ(records["valid"]["json"]["id"], "valid");
  EXPECT_EQ(records["valid"]["attempts"], 1);
  EXPECT_EQ(records["second-try"]["json"]["id"], "second-try") << records["second-try"].dump();
  EXPECT_EQ(records["second-try"]["attempts"], 2);
  EXPECT_TRUE(records["never"]["json"].is_null());
  EXPECT_EQ(records["never"]["error"]["code"], "validation_error");
  EXPECT_EQ(records["never"]["attempts"], 2);
  EXPECT_EQ(ws.starts("never"), 2);
}

TEST(Batch, ABadSchemaIsAnErrorBeforeAnythingRuns) {
  BatchWorkspace ws;
  BatchOptions o = options_for(ws, {file_document(ws, "a")});
  o.json_schema_text = "{not json";
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::validation_error);
  EXPECT_EQ(ws.starts("a"), 0);
}

TEST(Batch, CancelStopsRunsInFlightWithoutALineForThem) {
  BatchWorkspace ws;
  BatchOptions o = options_for(ws, {file_document(ws, "quick"), file_document(ws, "hang1", "HANG"),
                                    file_document(ws, "hang2", "HANG"),
                                    file_document(ws, "later")});
  o.concurrency = 3;
  Client client = make_client(ws);
  Batch batch(client, std::move(o));
  bool cancelled = false;
  // Once the quick one is done and both hanging agents run: cancel (as Ctrl-C would).
  std::function<void()> poll = [&] {
    if (ws.lines() >= 1 && ws.starts("hang1") == 1 && ws.starts("hang2") == 1) {
      cancelled = true;
      return batch.cancel();
    }
    client.post_after(20, poll);
  };
  client.post_after(20, poll);
  BatchOutcome outcome = batch.run();
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_EQ(outcome.exit_code(), 130);
  auto records = ws.records();
  EXPECT_TRUE(records.count("quick"));
  EXPECT_FALSE(records.count("hang1"));
  EXPECT_FALSE(records.count("hang2"));
  EXPECT_EQ(outcome.progress.succeeded, static_cast<int64_t>(records.size()));
  EXPECT_EQ(client.pending(), 0u);
  // The next run finishes the rest; the quick one is not run again.
  BatchOptions rest = options_for(ws, {file_document(ws, "quick"), file_document(ws, "hang1"),
                                       file_document(ws, "hang2"), file_document(ws, "later")});
  EXPECT_EQ(run_batch(ws, std::move(rest)).exit_code(), 0);
  EXPECT_EQ(ws.starts("quick"), 1);
  EXPECT_EQ(ws.records().size(), 4u);
}

TEST(Batch, MaxCallsIsACeilingForTheWholeBatch) {
  BatchWorkspace ws;
  std::vector<BatchDocument> documents;
  for (int i = 0; i < 5; ++i) documents.push_back(file_document(ws, "m" + std::to_string(i)));
  BatchOptions o = options_for(ws, std::move(documents));
  o.concurrency = 1;
  o.max_calls = 2;
  BatchOutcome outcome = run_batch(ws, std::move(o));
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  EXPECT_EQ(outcome.progress.succeeded, 2);
  EXPECT_EQ(outcome.progress.failed, 3);
  int limited = 0;
  for (const auto& [id, record] : ws.records())
    limited += !record["error"].is_null() && record["error"]["code"] == "fanout_limit";
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(ws.log().size(), 4u);  // two agents started and ended, no more
}

TEST(Batch, OnlyTheShardsDocumentsRun) {
  BatchWorkspace ws;
  std::vector<BatchDocument> documents;
  for (int i = 0; i < 8; ++i) documents.push_back(file_document(ws, "s" + std::to_string(i)));
  int64_t total = 0;
  for (int64_t shard = 0; shard < 2; ++shard) {
    BatchOptions o = options_for(ws, documents);
    o.shard = BatchShard{shard, 2};
    o.out_path = ws.out() + std::to_string(shard);
    total += run_batch(ws, std::move(o)).progress.succeeded;
  }
  EXPECT_EQ(total, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(ws.starts("s" + std::to_string(i)), 1);
}

TEST(Batch, AnAcpRoutesSessionsAreTitledWithTheirDocument) {
  // The pool's fresh sessions get an explicit title (session/set_title): agents that would
  // otherwise spend a model turn naming each session do not.
  BatchWorkspace ws;
  const std::string record = ws.dir.path() + "/acp-record.jsonl";
  json config = {
      {"providers",
       {{"acpfake",
         {{"accounts",
           {{{"id", "a"},
             {"transport",
              {{"kind", "acp"},
               {"command", fake_acp_agent()},
               {"acp", {{"args", {"--record", record, "--session-caps", "title,close"}}}}}},
             {"models", {"fake-large"}}}}}}}}}};
  auto [parsed, error] = parse_config(config.dump(), "acp.json");
  ASSERT_TRUE(parsed) << (error ? error->message : "");
  Client client(std::move(*parsed));
  BatchOptions o = options_for(ws, {file_document(ws, "first"), file_document(ws, "second")});
  o.route = "acpfake";
  o.delivery = BatchDelivery::inline_text;
  o.prompt_template = "{document.text}";
  o.concurrency = 2;
  BatchOutcome outcome = Batch(client, std::move(o)).run();
  ASSERT_FALSE(outcome.error) << outcome.error->message;
  EXPECT_EQ(outcome.progress.succeeded, 2);
  std::set<std::string> titles;
  std::ifstream in(record);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    if (j["event"] == "set_title") titles.insert(j["title"].get<std::string>());
  }
  EXPECT_EQ(titles, (std::set<std::string>{"drover batch: first", "drover batch: second"}));
}

}  // namespace
}  // namespace drover::test
