// `drover batch`, `drover batch report`, `drover batch merge`: a thin front end to drover/batch.h.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "drover/batch.h"
#include "drover/client.h"
#include "drover/config.h"

namespace drover_cli {

using LoadConfig = std::optional<drover::Config> (*)(const std::string& config_path, int& exit_code);
using TimeoutFlag = std::optional<int64_t> (*)(const std::string& text, std::string& problem);

struct BatchCommand {
  CLI::App* command = nullptr;
  CLI::App* report = nullptr;
  CLI::App* merge = nullptr;

  std::string config, route, prompt, prompt_file, out, deliver = "attach", json_schema, shard,
      manifest;
  std::optional<int64_t> concurrency, max_calls, retries, shards;
  std::optional<double> rps;
  std::optional<std::string> timeout;
  bool redo_failed = false, quiet = false;
  std::vector<std::string> inputs;

  std::string report_file, report_html;
  std::vector<std::string> merge_files;
  std::string merge_manifest;
  std::vector<std::string> merge_inputs;
};

namespace {

constexpr int kExitUsage = 2;
/// The largest prompt or schema file read.
constexpr uint64_t kMaxFlagFileBytes = 1 << 20;
constexpr auto kPlainStatusEvery = std::chrono::seconds(5);
constexpr auto kLiveLineEvery = std::chrono::milliseconds(100);

int usage(const std::string& message) {
  std::fprintf(stderr, "drover: batch: %s\n", message.c_str());
  return kExitUsage;
}

int failure(const drover::Error& error) {
  std::fprintf(stderr, "drover: batch: %s: %s\n", std::string(to_string(error.code)).c_str(),
               error.message.c_str());
  return drover::exit_code_for(error.code);
}

// A flag's file, at most kMaxFlagFileBytes; nullopt with `problem` naming the flag and file.
std::optional<std::string> read_flag_file(const std::string& flag, const std::string& path,
                                          std::string& problem) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    problem = flag + ": " + path + " is not a readable regular file";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::string data(kMaxFlagFileBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) {
    problem = flag + ": cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > kMaxFlagFileBytes) {
    problem = flag + ": " + path + " is bigger than " + std::to_string(kMaxFlagFileBytes) + " bytes";
    return std::nullopt;
  }
  return data;
}

// What a running batch shows on stderr: a live line on a terminal (redrawn at most every 100 ms),
// a plain status line every 5 s elsewhere.
class ProgressView {
 public:
  explicit ProgressView(bool quiet) : quiet_(quiet), live_(::isatty(STDERR_FILENO) == 1) {}
  void update(const drover::BatchProgress& progress) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const std::chrono::steady_clock::duration every =
        live_ ? std::chrono::steady_clock::duration(kLiveLineEvery)
              : std::chrono::steady_clock::duration(kPlainStatusEvery);
    if (now - last_ < every) return;
    last_ = now;
    const std::string line = drover::format_batch_progress(progress);
    if (live_) {
      std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
      drawn_ = true;
    } else {
      std::fprintf(stderr, "drover: batch: %s\n", line.c_str());
    }
    std::fflush(stderr);
  }
  /// Ends the live line before anything else is written.
  void close() {
    if (drawn_) std::fprintf(stderr, "\r\x1b[K");
    drawn_ = false;
  }

