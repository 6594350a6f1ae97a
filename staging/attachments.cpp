#include "staging/attachments.h"

#include <fcntl.h>
#include <magic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <uv.h>

#include "src/core/base64.h"
#include "src/core/text.h"
#include "parsers/utf8.h"
#include "src/loop/loop.h"

namespace drover {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kSniffBytes = 64 * 1024;  // what libmagic looks at
constexpr std::size_t kCopyChunk = 1 << 20;
constexpr std::size_t kMaxAttachments = 256;  // per run; each holds a descriptor while staged
constexpr std::size_t kMaxExtensionBytes = 16;

// ---- names ----------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence of two or more bytes at s[i] that may stay in a name, else
// 0: C1 controls, line and paragraph separators, bidirectional controls and the BOM are refused
// like ASCII controls (they reorder or break the prompt a name is mentioned in).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const std::size_t n = b >= 0xF0 && b <= 0xF4   ? 4
                        : b >= 0xE0 && b <= 0xEF ? 3
                        : b >= 0xC2 && b <= 0xDF ? 2
                                                 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0) || (b == 0xF0 && b1 < 0x90) ||
      (b == 0xF4 && b1 >= 0x90))
    return 0;  // overlong, surrogate, beyond U+10FFFF
  uint32_t cp = n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
      (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF)
    return 0;
  return n;
}

bool name_byte_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '+';
}

// `s` cut to at most `max` bytes, never inside a UTF-8 sequence.
std::string cut_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

// Splits "name.ext" into stem and ".ext" (a short, plain extension only).
std::pair<std::string, std::string> split_extension(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || name.size() - dot > kMaxExtensionBytes)
    return {name, ""};
  const std::string ext = name.substr(dot);
  if (!std::all_of(ext.begin() + 1, ext.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      }))
    return {name, ""};
  return {name.substr(0, dot), ext};
}

// ---- classification ---------------------------------------------------------------------------

struct ExtensionType {
  std::string_view ext;
  std::string_view mime;
};
constexpr ExtensionType kExtensionTypes[] = {
    {".png", "image/png"},          {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},          {".webp", "image/webp"},       {".bmp", "image/bmp"},
    {".tif", "image/tiff"},         {".tiff", "image/tiff"},       {".svg", "image/svg+xml"},
    {".heic", "image/heic"},        {".pdf", "application/pdf"},   {".txt", "text/plain"},
    {".md", "text/markdown"},       {".markdown", "text/markdown"}, {".csv", "text/csv"},
    {".tsv", "text/tab-separated-values"}, {".json", "application/json"},
    {".jsonl", "application/jsonl"}, {".ndjson", "application/jsonl"},
    {".xml", "application/xml"},    {".html", "text/html"},        {".htm", "text/html"},
    {".yaml", "application/yaml"},  {".yml", "application/yaml"},  {".toml", "application/toml"},
    {".log", "text/plain"},         {".rst", "text/x-rst"},        {".tex", "text/x-tex"},
    {".py", "text/x-python"},       {".js", "text/javascript"},    {".ts", "text/x-typescript"},
    {".c", "text/x-c"},             {".h", "text/x-c"},            {".cpp", "text/x-c++"},
    {".hpp", "text/x-c++"},         {".rs", "text/x-rust"},        {".go", "text/x-go"},
    {".java", "text/x-java"},       {".sh", "text/x-shellscript"}, {".sql", "application/sql"},
};

std::optional<std::string_view> mime_by_extension(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string ext = text::lower(name.substr(dot));
  for (const auto& t : kExtensionTypes)
    if (t.ext == ext) return t.mime;
  return std::nullopt;
}

std::string_view extension_for(std::string_view mime) {
  for (const auto& t : kExtensionTypes)
    if (t.mime == mime) return t.ext;
  return "";
}

bool is_textual(std::string_view mime) {
  static constexpr std::string_view kTextual[] = {
      "application/json", "application/jsonl", "application/xml", "application/yaml",
      "application/toml", "application/sql",   "application/javascript", "application/x-ndjson",
      "image/svg+xml"};
  if (mime.substr(0, 5) == "text/") return true;
  return std::find(std::begin(kTextual), std::end(kTextual), mime) != std::end(kTextual);
}

