// The batch runner: documents in, one output line per document, at most `concurrency` of them
// in flight on the Client, retried with a jittered back-off, resumable from the output file.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>

#include <spdlog/spdlog.h>

#include "drover/batch.h"
#include "parsers/json_limits.h"
#include "parsers/utf8.h"
#include "src/batch/documents.h"
#include "src/batch/output.h"
#include "src/batch/schema.h"

namespace drover {

namespace {

/// The largest document delivered inline (its text goes into the prompt).
constexpr uint64_t kMaxInlineBytes = 1 << 20;
/// The longest back-off before another try, and the first one.
constexpr double kMaxBackoffMs = 30000;
constexpr double kFirstBackoffMs = 1000;
constexpr int64_t kProgressEveryMs = 1000;

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Whether `bytes` can go into a prompt as text: valid UTF-8 without NUL bytes.
bool is_text(std::string_view bytes) {
  if (bytes.find('\0') != std::string_view::npos) return false;
  std::string scratch;
  return parsers::append_valid_utf8(scratch, bytes) == 0;
}

// A manifest text's attachment name: the id's safe characters, ".txt".
std::string attachment_name(const std::string& id) {
  std::string name;
  for (char c : id) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    name += safe ? c : '_';
    if (name.size() >= 96) break;
  }
  if (name.empty() || name.front() == '.') name.insert(0, "document");
  return name + ".txt";
}

// The most a document may be read for its key: what its delivery can send at most.
uint64_t read_limit(const Route& route, BatchDelivery delivery) {
  if (delivery == BatchDelivery::inline_text) return kMaxInlineBytes;
  const FileInputSpec* input = file_input_of(route.account_spec->transport);
  if (input && input->max_file_bytes) return *input->max_file_bytes;
  return route.staging.max_file_bytes;
}

}  // namespace

struct Batch::Impl {
  Impl(Client& c, BatchOptions o) : client(c), options(std::move(o)) {}

  // One document this run will try (not done by an earlier run).
  struct Pending {
    size_t document = 0;  ///< index into options.documents
    std::string key;
  };
  // One document in flight: a run on the Client or a back-off before the next try.
  struct Active {
    uint64_t id = 0;
    Pending pending;
    RunRequest request;
    int64_t attempts = 0;        ///< tries submitted
    int64_t retryable_tries = 0; ///< retries taken for retryable errors
    bool schema_retry_used = false;
    std::optional<Usage> usage;  ///< over all its tries
    Clock::time_point started = Clock::now();
    RunHandle handle;
    std::optional<uint64_t> backoff_timer;
  };

  BatchOutcome run();
  void cancel();

  bool prepare(BatchOutcome& outcome);
  void fill();
  /// Starts `pending` (true), or writes its line at once when it cannot run (false).
  bool start(Pending pending);
  void submit(const std::shared_ptr<Active>& active);
  void on_result(const std::shared_ptr<Active>& active, Result result);
  void finish(const std::shared_ptr<Active>& active, BatchRecord record);
  /// A line for a document that never ran (unreadable, not text for inline delivery).
  void finish_unstarted(const Pending& pending, Error error);
  void write(BatchRecord record);
  double backoff_ms(int64_t retry, const Error& error);
  /// The document's output key, from `content` or (nullopt) from reading it.
  std::string key_of(const BatchDocument& document, const std::optional<std::string>& content) const;
  void report_progress();
  void tick();
  bool work_left() const { return next < queue.size() || !active.empty(); }

  Client& client;
  BatchOptions options;
  Route route;
  bool api_route = false;
  std::unique_ptr<JsonSchemaValidator> validator;
  std::unique_ptr<BatchOutput> output;
  std::vector<Pending> queue;
  size_t next = 0;
  std::map<uint64_t, std::shared_ptr<Active>> active;
  uint64_t next_active = 1;
  BatchProgress progress;
  Clock::time_point started = Clock::now();
  std::optional<uint64_t> tick_timer;
  std::optional<Error> fatal;  ///< the output could not be written: the batch stops
  bool cancelled = false;
  bool filling = false;
  bool running_batch = false;
  std::mt19937_64 random{std::random_device{}()};
};

