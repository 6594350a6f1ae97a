// A batch's summary, HTML report, progress line and the merge of shard outputs.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "drover/batch.h"
#include "src/batch/output.h"
#include "src/batch/progress.h"
#include "support/drover_cli.h"

namespace drover {
namespace {

using test::ScratchDir;

BatchRecord rec(const std::string& id, double ms, std::optional<ErrorCode> code = std::nullopt,
                const std::string& message = "failed") {
  BatchRecord r;
  r.id = id;
  r.input = id;
  r.route = "fake/cli";
  r.model = "m1";
  r.duration_ms = ms;
  r.attempts = 1;
  r.key = "k";
  if (code) {
    r.error = Error::make(*code, message);
  } else {
    r.text = "ok";
    Usage u;
    u.input_tokens = 1000;
    u.output_tokens = 200;
    u.cost_usd = 0.01;
    u.calls = 1;
    r.usage = u;
  }
  return r;
}

std::string section(const std::string& html, const std::string& heading) {
  const auto start = html.find("<h2>" + heading);
  if (start == std::string::npos) return {};
  const auto end = html.find("<h2>", start + 4);
  return html.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(BatchSummary, LastLinePerIdCounts) {
  const std::vector<BatchRecord> records = {
      rec("a", 10, ErrorCode::timeout, "no answer in 30 s"), rec("b", 20),
      rec("c", 30, ErrorCode::rate_limit, "slow down"), rec("a", 40),
      rec("d", 50, ErrorCode::rate_limit, "slow down again"), rec("e", 60, ErrorCode::timeout)};
  const BatchSummary s = summarize_batch(records);
  EXPECT_EQ(s.documents, 5);
  EXPECT_EQ(s.succeeded, 2);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.usage.input_tokens.value_or(0), 2000);
  EXPECT_DOUBLE_EQ(s.usage.cost_usd.value_or(0), 0.02);
  ASSERT_EQ(s.top_errors.size(), 2u);
  EXPECT_EQ(s.top_errors[0].code, "rate_limit");
  EXPECT_EQ(s.top_errors[0].count, 2);
  EXPECT_EQ(s.top_errors[0].sample, "slow down");
  EXPECT_EQ(s.top_errors[1].code, "timeout");
  EXPECT_EQ(s.top_errors[1].count, 1);
}

TEST(BatchSummary, FormatsCountsTokensCostAndErrorsWithoutEscapes) {
  std::vector<BatchRecord> records = {rec("a", 10), rec("b", 20),
                                      rec("c", 30, ErrorCode::harness_error, "bad\x1b[2J\x1b]0;pwned\x07 exit")};
  BatchSummary s = summarize_batch(records);
  s.wall_ms = 214000;
  const std::string text = format_batch_summary(s);
  EXPECT_NE(text.find("3 documents: 2 succeeded, 1 failed"), std::string::npos) << text;
  EXPECT_NE(text.find("wall time 3m34s"), std::string::npos) << text;
  EXPECT_NE(text.find("2.4k tokens (2.0k in, 400 out)"), std::string::npos) << text;
  EXPECT_NE(text.find("$0.02"), std::string::npos) << text;
  EXPECT_NE(text.find("1 \u00d7 harness_error: bad"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
}

TEST(BatchProgressLine, ShowsDoneFailedRunningRateEtaTokensCost) {
  BatchProgress p;
  p.total = 1000;
  p.skipped = 20;
  p.succeeded = 97;
  p.failed = 3;
  p.running = 8;
  p.elapsed_ms = 25000;  // 100 documents of this run in 25 s: 4 docs/s, 880 left: 220 s
  p.usage.total_tokens = 1234567;
  p.usage.cost_usd = 0.42;
  EXPECT_EQ(format_batch_progress(p),
            "120/1000 done \u00b7 3 failed \u00b7 8 running \u00b7 4.0 docs/s \u00b7 ETA 3m40s "
            "\u00b7 1.2M tokens \u00b7 $0.42");
  BatchProgress start;
  start.total = 10;
  EXPECT_EQ(format_batch_progress(start), "0/10 done \u00b7 0 failed \u00b7 0 running");
}

TEST(BatchReportHtml, EscapesHostileRecords) {
  BatchRecord evil = rec("<script>alert(1)</script>", 99, ErrorCode::harness_error,
                         "\"'><img src=x onerror=alert(2)></td></table><script src=https://x.example/a.js></script>");
  evil.route = "r&d<b>";
  evil.model = "m\"onload=\"x";
  const std::string html =
      render_batch_report_html({rec("ok", 10), evil}, "</title><script>alert(3)</script>");
  const std::string l = lower(html);
  EXPECT_EQ(l.find("<script"), std::string::npos);
  EXPECT_EQ(l.find("<img"), std::string::npos);
  EXPECT_EQ(l.find("r&d<b>"), std::string::npos);
  EXPECT_EQ(l.find("http://"), std::string::npos);
  EXPECT_EQ(l.find("onload=\""), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;&#39;&gt;&lt;img src=x"), std::string::npos);
  EXPECT_NE(html.find("r&amp;d&lt;b&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/title&gt;&lt;script&gt;alert(3)"), std::string::npos);
}

TEST(BatchReportHtml, SelfContainedWithEverySection) {
  std::vector<BatchRecord> records;
  for (int i = 0; i < 15; ++i) records.push_back(rec("doc-" + std::to_string(i), 100.0 * (i + 1)));
  records.push_back(rec("bad-1", 5, ErrorCode::timeout, "no answer in 30 s"));
  records.push_back(rec("bad-2", 6, ErrorCode::timeout, "no answer in 31 s"));
  records.push_back(rec("bad-3", 7, ErrorCode::validation_error, "/title: required"));
  BatchRecord api = rec("api-1", 50);
  api.route = "openai/api";
  api.model = "gpt-x";
  records.push_back(api);
  const std::string html = render_batch_report_html(records, "Invoices");
  const std::string l = lower(html);
  // Self-contained: no external resources, no scripts at all.
  for (const char* banned : {"<script", "<link", "@import", "url(", "src=\"http", "href=\"http"})
    EXPECT_EQ(l.find(banned), std::string::npos) << banned;
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);

  EXPECT_NE(section(html, "Status").find(">19</b><span>documents"), std::string::npos);
  EXPECT_NE(section(html, "Status").find(">3</b><span>failed"), std::string::npos);
  const std::string latency = section(html, "Latency");
  EXPECT_NE(latency.find("<svg"), std::string::npos);
  EXPECT_NE(latency.find("<rect"), std::string::npos);
  const std::string routes = section(html, "Cost and tokens per route and model");
  EXPECT_NE(routes.find("openai/api"), std::string::npos);
  EXPECT_NE(routes.find("gpt-x"), std::string::npos);
  EXPECT_NE(routes.find("fake/cli"), std::string::npos);
  const std::string slowest = section(html, "Slowest documents");
  for (int i = 5; i < 15; ++i)
    EXPECT_NE(slowest.find(">doc-" + std::to_string(i) + "<"), std::string::npos) << i;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(slowest.find(">doc-" + std::to_string(i) + "<"), std::string::npos) << i;
  const std::string failures = section(html, "Failures by error code");
  EXPECT_NE(failures.find("timeout</span> 2 documents"), std::string::npos) << failures;
  EXPECT_NE(failures.find("validation_error</span> 1 document"), std::string::npos);
  EXPECT_NE(failures.find("no answer in 31 s"), std::string::npos);
  EXPECT_LT(failures.find("timeout</span>"), failures.find("validation_error</span>"));
}

TEST(BatchReportHtml, RendersTheSampleOutput) {
  // examples/batch-sample.jsonl is the output the README's screenshot shows.
  std::optional<Error> error;
  const auto records =
      read_batch_output(std::string(DROVER_SOURCE_DIR) + "/examples/batch-sample.jsonl", error);
  ASSERT_FALSE(error) << error->message;
  ASSERT_GT(records.size(), 100u);
  const std::string html = render_batch_report_html(records, "invoices: drover batch report");
  EXPECT_NE(html.find("Failures by error code"), std::string::npos);
  if (const char* out = std::getenv("DROVER_BATCH_REPORT_HTML")) std::ofstream(out) << html;
}

void write(const std::string& path, const std::vector<BatchRecord>& records) {
  std::ofstream f(path, std::ios::trunc);
  for (const auto& r : records) f << to_json(r).dump() << "\n";
}

TEST(BatchMerge, LastLineWinsDuplicatesAndMissingReported) {
  ScratchDir dir;
  const std::string a = dir.path() + "/shard-0.jsonl", b = dir.path() + "/shard-1.jsonl";
  write(a, {rec("x", 1, ErrorCode::timeout), rec("y", 2), rec("x", 3)});
  write(b, {rec("z", 4), rec("y", 5, ErrorCode::timeout), rec("w", 6, ErrorCode::timeout)});
  std::ofstream(b, std::ios::app) << "{\"id\":\"torn";  // a shard's torn last line is ignored
  const std::string out = dir.path() + "/merged.jsonl";
  std::ofstream(out) << "old content\n";
  std::vector<BatchDocument> expected;
  for (const char* id : {"w", "x", "y", "z", "v", "u"}) {
    BatchDocument d;
    d.id = id;
    expected.push_back(d);
  }
  const BatchMergeReport report = merge_batch_outputs(out, {a, b}, &expected);
  ASSERT_FALSE(report.error) << report.error->message;
  EXPECT_EQ(report.records, 4);
  EXPECT_EQ(report.duplicates, std::vector<std::string>{"y"});
  EXPECT_EQ(report.missing, (std::vector<std::string>{"v", "u"}));
  std::optional<Error> error;
  const auto merged = read_batch_output(out, error);
  ASSERT_FALSE(error) << error->message;
  ASSERT_EQ(merged.size(), 4u);
  EXPECT_EQ(merged[0].id, "x");
  EXPECT_FALSE(merged[0].error);  // the last line of x in its shard
  EXPECT_EQ(merged[0].duration_ms, 3);
  EXPECT_EQ(merged[1].id, "y");
  EXPECT_FALSE(merged[1].error);  // the first shard's success, not the later failure
  EXPECT_EQ(merged[2].id, "z");
  EXPECT_EQ(merged[3].id, "w");
  // Nothing but the shards and the output is left in the directory.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 3);
}

TEST(BatchMerge, ABadShardWritesNothing) {
  ScratchDir dir;
  const std::string a = dir.path() + "/shard-0.jsonl", bad = dir.path() + "/bad.jsonl";
  write(a, {rec("x", 1)});
  std::ofstream(bad) << "not json\n";
  const std::string out = dir.path() + "/merged.jsonl";
  BatchMergeReport report = merge_batch_outputs(out, {a, bad});
  ASSERT_TRUE(report.error);
  EXPECT_NE(report.error->message.find("bad.jsonl"), std::string::npos) << report.error->message;
  EXPECT_NE(report.error->message.find("line 1"), std::string::npos) << report.error->message;
  EXPECT_FALSE(std::filesystem::exists(out));
  report = merge_batch_outputs(out, {a, dir.path() + "/absent.jsonl"});
  ASSERT_TRUE(report.error);
  EXPECT_NE(report.error->message.find("absent.jsonl"), std::string::npos);
  report = merge_batch_outputs(dir.path() + "/no/such/dir/out.jsonl", {a});
  ASSERT_TRUE(report.error);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

}  // namespace
}  // namespace drover