AttachmentCategory category_of(std::string_view mime) {
  if (mime == "application/pdf") return AttachmentCategory::document;
  if (mime == "image/svg+xml") return AttachmentCategory::text;  // markup, not pixels
  if (mime.substr(0, 6) == "image/") return AttachmentCategory::image;
  if (is_textual(mime)) return AttachmentCategory::text;
  return AttachmentCategory::other;
}

// ---- errors ------------------------------------------------------------------------------------

Error invalid(const std::string& what, const std::string& why) {
  return Error::make(ErrorCode::validation_error, "attachment " + what + ": " + why);
}

std::string in_quotes(std::string_view s) { return "'" + parsers::valid_utf8(std::string(s)) + "'"; }

std::string file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

std::string categories_list(const std::vector<AttachmentCategory>& categories) {
  std::string out;
  for (auto c : categories) out += (out.empty() ? "" : ", ") + std::string(to_string(c));
  return out;
}

bool accepts(const std::vector<AttachmentCategory>& categories, AttachmentCategory c) {
  return categories.empty() || std::find(categories.begin(), categories.end(), c) != categories.end();
}

// scheme://host/path of a URL: no userinfo, no query, no fragment (signed URLs carry tokens).
std::string url_for_display(std::string_view url) {
  const auto scheme_end = url.find("://");
  std::string_view rest = url.substr(scheme_end + 3);
  const auto cut = rest.find_first_of("?#");
  if (cut != std::string_view::npos) rest = rest.substr(0, cut);
  const auto slash = rest.find('/');
  const auto at = rest.substr(0, slash).rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  return parsers::valid_utf8(std::string(url.substr(0, scheme_end + 3)) + std::string(rest));
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && text::lower(s.substr(0, prefix.size())) == prefix;
}

// ---- the job -------------------------------------------------------------------------------------

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// One attachment between checking and copying.
struct Pending {
  StagedAttachment staged;
  Fd source;                            // a local file, open
  std::optional<std::string> bytes;     // content in hand (stdin, data: URL)
};

class Job final : public StagingJob, public std::enable_shared_from_this<Job> {
 public:
  Job(std::vector<Attachment> attachments, StagingOptions options, StagingDone done)
      : attachments_(std::move(attachments)), options_(std::move(options)), done_(std::move(done)) {
    work_.data = this;
  }

  void start(Loop& loop) {
    self_ = shared_from_this();  // alive until after_work, which libuv always calls
    const int rc = uv_queue_work(loop.uv(), &work_, &Job::on_work, &Job::on_after_work);
    if (rc != 0) {
      error_ = Error::make(ErrorCode::harness_error,
                           std::string("cannot queue the staging of attachments: ") + uv_strerror(rc));
      self_.reset();
      auto self = shared_from_this();
      loop.post([self] { self->finish(); });
    }
  }

  void cancel() override {
    cancelled_.store(true);
    uv_cancel(reinterpret_cast<uv_req_t*>(&work_));  // only succeeds while still queued
  }

 private:
  static void on_work(uv_work_t* req) {
    auto* job = static_cast<Job*>(req->data);
    try {
      job->stage();
    } catch (const std::exception& e) {
      job->error_ = Error::make(ErrorCode::harness_error,
                                std::string("staging attachments failed: ") + e.what());
    } catch (...) {
      job->error_ = Error::make(ErrorCode::harness_error, "staging attachments failed");
    }
    if (job->error_) job->result_.reset();  // removes what was copied, off the loop
  }

  static void on_after_work(uv_work_t* req, int /*status*/) {
    auto* job = static_cast<Job*>(req->data);
    auto self = std::move(job->self_);
    guarded("staging attachments", [&] { job->finish(); });
  }

  void finish() {
    if (cancelled_.load()) {
      result_.reset();
      error_ = Error::make(ErrorCode::aborted, "cancelled while staging attachments");
    }
    auto done = std::move(done_);
    if (!done) return;
    if (error_) return done(std::nullopt, std::move(error_));
    done(std::move(result_), std::nullopt);
  }