bool Batch::Impl::prepare(BatchOutcome& outcome) {
  auto refuse = [&](ErrorCode code, std::string message) {
    outcome.error = Error::make(code, std::move(message));
    return false;
  };
  if (options.concurrency < 1)
    return refuse(ErrorCode::validation_error,
                  "concurrency must be at least 1, not " + std::to_string(options.concurrency));
  if (options.retries < 0)
    return refuse(ErrorCode::validation_error,
                  "retries must be 0 or more, not " + std::to_string(options.retries));
  if (options.requests_per_second && !(*options.requests_per_second > 0))
    return refuse(ErrorCode::validation_error, "requests per second must be more than 0");
  if (options.max_calls && *options.max_calls < 1)
    return refuse(ErrorCode::validation_error,
                  "max calls must be at least 1, not " + std::to_string(*options.max_calls));
  if (options.timeout_ms && *options.timeout_ms < 0)
    return refuse(ErrorCode::validation_error, "the timeout must not be negative");
  if (options.prompt_template.find_first_not_of(" \t\r\n") == std::string::npos)
    return refuse(ErrorCode::validation_error, "the prompt template is empty");
  if (options.out_path.empty())
    return refuse(ErrorCode::validation_error, "no output file (--out) given");
  if (options.shard && (options.shard->count < 1 || options.shard->index < 0 ||
                        options.shard->index >= options.shard->count))
    return refuse(ErrorCode::validation_error,
                  "shard " + std::to_string(options.shard->index) + "/" +
                      std::to_string(options.shard->count) + " is not one of 0/N … (N-1)/N");
  if (options.delivery == BatchDelivery::attach && template_uses_text(options.prompt_template))
    return refuse(ErrorCode::validation_error,
                  "the prompt uses {document.text}, which needs inline delivery (--deliver "
                  "inline); attach delivery stages the document as a file instead");
  auto [resolved, route_error] = client.config().resolve(options.route);
  if (!resolved)
    return refuse(route_error ? route_error->code : ErrorCode::config_error,
                  route_error ? route_error->message : "no route '" + options.route + "'");
  route = *resolved;
  api_route = route.account_spec->transport.kind == TransportKind::api;
  if (!options.json_schema && !options.json_schema_text.empty()) {
    parsers::JsonLimit limit = parsers::JsonLimit::none;
    nlohmann::json parsed = parsers::parse_untrusted(options.json_schema_text, &limit);
    if (parsed.is_discarded())
      return refuse(ErrorCode::validation_error,
                    limit == parsers::JsonLimit::too_deep
                        ? "the JSON schema is " + parsers::json_depth_problem()
                        : std::string("the JSON schema is not JSON"));
    options.json_schema = std::move(parsed);
  }
  if (options.json_schema) {
    std::string problem;
    validator = JsonSchemaValidator::compile(*options.json_schema, problem);
    if (!validator) return refuse(ErrorCode::validation_error, "the JSON schema: " + problem);
  }
  std::optional<Error> open_error;
  output = BatchOutput::open(options.out_path, open_error);
  if (!output) {
    outcome.error = open_error ? *open_error
                               : Error::make(ErrorCode::config_error,
                                             "cannot open " + options.out_path);
    return false;
  }

  // A document with a line from before gets its key now, to skip it when it is done; the others
  // get theirs when they start (reading every document up front would delay the first run).
  const auto& previous = output->previous();
  for (size_t i = 0; i < options.documents.size(); ++i) {
    const BatchDocument& document = options.documents[i];
    if (options.shard && batch_shard_of(document.id, options.shard->count) != options.shard->index)
      continue;
    ++progress.total;
    Pending pending{i, ""};
    auto done = previous.find(document.id);
    if (done == previous.end()) {
      queue.push_back(std::move(pending));
      continue;
    }
    pending.key = key_of(document, std::nullopt);
    if (done->second.key == pending.key && (!done->second.error || !options.redo_failed)) {
      ++progress.skipped;
      if (done->second.error) ++progress.skipped_failed;
      continue;
    }
    queue.push_back(std::move(pending));
  }
  return true;
}

BatchOutcome Batch::Impl::run() {
  BatchOutcome outcome;
  started = Clock::now();
  if (running_batch) {
    outcome.error = Error::make(ErrorCode::validation_error, "this batch is running already");
    return outcome;
  }
  running_batch = true;
  if (!cancelled && prepare(outcome)) {
    // The flags' limits over the config's (field by field); concurrency is the runner's own.
    if (options.requests_per_second || options.max_calls) {
      FanoutLimits limits;
      limits.requests_per_second = options.requests_per_second;
      limits.max_calls = options.max_calls;
      client.set_fanout(limits);
    }
    const bool warm = route.account_spec->transport.kind == TransportKind::acp;
    if (warm) client.keep_agents_warm(static_cast<size_t>(options.concurrency));
    fill();
    if (work_left()) tick_timer = client.post_after(kProgressEveryMs, [this] { tick(); });
    client.wait();
    if (warm) client.keep_agents_warm(0);  // the agents go with the batch
  }
  // Whatever is still recorded as in flight was cancelled: no line.
  active.clear();
  progress.running = 0;
  progress.elapsed_ms = ms_since(started);
  outcome.progress = progress;
  // Every line on disk before the batch reports how it ended.
  if (std::optional<Error> sync_error; output && !fatal && !output->flush(sync_error))
    fatal = sync_error;
  if (fatal) outcome.error = fatal;
  outcome.interrupted = cancelled && !fatal && !outcome.error;
  output.reset();  // the lock goes with it
  running_batch = false;
  return outcome;
}

