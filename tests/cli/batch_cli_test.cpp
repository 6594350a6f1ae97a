// `drover batch` end to end: exit codes, kill -9 and resume, the output lock, Ctrl-C, usage
// errors, report and merge.
#include <gtest/gtest.h>

#include "batch/batch_support.h"

namespace drover::test {
namespace {

using nlohmann::json;

CliRun batch(const BatchWorkspace& ws, std::vector<std::string> args,
             const std::string& shell_script = "") {
  args.insert(args.begin(), {"batch", "--config", ws.config_path, "--route", "t", "--out", ws.out()});
  CliOptions options;
  options.cwd = ws.dir.path();
  options.shell_script = shell_script;
  return run_drover(args, options);
}

TEST(CliBatch, ExitsZeroWhenEveryDocumentSucceedsAndOneWhenAnyFailed) {
  BatchWorkspace ws;
  ws.document("a");
  ws.document("b");
  CliRun ok = batch(ws, {"--prompt", "extract {document.name}", "docs"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("2 documents"), std::string::npos) << ok.err;  // the summary
  auto records = ws.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records["docs/a.txt"]["input"], "docs/a.txt");
  ws.document("c", "FAIL");
  CliRun failed = batch(ws, {"--prompt", "extract {document.name}", "--quiet", "docs"});
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_EQ(failed.err, "");  // --quiet
  EXPECT_EQ(ws.records()["docs/c.txt"]["error"]["code"], "harness_error");
  EXPECT_EQ(ws.starts("a"), 1);  // done before: not run again
}

TEST(CliBatch, UsageErrorsExitTwoNamingTheFlag) {
  BatchWorkspace ws;
  ws.document("a");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--concurrency", "0", "--prompt", "x", "docs"}, "--concurrency"},
           {{"--retries", "-1", "--prompt", "x", "docs"}, "--retries"},
           {{"--shard", "2/2", "--prompt", "x", "docs"}, "--shard"},
           {{"--timeout", "soon", "--prompt", "x", "docs"}, "--timeout"},
           {{"--deliver", "mail", "--prompt", "x", "docs"}, "--deliver"},
           {{"docs"}, "--prompt"},
           {{"--prompt", "x", "--prompt-file", "p.txt", "docs"}, "--prompt"},
           {{"--prompt", "x"}, "INPUTS"},
           {{"--json-schema", "missing.json", "--prompt", "x", "docs"}, "--json-schema"},
       }) {
    CliRun run = batch(ws, c.args);
    EXPECT_EQ(run.exit_code, 2) << c.says << ": " << run.err;
    EXPECT_NE(run.err.find(c.says), std::string::npos) << run.err;
  }
  CliRun no_route = run_drover({"batch", "--out", ws.out(), "--prompt", "x", "docs"});
  EXPECT_EQ(no_route.exit_code, 2);
  EXPECT_NE(no_route.err.find("--route"), std::string::npos) << no_route.err;
  EXPECT_EQ(ws.log().size(), 0u);  // nothing ran
}

TEST(CliBatch, KillNineMidBatchThenARerunCompletesTheSetRunningNoFinishedDocumentAgain) {
  BatchWorkspace ws;
  for (int i = 0; i < 16; ++i) ws.document("k" + std::to_string(i), "SLEEP=100");
  // drover in the background, SIGKILL once 5 lines are on disk.
  const std::string out = ws.out();
  const std::string script =
      "\"$@\" & pid=$!; while [ \"$(cat '" + out + "' 2>/dev/null | wc -l)\" -lt 5 ]; do "
      "sleep 0.02; done; kill -9 $pid; wait $pid; echo \"killed=$?\"";
  CliRun killed = batch(ws, {"--prompt", "extract {document.name}", "--concurrency", "2", "docs"},
                        script);
  EXPECT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  // Every complete line parses; the documents finished before the kill.
  auto finished = ws.records();
  ASSERT_GE(finished.size(), 5u);
  ASSERT_LT(finished.size(), 16u);
  // The agents the kill orphaned may still be running: their documents have no line and run
  // again, which is allowed (they had not finished).
  CliRun rerun = batch(ws, {"--prompt", "extract {document.name}", "--concurrency", "2", "docs"});
  EXPECT_EQ(rerun.exit_code, 0) << rerun.err;
  auto all = ws.records();
  EXPECT_EQ(all.size(), 16u);
  for (const auto& [id, record] : finished) {
    const std::string name = std::filesystem::path(id).stem().string();
    EXPECT_EQ(ws.starts(name), 1) << name << " finished before the kill and ran again";
  }
  for (const auto& [id, record] : all) EXPECT_TRUE(record["error"].is_null()) << record.dump();
}