  // Off the loop thread from here on: only this job's own state.
  void stage() {
    if (attachments_.size() > kMaxAttachments) {
      error_ = Error::make(ErrorCode::validation_error,
                           std::to_string(attachments_.size()) + " attachments; at most " +
                               std::to_string(kMaxAttachments) + " per run");
      return;
    }
    StagedAttachments staged;
    std::vector<Pending> pending;
    std::vector<std::string> taken;
    uint64_t total = 0;
    for (auto& attachment : attachments_) {
      auto item = check(attachment, taken);
      if (!item) return;
      total += item->staged.bytes;
      if (total > options_.max_total_bytes) {
        error_ = invalid(in_quotes(item->staged.source),
                         "the attachments come to more than the limit of " +
                             std::to_string(options_.max_total_bytes) +
                             " bytes per run (maxTotalBytes)");
        return;
      }
      taken.push_back(item->staged.name);
      pending.push_back(std::move(*item));
    }
    // Nothing is written before every attachment has passed.
    if (options_.copy && std::any_of(pending.begin(), pending.end(),
                                     [](const Pending& p) { return !p.staged.url; })) {
      if (!make_directory(staged)) return;
    }
    result_ = std::move(staged);
    for (auto& item : pending) {
      if (cancelled_.load()) return;
      if (!item.staged.url && !deliver(item)) return;
      result_->files.push_back(std::move(item.staged));
    }
    if (options_.keep && result_->owned_dir) {
      const bool own_run_dir = options_.into.empty();
      const std::string released = result_->owned_dir->release();
      result_->owned_dir.reset();
      result_->kept_at = own_run_dir ? released : result_->attachments_dir;
    }
  }

  std::optional<Pending> check(const Attachment& attachment, const std::vector<std::string>& taken) {
    Pending item;
    StagedAttachment& s = item.staged;
    std::string raw_name = attachment.name;
    if (attachment.content) {
      s.source = "-";
      item.bytes = *attachment.content;
    } else if (starts_with(attachment.source, "data:")) {
      s.source = "data:";
      std::string why;
      auto data = parse_data_url(attachment.source, why);
      if (!data) return fail(invalid("data: URL", why));
      item.bytes = std::move(data->bytes);
      if (raw_name.empty()) {
        raw_name = "attachment";
        raw_name += extension_for(data->mime);
      }
    } else if (starts_with(attachment.source, "https://")) {
      s.source = url_for_display(attachment.source);
      s.url = attachment.source;
      if (raw_name.empty()) {
        // The last segment of the path; never the authority (it may carry credentials).
        std::string_view rest = std::string_view(attachment.source).substr(8);
        rest = rest.substr(0, rest.find_first_of("?#"));
        const auto slash = rest.find('/');
        raw_name = slash == std::string_view::npos ? "" : std::string(rest.substr(rest.rfind('/') + 1));
      }
    } else if (starts_with(attachment.source, "http://")) {
      return fail(invalid(in_quotes(url_for_display(attachment.source)),
                          "only https:// URLs can be attached"));
    } else {
      s.source = attachment.source;
      if (s.source.empty()) return fail(invalid("''", "an empty path"));
      if (raw_name.empty()) raw_name = fs::path(attachment.source).filename().string();
      if (!open_local(item)) return std::nullopt;
    }

    s.name = sanitize_attachment_name(raw_name, taken);
    if (item.bytes) {
      if (item.bytes->size() > options_.max_file_bytes) return fail(over_file_limit(s, item.bytes->size()));
      s.bytes = item.bytes->size();
    }
    // Remote references are classified by their name alone: they are never fetched.
    std::string head;
    if (item.bytes) head = item.bytes->substr(0, kSniffBytes);
    else if (item.source.fd >= 0) head = read_head(item.source.fd);
    const std::string sniffed = s.url ? "application/octet-stream" : sniff_mime(head);
    std::tie(s.category, s.mime) = classify_attachment(sniffed, s.name);
    if (s.url) {
      if (!accepts_remote(s.category)) {
        const std::string accepted = categories_list(options_.remote_categories);
        return fail(Error::make(ErrorCode::unsupported_capability,
                                "route " + options_.route_id + " cannot take remote attachment " +
                                    in_quotes(s.source) + " (" + std::string(to_string(s.category)) +
                                    ")" + (accepted.empty() ? ": it takes no URLs" :
                                           "; it takes URLs of: " + accepted)));
      }
      return item;
    }
    if (!accepts(options_.categories, s.category))
      return fail(Error::make(ErrorCode::unsupported_capability,
                              "route " + options_.route_id + " does not take " +
                                  std::string(to_string(s.category)) + " attachments (" +
                                  in_quotes(s.source) + " is " + s.mime + "); it takes: " +
                                  categories_list(options_.categories)));
    return item;
  }

