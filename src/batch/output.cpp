#include "src/batch/output.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "parsers/json_limits.h"
#include "src/core/text.h"

namespace drover {
namespace {

using json = nlohmann::json;

std::string errno_text(int err) { return std::strerror(err); }

std::string shown(std::string_view path) {
  return json(std::string(path)).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool read_int(const json& j, const char* key, std::optional<int64_t>& into, std::string& error) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number_integer()) {
    error = std::string("\"") + key + "\" is not an integer";
    return false;
  }
  into = it->get<int64_t>();
  return true;
}

bool read_string(const json& j, const char* key, std::string& into, std::string& error) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) {
    error = std::string("\"") + key + "\" is not a string";
    return false;
  }
  into = it->get<std::string>();
  return true;
}

std::optional<Usage> usage_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "\"usage\" is not an object or null";
    return std::nullopt;
  }
  Usage u;
  if (!read_int(j, "inputTokens", u.input_tokens, error) ||
      !read_int(j, "outputTokens", u.output_tokens, error) ||
      !read_int(j, "totalTokens", u.total_tokens, error) ||
      !read_int(j, "cacheReadTokens", u.cache_read_tokens, error) ||
      !read_int(j, "cacheWriteTokens", u.cache_write_tokens, error) ||
      !read_int(j, "reasoningTokens", u.reasoning_tokens, error)) {
    error = "usage: " + error;
    return std::nullopt;
  }
  if (const auto cost = j.find("costUsd"); cost != j.end() && !cost->is_null()) {
    if (!cost->is_number()) {
      error = "usage: \"costUsd\" is not a number";
      return std::nullopt;
    }
    u.cost_usd = cost->get<double>();
  }
  std::optional<int64_t> calls;
  if (!read_int(j, "calls", calls, error)) {
    error = "usage: " + error;
    return std::nullopt;
  }
  u.calls = calls.value_or(0);
  return u;
}

std::optional<Error> error_from_json(const json& j, std::string& problem) {
  if (!j.is_object()) {
    problem = "\"error\" is not an object or null";
    return std::nullopt;
  }
  const auto code = j.find("code");
  if (code == j.end() || !code->is_string()) {
    problem = "error: \"code\" is not a string";
    return std::nullopt;
  }
  const auto parsed = error_code_from_string(code->get_ref<const std::string&>());
  if (!parsed) {
    problem = "error: \"code\" " + shown(code->get_ref<const std::string&>()) +
              " is not an error code";
    return std::nullopt;
  }
  Error e;
  e.code = *parsed;
  e.retryable = default_retryable(*parsed);
  if (!read_string(j, "message", e.message, problem)) {
    problem = "error: " + problem;
    return std::nullopt;
  }
  if (const auto r = j.find("retryable"); r != j.end() && !r->is_null()) {
    if (!r->is_boolean()) {
      problem = "error: \"retryable\" is not a boolean";
      return std::nullopt;
    }
    e.retryable = r->get<bool>();
  }
  if (!read_int(j, "retryAfterMs", e.retry_after_ms, problem)) {
    problem = "error: " + problem;
    return std::nullopt;
  }
  return e;
}

/// The longest line read back as a record: far above any line drover writes (an answer is kept
/// up to the route's output bound), so a longer one is another program's file, not a record.
constexpr std::size_t kMaxRecordLineBytes = 256u << 20;

/// The records of an output file's text. Complete lines only: what follows the last newline is a
/// torn line, whose offset `torn_at` gives (the text's size when there is none). False with
/// `problem` (naming the line) when a complete line is not a record.
bool parse_output(std::string_view text, std::vector<BatchRecord>& records, std::size_t& torn_at,
                  std::string& problem) {
  const std::size_t last_nl = text.rfind('\n');
  torn_at = last_nl == std::string_view::npos ? 0 : last_nl + 1;
  std::size_t pos = 0;
  int64_t line_no = 0;
  while (pos < torn_at) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (text::trim(line).empty()) continue;
    if (line.size() > kMaxRecordLineBytes) {
      problem = "line " + std::to_string(line_no) + " is not a batch record: longer than " +
                std::to_string(kMaxRecordLineBytes >> 20) + " MiB";
      return false;
    }
    parsers::JsonLimit limit = parsers::JsonLimit::none;
    const json j = parsers::parse_untrusted(line, &limit);
    std::string why;
    std::optional<BatchRecord> record;
    if (limit == parsers::JsonLimit::too_deep) why = parsers::json_depth_problem();
    else if (j.is_discarded()) why = "not JSON";
    else record = batch_record_from_json(j, why);
    if (!record) {
      problem = "line " + std::to_string(line_no) + " is not a batch record: " + why;
      return false;
    }
    records.push_back(std::move(*record));
  }
  return true;
}