TEST(CliBatch, ASecondDroverOnTheSameOutputIsRefusedAndCtrlCExits130) {
  BatchWorkspace ws;
  ws.document("quick");
  ws.document("stuck", "HANG");
  const std::string log = ws.log_path;
  // The first drover runs until the stuck document has started; a second one on the same
  // --out is refused meanwhile; then SIGINT stops the first.
  const std::string script =
      "\"$@\" & first=$!; while ! grep -q 'start .* stuck$' '" + log + "' 2>/dev/null || "
      "[ \"$(cat '" + ws.out() + "' 2>/dev/null | wc -l)\" -lt 1 ]; do "
      "sleep 0.02; done; \"$@\" --quiet 2>second.err; echo \"second=$?\"; kill -INT $first; "
      "wait $first; echo \"first=$?\"";
  CliRun run = batch(ws, {"--prompt", "extract {document.name}", "docs"}, script);
  EXPECT_NE(run.out.find("second=2"), std::string::npos) << run.out << run.err;
  EXPECT_NE(run.out.find("first=130"), std::string::npos) << run.out << run.err;
  const std::string second_err = read_file(ws.dir.path() + "/second.err");
  EXPECT_NE(second_err.find("another drover batch"), std::string::npos) << second_err;
  auto records = ws.records();
  EXPECT_TRUE(records.count("docs/quick.txt"));
  EXPECT_FALSE(records.count("docs/stuck.txt"));  // cancelled: no line, runs again next time
  EXPECT_EQ(ws.starts("quick"), 1);  // the refused drover ran nothing
  EXPECT_EQ(ws.starts("stuck"), 1);
}

TEST(CliBatch, JsonSchemaAndInlineDelivery) {
  BatchWorkspace ws;
  ws.document("valid");
  ws.document("second-try", "JSON-INVALID-FIRST");
  ws.document("never", "JSON-NEVER");
  ws.dir.write("docs/binary.dat", std::string("ID=binary\n\0\x01\xff", 13));
  ws.dir.write("schema.json", R"({"type": "object", "required": ["id"]})");
  CliRun run = batch(ws, {"--prompt", "{document.text}", "--deliver", "inline", "--json-schema",
                          "schema.json", "--quiet", "docs"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  auto records = ws.records();
  EXPECT_EQ(records["docs/valid.txt"]["json"]["id"], "valid");
  EXPECT_EQ(records["docs/second-try.txt"]["json"]["id"], "second-try");
  EXPECT_EQ(records["docs/second-try.txt"]["attempts"], 2);
  EXPECT_EQ(records["docs/never.txt"]["error"]["code"], "validation_error");
  EXPECT_EQ(records["docs/binary.dat"]["error"]["code"], "validation_error");
  EXPECT_EQ(ws.starts("binary"), 0);
}

TEST(CliBatch, ReportAndMergeOfShards) {
  BatchWorkspace ws;
  for (int i = 0; i < 6; ++i) ws.document("s" + std::to_string(i));
  std::vector<std::string> shard_files;
  for (int shard = 0; shard < 2; ++shard) {
    const std::string file = ws.dir.path() + "/shard" + std::to_string(shard) + ".jsonl";
    CliOptions options;
    options.cwd = ws.dir.path();
    CliRun run = run_drover({"batch", "--config", ws.config_path, "--route", "t", "--out", file,
                             "--prompt", "x {document.name}", "--shard",
                             std::to_string(shard) + "/2", "--quiet", "docs"},
                            options);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    shard_files.push_back(file);
  }
  const std::string merged = ws.dir.path() + "/merged.jsonl";
  CliOptions in_workspace;
  in_workspace.cwd = ws.dir.path();
  CliRun merge = run_drover(
      {"batch", "merge", merged, shard_files[0], shard_files[1], "--input", "docs"}, in_workspace);
  EXPECT_EQ(merge.exit_code, 0) << merge.err;
  CliRun report = run_drover({"batch", "report", merged, "--html", ws.dir.path() + "/r.html"});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("6 documents"), std::string::npos) << report.out;
  EXPECT_NE(read_file(ws.dir.path() + "/r.html").find("<html"), std::string::npos);
  // One shard alone misses documents: merge says which, exit 1.
  CliRun partial = run_drover(
      {"batch", "merge", ws.dir.path() + "/partial.jsonl", shard_files[0], "--input", "docs"},
      in_workspace);
  EXPECT_EQ(partial.exit_code, 1) << partial.err;
  EXPECT_NE(partial.err.find("missing"), std::string::npos) << partial.err;
}

}  // namespace
}  // namespace drover::test