  // Unlike files, no remote categories means none.
  bool accepts_remote(AttachmentCategory c) const {
    return !options_.remote_categories.empty() && accepts(options_.remote_categories, c);
  }

  // Opens a local file: the target of a symlink, refused unless a regular file within the
  // per-file limit (checked before a byte is read, so a huge sparse file costs nothing).
  bool open_local(Pending& item) {
    StagedAttachment& s = item.staged;
    fs::path path = s.source;
    if (path.is_relative() && !options_.workspace.empty()) path = fs::path(options_.workspace) / path;
    const std::string what = in_quotes(s.source);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return fail_bool(invalid(what, errno == ENOENT ? "no such file" : std::strerror(errno)));
    if (!S_ISREG(st.st_mode))
      return fail_bool(invalid(what, "is " + file_type_name(st.st_mode) + "; only regular files can be attached"));
    if (static_cast<uint64_t>(st.st_size) > options_.max_file_bytes)
      return fail_bool(over_file_limit(s, static_cast<uint64_t>(st.st_size)));
    // O_NONBLOCK: should the path have become a FIFO since, opening it must not hang.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return fail_bool(invalid(what, std::strerror(errno)));
    item.source = Fd(fd);
    struct stat opened;
    if (::fstat(fd, &opened) != 0) return fail_bool(invalid(what, std::strerror(errno)));
    if (!S_ISREG(opened.st_mode))
      return fail_bool(invalid(what, "is " + file_type_name(opened.st_mode) + "; only regular files can be attached"));
    if (static_cast<uint64_t>(opened.st_size) > options_.max_file_bytes)
      return fail_bool(over_file_limit(s, static_cast<uint64_t>(opened.st_size)));
    s.bytes = static_cast<uint64_t>(opened.st_size);
    return true;
  }

  Error over_file_limit(const StagedAttachment& s, uint64_t bytes) const {
    return invalid(in_quotes(s.source), std::to_string(bytes) + " bytes is over the limit of " +
                                         std::to_string(options_.max_file_bytes) +
                                         " bytes per file (maxFileBytes)");
  }

  static std::string read_head(int fd) {
    std::string head(kSniffBytes, '\0');
    ssize_t n;
    do n = ::pread(fd, head.data(), head.size(), 0);
    while (n < 0 && errno == EINTR);
    head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return head;
  }

  bool make_directory(StagedAttachments& staged) {
    std::string dir;
    if (!options_.into.empty()) {
      // The first free `attachments`, `attachments-2`, …: never one that was there before.
      for (int n = 1;; ++n) {
        dir = options_.into + "/attachments" + (n == 1 ? "" : "-" + std::to_string(n));
        if (::mkdir(dir.c_str(), 0700) == 0) break;
        if (errno != EEXIST || n >= 100) return fail_io("cannot create " + dir);
      }
      staged.owned_dir = TempDir::adopt(dir);
    } else {
      const std::string parent = options_.dir.empty() ? TempDir::default_parent() : options_.dir;
      if (auto problem = unsafe_parent(parent)) {
        error_ = Error::make(ErrorCode::config_error, "cannot stage attachments in " + parent +
                                                          ": " + *problem + kWhereToSetIt);
        return false;
      }
      Error error;
      const auto prefix = options_.keep ? kKeptAttachmentDirPrefix : kAttachmentDirPrefix;
      staged.owned_dir = TempDir::create(std::string(prefix), error, parent);
      if (!staged.owned_dir) {
        error_ = Error::make(ErrorCode::config_error,
                             "cannot stage attachments: " + error.message + kWhereToSetIt);
        return false;
      }
      dir = staged.owned_dir->path() + "/attachments";
      if (::mkdir(dir.c_str(), 0700) != 0) return fail_io("cannot create " + dir);
    }
    staged.attachments_dir = dir;
    return true;
  }

  static constexpr const char* kWhereToSetIt =
      " (the staging dir: staging.dir, or the route's fileInput.stagingDir)";