/// A regular file's whole content, read without blocking on anything else.
bool read_fd(int fd, std::string& out, int& err) {
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      return false;
    }
    if (n == 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

/// The pid holding a flock on the file `st` describes, from /proc/locks; 0 when unknown.
int64_t flock_holder(const struct stat& st) {
  std::ifstream locks("/proc/locks");
  std::string line;
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%llu", ::major(st.st_dev), ::minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
    std::istringstream in(line);
    std::string n, kind, mode, rw, pid, where;
    if (!(in >> n >> kind >> mode >> rw >> pid >> where)) continue;
    if (kind != "FLOCK" || where != id) continue;
    try {
      return std::stoll(pid);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

Error config_error(std::string message) {
  return Error::make(ErrorCode::config_error, std::move(message));
}

}  // namespace

json to_json(const BatchRecord& r) {
  json j = json::object();
  j["id"] = r.id;
  j["input"] = r.input;
  j["route"] = r.route;
  j["model"] = r.model;
  j["text"] = r.text;
  j["json"] = r.json ? *r.json : json(nullptr);
  j["usage"] = r.usage ? to_json(*r.usage) : json(nullptr);
  j["error"] = r.error ? to_json(*r.error) : json(nullptr);
  j["attempts"] = r.attempts;
  j["durationMs"] = std::round(r.duration_ms * 1000.0) / 1000.0;
  j["key"] = r.key;
  return j;
}

namespace {

// A JSON string. Plain ASCII, the usual case, is escaped here; anything else goes through
// nlohmann (which replaces ill-formed UTF-8).
void append_json_string(std::string& out, std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) {
      out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void append_json(std::string& out, const json& value) {
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A finite double in its shortest round-trip form, as a JSON number ("1234.5", "12.0").
void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) value = 0;
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return append_json(out, json(value));
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

}  // namespace

// Written field by field: building a json object and dumping it was a large part of the batch
// side's cost of a fast document (10,000 API documents a second).
std::string batch_record_line(const BatchRecord& r) {
  std::string out;
  out.reserve(160 + r.id.size() + r.input.size() + r.route.size() + r.model.size() +
              r.text.size() + r.key.size());
  out += "{\"id\":";
  append_json_string(out, r.id);
  out += ",\"input\":";
  append_json_string(out, r.input);
  out += ",\"route\":";
  append_json_string(out, r.route);
  out += ",\"model\":";
  append_json_string(out, r.model);
  out += ",\"text\":";
  append_json_string(out, r.text);
  out += ",\"json\":";
  if (r.json) append_json(out, *r.json); else out += "null";
  out += ",\"usage\":";
  if (r.usage) append_json(out, to_json(*r.usage)); else out += "null";
  out += ",\"error\":";
  if (r.error) append_json(out, to_json(*r.error)); else out += "null";
  out += ",\"attempts\":";
  out += std::to_string(r.attempts);
  out += ",\"durationMs\":";
  append_json_number(out, std::round(r.duration_ms * 1000.0) / 1000.0);
  out += ",\"key\":";
  append_json_string(out, r.key);
  out += "}\n";
  return out;
}

std::optional<BatchRecord> batch_record_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  BatchRecord r;
  const auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    error = "\"id\" is not a non-empty string";
    return std::nullopt;
  }
  r.id = id->get<std::string>();
  if (!read_string(j, "input", r.input, error) || !read_string(j, "route", r.route, error) ||
      !read_string(j, "model", r.model, error) || !read_string(j, "text", r.text, error) ||
      !read_string(j, "key", r.key, error))
    return std::nullopt;
  if (const auto v = j.find("json"); v != j.end() && !v->is_null()) r.json = *v;
  if (const auto v = j.find("usage"); v != j.end() && !v->is_null()) {
    r.usage = usage_from_json(*v, error);
    if (!r.usage) return std::nullopt;
  }
  if (const auto v = j.find("error"); v != j.end() && !v->is_null()) {
    r.error = error_from_json(*v, error);
    if (!r.error) return std::nullopt;
  }
  std::optional<int64_t> attempts;
  if (!read_int(j, "attempts", attempts, error)) return std::nullopt;
  if (attempts && *attempts < 0) {
    error = "\"attempts\" is negative";
    return std::nullopt;
  }
  r.attempts = attempts.value_or(0);
  if (const auto v = j.find("durationMs"); v != j.end() && !v->is_null()) {
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 0) {
      error = "\"durationMs\" is not a non-negative number";
      return std::nullopt;
    }
    r.duration_ms = v->get<double>();
  }
  return r;
}

std::vector<BatchRecord> read_batch_output(const std::string& path, std::optional<Error>& error) {
  const std::string name = "batch output " + shown(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = config_error(name + ": " + errno_text(errno));
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    error = config_error(name + ": not a regular file");
    return {};
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    error = config_error(name + ": " + errno_text(errno));
    return {};
  }
  std::string text;
  int err = 0;
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read_fd(fd, text, err);
  ::close(fd);
  if (!ok) {
    error = config_error(name + ": " + (err ? errno_text(err) : "not a regular file"));
    return {};
  }
  std::vector<BatchRecord> records;
  std::size_t torn_at = 0;
  std::string problem;
  if (!parse_output(text, records, torn_at, problem)) {
    error = config_error(name + " " + problem);
    return {};
  }
  return records;
}