void Batch::Impl::cancel() {
  if (cancelled) return;
  cancelled = true;
  if (tick_timer) client.cancel_timer(*tick_timer);
  tick_timer.reset();
  // Copies: cancelling may complete nothing synchronously, but keep the walk independent.
  auto in_flight = active;
  for (auto& [id, a] : in_flight) {
    if (a->backoff_timer) {
      client.cancel_timer(*a->backoff_timer);
      active.erase(id);
    } else if (a->handle) {
      a->handle.cancel();
    }
  }
  progress.running = static_cast<int64_t>(active.size());
}

void Batch::Impl::fill() {
  if (filling) return;
  filling = true;
  while (!cancelled && !fatal && next < queue.size() &&
         static_cast<int64_t>(active.size()) < options.concurrency) {
    start(std::move(queue[next]));
    queue[next] = Pending{};  // its key moved out: nothing of a started document stays queued
    ++next;
  }
  filling = false;
  progress.running = static_cast<int64_t>(active.size());
  if (!work_left() && tick_timer) {
    client.cancel_timer(*tick_timer);
    tick_timer.reset();
  }
}

std::string Batch::Impl::key_of(const BatchDocument& document,
                                const std::optional<std::string>& content) const {
  std::optional<std::string> read;
  if (!content) {
    std::optional<Error> read_error;
    read = read_batch_document(document, read_limit(route, options.delivery), read_error);
  }
  return batch_document_key(options.prompt_template, content ? *content : read.value_or(""),
                            document.vars, route.id, route.model, options.json_schema_text);
}

bool Batch::Impl::start(Pending pending) {
  const BatchDocument& document = options.documents[pending.document];
  std::optional<std::string> text;
  if (options.delivery == BatchDelivery::inline_text) {
    std::optional<Error> read_error;
    text = read_batch_document(document, kMaxInlineBytes, read_error);
    if (pending.key.empty()) pending.key = key_of(document, text.value_or(""));
    if (!text) {
      finish_unstarted(pending, read_error ? *read_error
                                           : Error::make(ErrorCode::validation_error,
                                                         document.input + ": cannot be read"));
      return false;
    }
    if (!is_text(*text)) {
      finish_unstarted(pending, Error::make(ErrorCode::validation_error,
                                            document.input +
                                                ": not UTF-8 text (binary content), so it "
                                                "cannot be delivered inline; use --deliver attach"));
      return false;
    }
  } else if (pending.key.empty()) {
    pending.key = key_of(document, std::nullopt);
  }
  std::optional<Error> render_error;
  auto prompt = render_batch_prompt(options.prompt_template, document, text, render_error);
  if (!prompt) {
    finish_unstarted(pending, render_error ? *render_error
                                           : Error::make(ErrorCode::validation_error,
                                                         document.input + ": cannot render the prompt"));
    return false;
  }
  auto a = std::make_shared<Active>();
  a->id = next_active++;
  a->pending = std::move(pending);
  a->request.prompt = std::move(*prompt);
  a->request.route = options.route;
  a->request.timeout_ms = options.timeout_ms;
  a->request.session_title = "drover batch: " + parsers::excerpt(document.id, 200);
  if (api_route && options.json_schema) a->request.json_schema = options.json_schema;
  if (options.delivery == BatchDelivery::attach) {
    if (document.path) {
      std::error_code ec;
      auto absolute = std::filesystem::absolute(*document.path, ec);
      a->request.attachments.emplace_back(ec ? *document.path : absolute.string());
    } else {
      a->request.attachments.push_back(
          Attachment::bytes(attachment_name(document.id), document.text.value_or("")));
    }
  }
  active.emplace(a->id, a);
  submit(a);
  return true;
}

void Batch::Impl::submit(const std::shared_ptr<Active>& a) {
  ++a->attempts;
  a->backoff_timer.reset();
  a->handle = client.submit(a->request, {}, [this, a](Result result) {
    on_result(a, std::move(result));
  });
}