  // A directory others can write to without the sticky bit lets them swap our new directory
  // for a link between its creation and our writes into it.
  static std::optional<std::string> unsafe_parent(const std::string& parent) {
    struct stat st;
    if (::stat(parent.c_str(), &st) != 0) return std::string(std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return std::string("not a directory");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
      return std::string("it is writable by other users and not sticky (chmod +t, or 0700)");
    return std::nullopt;
  }

  bool fail_io(const std::string& what) {
    error_ = Error::make(ErrorCode::harness_error, what + ": " + std::strerror(errno));
    return false;
  }

  // Writes the copy (and keeps the bytes when asked); false with error_ set on failure.
  bool deliver(Pending& item) {
    StagedAttachment& s = item.staged;
    const bool load = options_.load_max_bytes > 0 && s.bytes <= options_.load_max_bytes;
    Fd out;
    if (options_.copy) {
      s.path = result_->attachments_dir + "/" + s.name;
      const int fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) {
        error_ = Error::make(ErrorCode::harness_error,
                             "cannot create " + s.path + ": " + std::strerror(errno));
        return false;
      }
      out = Fd(fd);
    }
    auto write_all = [&](const char* data, std::size_t size) {
      while (size > 0 && out.fd >= 0) {
        const ssize_t n = ::write(out.fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error_ = Error::make(ErrorCode::harness_error,
                               "cannot write " + s.path + ": " + std::strerror(errno));
          return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
      }
      return true;
    };
    if (item.bytes) {
      if (!write_all(item.bytes->data(), item.bytes->size())) return false;
      if (load) s.content = std::move(*item.bytes);
      copied_total_ += s.bytes;
      return true;
    }
    if (!options_.copy && !load) return true;  // neither copied nor loaded: nothing to read
    std::string content;
    std::string chunk(kCopyChunk, '\0');
    uint64_t copied = 0;
    for (;;) {
      if (cancelled_.load()) return false;
      const ssize_t n = ::read(item.source.fd, chunk.data(), chunk.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        error_ = invalid(in_quotes(s.source), std::string("cannot read: ") + std::strerror(errno));
        return false;
      }
      if (n == 0) break;
      copied += static_cast<uint64_t>(n);
      if (copied > options_.max_file_bytes) {  // it grew while we copied
        error_ = over_file_limit(s, copied);
        return false;
      }
      if (copied_total_ + copied > options_.max_total_bytes) {
        error_ = invalid(in_quotes(s.source), "the attachments come to more than the limit of " +
                                                  std::to_string(options_.max_total_bytes) +
                                                  " bytes per run (maxTotalBytes)");
        return false;
      }
      if (!write_all(chunk.data(), static_cast<std::size_t>(n))) return false;
      if (load) content.append(chunk.data(), static_cast<std::size_t>(n));
    }
    s.bytes = copied;
    copied_total_ += copied;
    if (load && copied <= options_.load_max_bytes) s.content = std::move(content);
    return true;
  }

  std::nullopt_t fail(Error error) {
    error_ = std::move(error);
    return std::nullopt;
  }
  bool fail_bool(Error error) {
    error_ = std::move(error);
    return false;
  }

  std::vector<Attachment> attachments_;
  StagingOptions options_;
  StagingDone done_;
  uv_work_t work_{};
  std::shared_ptr<Job> self_;
  std::atomic<bool> cancelled_{false};
  uint64_t copied_total_ = 0;  // what was actually read: files may grow after the size check
  std::optional<StagedAttachments> result_;
  std::optional<Error> error_;
};

}  // namespace

std::vector<AttachmentReport> StagedAttachments::reports(const std::vector<std::string>& deliveries,
                                                         const std::string& fallback) const {
  std::vector<AttachmentReport> out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const StagedAttachment& s = files[i];
    AttachmentReport r;
    r.name = s.name;
    r.source = s.source;
    r.category = std::string(to_string(s.category));
    r.mime = s.mime;
    r.bytes = static_cast<int64_t>(s.bytes);
    r.delivery = i < deliveries.size() ? deliveries[i] : fallback;
    if (kept_at && !s.path.empty()) r.kept_at = s.path;
    out.push_back(std::move(r));
  }
  return out;
}

std::shared_ptr<StagingJob> stage_attachments(Loop& loop, std::vector<Attachment> attachments,
                                              StagingOptions options, StagingDone done) {
  auto job = std::make_shared<Job>(std::move(attachments), std::move(options), std::move(done));
  job->start(loop);
  return job;
}