std::unique_ptr<BatchOutput> BatchOutput::open(const std::string& path,
                                               std::optional<Error>& error) {
  const std::string name = "batch output " + shown(path);
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) {
    error = config_error(name + ": " + errno_text(errno));
    return nullptr;
  }
  std::unique_ptr<BatchOutput> out(new BatchOutput());
  out->path_ = path;
  out->fd_ = fd;  // closed by the destructor from here on
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = config_error(name + ": not a regular file");
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const int64_t holder = flock_holder(st);
      error = config_error(name + " is being written by another drover batch" +
                           (holder > 0 ? " (pid " + std::to_string(holder) + ")" : std::string()));
    } else {
      error = config_error(name + ": cannot lock: " + errno_text(err));
    }
    return nullptr;
  }
  std::string text;
  int err = 0;
  if (::lseek(fd, 0, SEEK_SET) != 0 || !read_fd(fd, text, err)) {
    error = config_error(name + ": " + errno_text(err ? err : errno));
    return nullptr;
  }
  std::vector<BatchRecord> records;
  std::size_t torn_at = 0;
  std::string problem;
  if (!parse_output(text, records, torn_at, problem)) {
    error = config_error(name + " " + problem + " (the file is left as it is)");
    return nullptr;
  }
  if (torn_at < text.size()) {  // a line cut by a crash: its document runs again
    if (::ftruncate(fd, static_cast<off_t>(torn_at)) != 0 || ::fsync(fd) != 0) {
      error = config_error(name + ": cannot cut its torn last line: " + errno_text(errno));
      return nullptr;
    }
  }
  out->size_ = static_cast<int64_t>(torn_at);
  for (BatchRecord& record : records) {
    std::string id = record.id;
    out->previous_.insert_or_assign(std::move(id), std::move(record));
  }
  return out;
}

BatchOutput::~BatchOutput() {
  if (syncer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sync_mutex_);
      closing_ = true;
    }
    sync_wake_.notify_one();
    syncer_.join();  // it syncs what is left first
    if (sync_error_) spdlog::error("{}", *sync_error_);
  }
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void BatchOutput::sync_lines() {
  // Syncs start at most kSyncIntervalMs apart: a sync alone costs more CPU than a fast document
  // (10,000 API documents made 9,700 fdatasyncs, a tenth of drover's CPU, before the interval).
  using Clock = std::chrono::steady_clock;
  constexpr auto kSyncInterval = std::chrono::milliseconds(kSyncIntervalMs);
  std::unique_lock<std::mutex> lock(sync_mutex_);
  Clock::time_point last_sync{};
  for (;;) {
    syncer_idle_ = true;
    sync_wake_.wait(lock, [this] { return closing_ || written_lines_ > synced_lines_; });
    syncer_idle_ = false;
    if (written_lines_ == synced_lines_ && closing_) return;
    // flush() and closing do not wait out the interval.
    sync_wake_.wait_until(lock, last_sync + kSyncInterval,
                          [this] { return closing_ || flush_waiting_; });
    last_sync = Clock::now();
    const uint64_t covered = written_lines_;
    lock.unlock();
    const int rc = ::fdatasync(fd_);
    const int err = errno;
    lock.lock();
    if (rc != 0 && !sync_error_)
      sync_error_ = "batch output " + shown(path_) + ": fsync failed: " + errno_text(err);
    synced_lines_ = covered;
    sync_done_.notify_all();
  }
}

std::optional<Error> BatchOutput::sync_failure() {
  std::lock_guard<std::mutex> lock(sync_mutex_);
  if (!sync_error_) return std::nullopt;
  return Error::make(ErrorCode::harness_error, *sync_error_);
}

bool BatchOutput::flush(std::optional<Error>& error) {
  {
    std::unique_lock<std::mutex> lock(sync_mutex_);
    ++flush_waiting_;
    sync_wake_.notify_one();
    sync_done_.wait(lock, [this] { return synced_lines_ == written_lines_; });
    --flush_waiting_;
  }
  if (auto failure = sync_failure()) {
    error = std::move(failure);
    return false;
  }
  return true;
}

bool BatchOutput::append(const BatchRecord& record, std::optional<Error>& error) {
  const std::string line = batch_record_line(record);
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // Never leave half a line behind: cut back to where this record began.
      const bool cut = written == 0 || ::ftruncate(fd_, static_cast<off_t>(size_)) == 0;
      error = Error::make(ErrorCode::harness_error,
                          "batch output " + shown(path_) + ": write failed: " + errno_text(err) +
                              (cut ? "" : " (a torn line is left; the next open cuts it)"));
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  size_ += static_cast<int64_t>(line.size());
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(sync_mutex_);
    ++written_lines_;
    if (!syncer_.joinable()) syncer_ = std::thread([this] { sync_lines(); });
    wake = syncer_idle_;  // a busy or pausing syncer takes this line with the others
  }
  if (wake) sync_wake_.notify_one();
  if (auto failure = sync_failure()) {
    error = std::move(failure);
    return false;
  }
  return true;
}

}  // namespace drover
