// Batches: one prompt template over many documents, a JSONL line per document, resumable
// (README "Batches"). `drover batch` is a thin front end to this.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/client.h"
#include "drover/result.h"

namespace drover {

/// One document of a batch: a file (path) or a manifest line's text.
struct BatchDocument {
  std::string id;      ///< stable identity: the path as given (or found under a directory), or the manifest id
  std::string input;   ///< what the output's `input` says: the path as given, or the manifest id
  std::optional<std::string> path;  ///< a file to read (attach delivery stages it)
  std::optional<std::string> text;  ///< a manifest line's text
  nlohmann::json vars = nlohmann::json::object();  ///< manifest `vars`: strings, numbers, booleans
};

/// How a document reaches the harness: staged as an attachment, or its text put into the prompt
/// (`{document.text}`).
enum class BatchDelivery { attach, inline_text };

/// A shard of a batch: documents whose stable id hash modulo `count` is `index`.
struct BatchShard {
  int64_t index = 0;
  int64_t count = 1;
};

/// One line of a batch's output file (pinned: scripts read these fields).
struct BatchRecord {
  std::string id;
  std::string input;
  std::string route;
  std::string model;
  std::string text;
  std::optional<nlohmann::json> json;  ///< with a schema: the validated answer
  std::optional<Usage> usage;
  std::optional<Error> error;          ///< nullopt: the document succeeded
  int64_t attempts = 0;                ///< tries this document took in the run that wrote the line
  double duration_ms = 0;
  std::string key;                     ///< hash of template, content, route, model, schema
};
nlohmann::json to_json(const BatchRecord& record);
/// The record as one output line, newline included: the JSON of to_json(), fields in the order
/// above (id first), ill-formed UTF-8 replaced.
std::string batch_record_line(const BatchRecord& record);
/// Parses one output line's JSON; nullopt (with `error` set) when it is not a record.
std::optional<BatchRecord> batch_record_from_json(const nlohmann::json& j, std::string& error);

/// Progress while a batch runs (on the thread that runs it).
struct BatchProgress {
  int64_t total = 0;      ///< documents of this run (this shard), skipped ones included
  int64_t skipped = 0;    ///< done by an earlier run
  int64_t skipped_failed = 0;  ///< of those, the ones whose last line is a failure (no --redo-failed)
  int64_t succeeded = 0;  ///< this run
  int64_t failed = 0;     ///< this run
  int64_t running = 0;
  double elapsed_ms = 0;
  Usage usage;            ///< this run's, summed
};

struct BatchOptions {
  std::string route;                 ///< full or partial route id; empty: the default route
  std::string prompt_template;       ///< {document.name} {document.path} {document.text} {vars.KEY}
  std::string out_path;              ///< the JSONL output (appended; locked while the batch runs)
  std::vector<BatchDocument> documents;  ///< collect_batch_documents() gives these
  int64_t concurrency = 4;           ///< documents in flight (and warm agents of an ACP route)
  std::optional<double> requests_per_second;
  std::optional<int64_t> max_calls;
  int64_t retries = 2;               ///< more tries for a retryable failure (jittered backoff)
  std::optional<int64_t> timeout_ms; ///< per document try; unset: the route's
  BatchDelivery delivery = BatchDelivery::attach;
  /// The schema answers must validate against (--json-schema), and its text as read (in the key).
  /// With only the text set, the schema is parsed from it (bounded depth; an error names it).
  std::optional<nlohmann::json> json_schema;
  std::string json_schema_text;
  std::optional<BatchShard> shard;   ///< nullopt: every document
  bool redo_failed = false;          ///< documents whose last line is a failure run again
  /// Called on the running thread: after each document, and at least every second meanwhile.
  std::function<void(const BatchProgress&)> on_progress;
};

/// How a batch ended.
struct BatchOutcome {
  BatchProgress progress;
  bool interrupted = false;  ///< cancel() (Ctrl-C): what finished is on disk
  std::optional<Error> error;  ///< the batch could not run at all (bad options, locked output)
  /// 0 every document succeeded, 1 some failed (in this run, or skipped with a failed last
  /// line), 130 interrupted, else exit_code_for(error).
  int exit_code() const noexcept;
};

/// Files, directories (recursed, sorted), globs and a manifest (JSONL of {id, path|text, vars})
/// to documents, in order, duplicates (same id) once. An error names the input and what is wrong.
std::vector<BatchDocument> collect_batch_documents(const std::vector<std::string>& inputs,
                                                   const std::optional<std::string>& manifest,
                                                   std::optional<Error>& error);

/// The shard of an array job's environment: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, or
/// JOB_COMPLETION_INDEX with `shards` (Kubernetes Indexed Jobs). nullopt when neither is set.
std::optional<BatchShard> shard_from_environment(std::optional<int64_t> shards,
                                                 std::optional<Error>& error);

/// "I/N" (0 <= I < N) to a shard (`--shard`); nullopt with `error` (validation_error naming the
/// value).
std::optional<BatchShard> parse_batch_shard(std::string_view text, std::optional<Error>& error);

/// The live progress line: "120/1000 done · 3 failed · 8 running · 4.1 docs/s · ETA 3m34s · …".
std::string format_batch_progress(const BatchProgress& progress);

/// Runs a batch on `client` (whose fan-out limits and warm agents it sets for the run). Blocks
/// until every document has a line or cancel() was called. Use from the Client's thread.
class Batch {
 public:
  Batch(Client& client, BatchOptions options);
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  BatchOutcome run();
  /// Stops the batch: runs in flight are cancelled (their documents get no line and run again
  /// next time), nothing new starts. Callable from handlers and signal watchers on the loop.
  void cancel();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The summary of an output file (or of the records of a run).
struct BatchSummary {
  int64_t documents = 0;  ///< distinct ids, last line of each counts
  int64_t succeeded = 0;
  int64_t failed = 0;
  double wall_ms = 0;     ///< of the run, when known (0 for a file)
  Usage usage;
  /// The most common error codes with a sample message, most common first.
  struct ErrorCount {
    std::string code;
    int64_t count = 0;
    std::string sample;
  };
  std::vector<ErrorCount> top_errors;
};
BatchSummary summarize_batch(const std::vector<BatchRecord>& records);
/// The records of an output file, in order; a torn last line is ignored. `error` when the file
/// cannot be read or a complete line is not a record (naming the line).
std::vector<BatchRecord> read_batch_output(const std::string& path, std::optional<Error>& error);
/// A few lines for a terminal: counts, wall time, tokens, cost, the five most common errors.
std::string format_batch_summary(const BatchSummary& summary);
/// A self-contained HTML page (no network fetches) for `drover batch report --html`.
std::string render_batch_report_html(const std::vector<BatchRecord>& records,
                                     const std::string& title);

/// `drover batch merge`: the shard outputs' records combined into `out` (last line per id wins
/// within a shard), with the ids found in more than one shard and, when `expected` is given,
/// the expected ids found in none.
struct BatchMergeReport {
  int64_t records = 0;
  std::vector<std::string> duplicates;
  std::vector<std::string> missing;
  std::optional<Error> error;
};
BatchMergeReport merge_batch_outputs(const std::string& out, const std::vector<std::string>& shards,
                                     const std::vector<BatchDocument>* expected = nullptr);

}  // namespace drover