std::string sanitize_attachment_name(std::string_view raw, const std::vector<std::string>& taken) {
  // The last component, whichever separator the name was written with.
  const auto slash = raw.find_last_of("/\\");
  if (slash != std::string_view::npos) raw = raw.substr(slash + 1);
  std::string name;
  for (std::size_t i = 0; i < raw.size();) {
    if (const std::size_t n = utf8_sequence(raw, i); n > 0) {
      name.append(raw.substr(i, n));
      i += n;
      continue;
    }
    name += name_byte_ok(raw[i]) ? raw[i] : '_';
    ++i;
  }
  // A leading '-' would read as a flag, a leading '.' hides the file (and "..").
  const auto first = name.find_first_not_of(".-");
  name = first == std::string::npos ? "" : name.substr(first);
  if (name.empty() || name.find_first_not_of('_') == std::string::npos) name = "attachment" + name;
  auto [stem, ext] = split_extension(name);
  if (stem.empty()) stem = "attachment";
  auto compose = [&](const std::string& suffix) {
    return cut_utf8(stem, kMaxAttachmentNameBytes - ext.size() - suffix.size()) + suffix + ext;
  };
  std::string candidate = compose("");
  for (int n = 2; std::find(taken.begin(), taken.end(), candidate) != taken.end(); ++n)
    candidate = compose("-" + std::to_string(n));
  return candidate;
}

std::string sniff_mime(std::string_view head) {
  // libmagic handles are not thread-safe; each worker thread keeps its own.
  struct Handle {
    magic_t cookie = nullptr;
    Handle() {
      cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF |
                          MAGIC_NO_CHECK_TAR | MAGIC_NO_CHECK_CDF | MAGIC_NO_CHECK_ENCODING);
      if (cookie && magic_load(cookie, nullptr) != 0) {
        magic_close(cookie);
        cookie = nullptr;
      }
    }
    ~Handle() {
      if (cookie) magic_close(cookie);
    }
  };
  thread_local Handle handle;
  if (head.empty()) return "application/x-empty";
  if (!handle.cookie) return "application/octet-stream";
  const char* type = magic_buffer(handle.cookie, head.data(), head.size());
  return type ? std::string(type) : "application/octet-stream";
}

std::pair<AttachmentCategory, std::string> classify_attachment(std::string_view sniffed_mime,
                                                               std::string_view name) {
  const auto by_name = mime_by_extension(name);
  std::string mime(sniffed_mime);
  // Content decides, except where it says no more than "some text" or "some bytes".
  const bool generic = mime.empty() || mime == "application/octet-stream" ||
                       mime == "text/plain" || mime == "application/x-empty" ||
                       mime == "inode/x-empty";
  if (generic && by_name) {
    // A name says ".png" but the bytes are plain text: the bytes win for the category.
    const bool text_content = mime == "text/plain";
    if (!(text_content && category_of(*by_name) != AttachmentCategory::text)) mime = *by_name;
  }
  if (mime == "application/x-empty" || mime == "inode/x-empty") mime = "text/plain";
  return {category_of(mime), mime};
}

std::optional<DataUrl> parse_data_url(std::string_view url, std::string& error) {
  if (!starts_with(url, "data:")) {
    error = "not a data: URL";
    return std::nullopt;
  }
  url.remove_prefix(5);
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) {
    error = "no ',' before the data";
    return std::nullopt;
  }
  std::string_view meta = url.substr(0, comma), payload = url.substr(comma + 1);
  bool base64 = false;
  if (meta.size() >= 7 && text::lower(meta.substr(meta.size() - 7)) == ";base64") {
    base64 = true;
    meta.remove_suffix(7);
  }
  DataUrl out;
  out.mime = text::lower(meta.substr(0, meta.find(';')));
  if (out.mime.empty()) out.mime = "text/plain";
  if (out.mime.find('/') == std::string::npos ||
      !std::all_of(out.mime.begin(), out.mime.end(), [](char c) {
        return name_byte_ok(c) || c == '/';
      })) {
    error = "media type " + in_quotes(out.mime) + " is not type/subtype";
    return std::nullopt;
  }
  if (base64) {
    auto bytes = base64_decode(payload);
    if (!bytes) {
      error = "the data is not valid base64";
      return std::nullopt;
    }
    out.bytes = std::move(*bytes);
    return out;
  }
  // Percent-encoded.
  for (std::size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] != '%') {
      out.bytes += payload[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= payload.size() || hex(payload[i + 1]) < 0 || hex(payload[i + 2]) < 0) {
      error = "a '%' not followed by two hex digits";
      return std::nullopt;
    }
    out.bytes += static_cast<char>(hex(payload[i + 1]) * 16 + hex(payload[i + 2]));
    i += 2;
  }
  return out;
}

}  // namespace drover