 private:
  bool quiet_;
  bool live_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

int run_batch(BatchCommand& c, LoadConfig load, TimeoutFlag timeout_flag) {
  if (c.route.empty()) return usage("--route R is required (the route every document goes through)");
  if (c.prompt.empty() == c.prompt_file.empty())
    return usage("give the prompt template as exactly one of --prompt TEXT or --prompt-file F");
  if (c.out.empty()) return usage("--out results.jsonl is required");
  if (c.inputs.empty() && c.manifest.empty())
    return usage("no documents: give INPUTS (files, directories, globs) or --manifest F.jsonl");
  if (c.concurrency && *c.concurrency < 1)
    return usage("--concurrency: must be at least 1, not " + std::to_string(*c.concurrency));
  if (c.rps && !(*c.rps > 0)) return usage("--rps: must be a number of requests per second > 0");
  if (c.max_calls && *c.max_calls < 1)
    return usage("--max-calls: must be at least 1, not " + std::to_string(*c.max_calls));
  if (c.retries && *c.retries < 0)
    return usage("--retries: must be 0 or more, not " + std::to_string(*c.retries));
  if (c.shards && *c.shards < 1)
    return usage("--shards: must be at least 1, not " + std::to_string(*c.shards));

  drover::BatchOptions options;
  options.route = c.route;
  options.out_path = c.out;
  options.concurrency = c.concurrency.value_or(options.concurrency);
  options.retries = c.retries.value_or(options.retries);
  options.requests_per_second = c.rps;
  options.max_calls = c.max_calls;
  options.redo_failed = c.redo_failed;
  options.delivery = c.deliver == "inline" ? drover::BatchDelivery::inline_text
                                           : drover::BatchDelivery::attach;
  if (c.timeout) {
    std::string problem;
    options.timeout_ms = timeout_flag(*c.timeout, problem);
    if (!options.timeout_ms) return usage("--timeout: " + problem);
  }
  std::string problem;
  if (!c.prompt_file.empty()) {
    auto text = read_flag_file("--prompt-file", c.prompt_file, problem);
    if (!text) return usage(problem);
    options.prompt_template = std::move(*text);
  } else {
    options.prompt_template = c.prompt;
  }
  if (options.prompt_template.find_first_not_of(" \t\r\n") == std::string::npos)
    return usage(c.prompt_file.empty() ? "--prompt: the prompt is empty"
                                       : "--prompt-file: " + c.prompt_file + " is empty");
  if (!c.json_schema.empty()) {
    auto text = read_flag_file("--json-schema", c.json_schema, problem);
    if (!text) return usage(problem);
    options.json_schema_text = std::move(*text);
  }
  std::optional<drover::Error> error;
  if (!c.shard.empty()) {
    options.shard = drover::parse_batch_shard(c.shard, error);
    if (!options.shard) return usage("--shard: " + (error ? error->message : c.shard));
  } else {
    options.shard = drover::shard_from_environment(c.shards, error);
    if (error) return failure(*error);
  }
  options.documents = drover::collect_batch_documents(
      c.inputs, c.manifest.empty() ? std::nullopt : std::optional<std::string>(c.manifest), error);
  if (error) return failure(*error);

  int exit_code = 0;
  auto config = load(c.config, exit_code);
  if (!config) return exit_code;
  drover::Client client(std::move(*config));
  ProgressView view(c.quiet);
  options.on_progress = [&view](const drover::BatchProgress& p) { view.update(p); };
  drover::Batch batch(client, std::move(options));
  int interrupted_by = 0;
  client.watch_termination_signals([&](int signum) {
    if (interrupted_by == 0) {
      interrupted_by = signum;
      batch.cancel();
    } else {
      client.kill_all();  // a second signal: no more grace
    }
  });
  const drover::BatchOutcome outcome = batch.run();
  view.close();
  if (outcome.error) return failure(*outcome.error);
  if (!c.quiet) {
    std::optional<drover::Error> read_error;
    auto records = drover::read_batch_output(c.out, read_error);
    drover::BatchSummary summary = drover::summarize_batch(records);
    summary.wall_ms = outcome.progress.elapsed_ms;
    std::fprintf(stderr, "%s", drover::format_batch_summary(summary).c_str());
    const auto& p = outcome.progress;
    std::string skipped_failed;
    if (p.skipped_failed > 0)
      skipped_failed = " (" + std::to_string(p.skipped_failed) +
                       " of them failed: --redo-failed runs them again)";
    std::fprintf(stderr, "drover: batch: this run: %lld succeeded, %lld failed, %lld done before%s%s\n",
                 static_cast<long long>(p.succeeded), static_cast<long long>(p.failed),
                 static_cast<long long>(p.skipped), skipped_failed.c_str(),
                 outcome.interrupted ? "; interrupted (run it again to finish)" : "");
    if (read_error) std::fprintf(stderr, "drover: batch: %s\n", read_error->message.c_str());
  }
  return outcome.exit_code();
}

int run_report(const BatchCommand& c) {
  std::optional<drover::Error> error;
  auto records = drover::read_batch_output(c.report_file, error);
  if (error) return failure(*error);
  std::fprintf(stdout, "%s", drover::format_batch_summary(drover::summarize_batch(records)).c_str());
  if (std::fflush(stdout) != 0) return 1;
  if (!c.report_html.empty()) {
    const std::string html = drover::render_batch_report_html(
        records, std::filesystem::path(c.report_file).filename().string());
    std::ofstream out(c.report_html, std::ios::binary | std::ios::trunc);
    out << html;
    out.close();
    if (!out) {
      std::fprintf(stderr, "drover: batch report: cannot write %s\n", c.report_html.c_str());
      return 1;
    }
  }
  return 0;
}

int run_merge(const BatchCommand& c) {
  if (c.merge_files.size() < 2) return usage("merge: give OUT and at least one shard output");
  const std::string& out = c.merge_files.front();
  const std::vector<std::string> shards(c.merge_files.begin() + 1, c.merge_files.end());
  std::optional<std::vector<drover::BatchDocument>> expected;
  if (!c.merge_manifest.empty() || !c.merge_inputs.empty()) {
    std::optional<drover::Error> error;
    expected = drover::collect_batch_documents(
        c.merge_inputs,
        c.merge_manifest.empty() ? std::nullopt : std::optional<std::string>(c.merge_manifest),
        error);
    if (error) return failure(*error);
  }
  drover::BatchMergeReport report =
      drover::merge_batch_outputs(out, shards, expected ? &*expected : nullptr);
  if (report.error) return failure(*report.error);
  for (const auto& id : report.duplicates)
    std::fprintf(stderr, "drover: batch merge: %s is in more than one shard\n", id.c_str());
  for (const auto& id : report.missing)
    std::fprintf(stderr, "drover: batch merge: %s is missing from every shard\n", id.c_str());
  std::fprintf(stderr, "drover: batch merge: %lld records into %s (%zu duplicate, %zu missing)\n",
               static_cast<long long>(report.records), out.c_str(), report.duplicates.size(),
               report.missing.size());
  return report.missing.empty() ? 0 : 1;
}

}  // namespace