double Batch::Impl::backoff_ms(int64_t retry, const Error& error) {
  const double base = std::min(kMaxBackoffMs, kFirstBackoffMs * std::pow(2.0, double(retry - 1)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  double ms = base * jitter(random);
  if (error.retry_after_ms) ms = std::max(ms, double(*error.retry_after_ms));
  return ms;
}

void Batch::Impl::on_result(const std::shared_ptr<Active>& a, Result result) {
  if (cancelled || fatal || !active.count(a->id)) {
    active.erase(a->id);  // cancelled: the document gets no line and runs again next time
    progress.running = static_cast<int64_t>(active.size());
    return;
  }
  a->handle = RunHandle();
  if (result.usage) {
    if (!a->usage) a->usage.emplace();
    a->usage->add(*result.usage);
    progress.usage.add(*result.usage);
  }
  BatchRecord record;
  record.route = result.route.empty() ? route.id : result.route;
  record.model = result.model.empty() ? route.model : result.model;
  record.text = result.text;
  if (result.error) {
    if (result.error->retryable && a->retryable_tries < options.retries) {
      ++a->retryable_tries;
      const double delay = backoff_ms(a->retryable_tries, *result.error);
      spdlog::info("{}: {} ({}); trying again in {:.1f} s",
                   options.documents[a->pending.document].input, to_string(result.error->code),
                   result.error->message, delay / 1000);
      a->backoff_timer = client.post_after(static_cast<int64_t>(delay), [this, a] {
        if (cancelled || fatal || !active.count(a->id)) return;
        submit(a);
      });
      return;
    }
    record.error = std::move(result.error);
    return finish(a, std::move(record));
  }
  if (validator) {
    std::string problem;
    std::vector<std::string> errors;
    auto value = extract_json_answer(result.text, problem);
    if (value)
      errors = validator->validate(*value);
    else
      errors.push_back(problem);
    if (errors.empty()) {
      record.json = std::move(value);
      return finish(a, std::move(record));
    }
    std::string joined;
    for (const auto& line : errors) joined += (joined.empty() ? "" : "\n") + line;
    if (!a->schema_retry_used) {
      a->schema_retry_used = true;
      a->request.prompt += "\n\nYour previous answer was not valid: " + joined +
                           "\nAnswer again with only JSON that validates against the schema.";
      submit(a);
      return;
    }
    record.error = Error::make(ErrorCode::validation_error,
                               "the answer does not validate against the JSON schema: " + joined);
  }
  finish(a, std::move(record));
}

void Batch::Impl::finish(const std::shared_ptr<Active>& a, BatchRecord record) {
  const BatchDocument& document = options.documents[a->pending.document];
  record.id = document.id;
  record.input = document.input;
  record.key = a->pending.key;
  record.attempts = a->attempts;
  record.usage = a->usage;
  record.duration_ms = ms_since(a->started);
  active.erase(a->id);
  write(std::move(record));
  fill();
}

void Batch::Impl::finish_unstarted(const Pending& pending, Error error) {
  const BatchDocument& document = options.documents[pending.document];
  BatchRecord record;
  record.id = document.id;
  record.input = document.input;
  record.route = route.id;
  record.model = route.model;
  record.key = pending.key;
  record.error = std::move(error);
  write(std::move(record));
}

void Batch::Impl::write(BatchRecord record) {
  (record.error ? progress.failed : progress.succeeded) += 1;
  std::optional<Error> error;
  if (!output->append(record, error)) {
    // Nothing more can be recorded: stop the batch rather than run documents for nothing.
    fatal = error ? *error : Error::make(ErrorCode::harness_error, "cannot write " + output->path());
    for (auto& [id, a] : active) {
      if (a->backoff_timer) client.cancel_timer(*a->backoff_timer);
      if (a->handle) a->handle.cancel();
    }
    if (tick_timer) client.cancel_timer(*tick_timer);
    tick_timer.reset();
  }
  report_progress();
}

void Batch::Impl::report_progress() {
  progress.running = static_cast<int64_t>(active.size());
  progress.elapsed_ms = ms_since(started);
  if (!options.on_progress) return;
  try {
    options.on_progress(progress);
  } catch (const std::exception& e) {
    spdlog::warn("the batch progress handler threw: {}", e.what());
  }
}

void Batch::Impl::tick() {
  tick_timer.reset();
  if (cancelled || fatal || !work_left()) return;
  report_progress();
  if (!cancelled && !fatal && work_left())
    tick_timer = client.post_after(kProgressEveryMs, [this] { tick(); });
}

Batch::Batch(Client& client, BatchOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}

Batch::~Batch() = default;

BatchOutcome Batch::run() { return impl_->run(); }

void Batch::cancel() { impl_->cancel(); }

int BatchOutcome::exit_code() const noexcept {
  if (error) return exit_code_for(error->code);
  if (interrupted) return 130;
  return progress.failed + progress.skipped_failed > 0 ? 1 : 0;
}

}  // namespace drover