BatchCommand* add_batch_command(CLI::App& app) {
  static BatchCommand c;
  c.command = app.add_subcommand(
      "batch", "Run one prompt template over many documents into a resumable JSONL");
  CLI::App* b = c.command;
  b->add_option("--config,-c", c.config, "Config file");
  b->add_option("--route,-r", c.route, "Route id (full or a prefix) every document goes through");
  b->add_option("--prompt", c.prompt,
                "The prompt template: {document.name} {document.path} {document.text} {vars.KEY}");
  b->add_option("--prompt-file", c.prompt_file, "Read the prompt template from this file");
  b->add_option("--out", c.out, "The JSONL output (appended; re-running resumes)");
  b->add_option("--concurrency", c.concurrency, "Documents in flight (default 4)");
  b->add_option("--rps", c.rps, "Requests per second at most");
  b->add_option("--max-calls", c.max_calls, "Model calls at most, for the whole batch");
  b->add_option("--retries", c.retries, "More tries for a retryable failure (default 2)");
  b->add_option("--timeout", c.timeout, "Seconds per try of a document, or none");
  b->add_option("--deliver", c.deliver, "attach (default: the document as a file) or inline")
      ->check(CLI::IsMember({"attach", "inline"}));
  b->add_option("--json-schema", c.json_schema, "Answers must be JSON valid against this schema");
  b->add_option("--shard", c.shard, "Only the documents of shard I of N (I/N)");
  b->add_option("--shards", c.shards, "Shard count with JOB_COMPLETION_INDEX (Kubernetes)");
  b->add_option("--manifest", c.manifest, "JSONL of {id, path|text, vars} documents");
  b->add_flag("--redo-failed", c.redo_failed, "Run documents whose last line is a failure again");
  b->add_flag("--quiet,-q", c.quiet, "No progress and no summary on stderr");
  b->add_option("inputs", c.inputs, "Files, directories (recursed) and globs");

  c.report = b->add_subcommand("report", "Summarize an output file (and write an HTML report)");
  c.report->add_option("file", c.report_file, "The batch output (JSONL)")->required();
  c.report->add_option("--html", c.report_html, "Write a self-contained HTML report here");

  c.merge = b->add_subcommand("merge", "Combine shard outputs into one file");
  c.merge->add_option("files", c.merge_files, "OUT, then the shard outputs")->required();
  c.merge->add_option("--manifest", c.merge_manifest,
                      "The batch's manifest: report the ids missing from every shard");
  c.merge->add_option("--input", c.merge_inputs,
                      "An input of the batch (repeatable): report the ids missing from every shard")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return &c;
}

bool batch_command_parsed(const BatchCommand& c) { return c.command->parsed(); }

int run_batch_command(BatchCommand& c, LoadConfig load, TimeoutFlag timeout_flag) {
  if (c.report->parsed()) return run_report(c);
  if (c.merge->parsed()) return run_merge(c);
  return run_batch(c, load, timeout_flag);
}

}  // namespace drover_cli
