#include "src/batch/documents.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "parsers/json_limits.h"
#include "parsers/utf8.h"
#include "src/core/sha256.h"
#include "src/core/text.h"

namespace drover {
namespace {

constexpr std::size_t kMaxManifestLineBytes = 1 << 20;
constexpr std::size_t kMaxManifestDepth = 32;
constexpr int kMaxDirectoryDepth = 128;

Error invalid(std::string message) {
  return Error::make(ErrorCode::validation_error, std::move(message));
}

std::string errno_text(int err) { return std::strerror(err); }

/// The length of the well-formed UTF-8 sequence at `s[i]`, or 0 when the byte there starts none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) len = 3;
  else if (c == 0xED) len = 3, hi = 0x9F;  // no surrogates
  else if (c >= 0xEE && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;
  else return 0;
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

/// A file name as an id: valid UTF-8 passes unchanged, every byte of an ill-formed sequence
/// becomes the four characters `\xHH` (as `ls -b` shows it), so the id is a JSON string.
std::string path_id(std::string_view path) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size();) {
    const std::size_t len = utf8_sequence_length(path, i);
    if (len == 0) {
      const auto c = static_cast<unsigned char>(path[i]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else {
      out.append(path, i, len);
      i += len;
    }
  }
  return out;
}

/// A name for messages: JSON-quoted (newlines and control characters escaped).
std::string shown(std::string_view name) {
  return nlohmann::json(path_id(name)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view last_component(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_glob(std::string_view input) { return input.find_first_of("*?[") != std::string_view::npos; }

std::string join(const std::string& dir, const char* name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

BatchDocument file_document(const std::string& path) {
  BatchDocument doc;
  doc.id = path_id(path);
  doc.input = doc.id;
  doc.path = path;
  return doc;
}

/// Regular files under `dir` (symlinks to regular files too; symlinked directories, hidden
/// entries and anything else skipped), appended to `out` unsorted.
bool walk_directory(const std::string& dir, int depth, std::vector<std::string>& out,
                    std::optional<Error>& error) {
  if (depth > kMaxDirectoryDepth) {
    error = invalid("input directory " + shown(dir) + ": nested deeper than " +
                    std::to_string(kMaxDirectoryDepth) + " levels");
    return false;
  }
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    error = invalid("input directory " + shown(dir) + ": " + errno_text(errno));
    return false;
  }
  std::vector<std::string> subdirs;
  while (const dirent* entry = ::readdir(d)) {
    if (entry->d_name[0] == '.') continue;  // hidden, "." and ".."
    std::string path = join(dir, entry->d_name);
    // The entry's type from readdir where the file system gives it (a stat per file was most of
    // listing 10,000 documents); lstat where it does not.
    mode_t type = 0;
    switch (entry->d_type) {
      case DT_DIR: type = S_IFDIR; break;
      case DT_REG: type = S_IFREG; break;
      case DT_LNK: type = S_IFLNK; break;
      case DT_UNKNOWN: {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
        type = st.st_mode & S_IFMT;
        break;
      }
      default: continue;  // FIFOs, sockets, devices
    }
    if (S_ISDIR(type)) {
      subdirs.push_back(std::move(path));
    } else if (S_ISREG(type)) {
      out.push_back(std::move(path));
    } else if (S_ISLNK(type)) {
      struct stat target {};
      if (::stat(path.c_str(), &target) == 0 && S_ISREG(target.st_mode))
        out.push_back(std::move(path));
    }
  }
  ::closedir(d);
  for (const std::string& sub : subdirs)
    if (!walk_directory(sub, depth + 1, out, error)) return false;
  return true;
}

/// One input path (not a glob): a file is a document, a directory its files sorted by path.
bool add_path(const std::string& path, std::vector<BatchDocument>& docs, std::optional<Error>& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = invalid("input " + shown(path) + ": " + errno_text(errno));
    return false;
  }
  if (S_ISREG(st.st_mode)) {
    docs.push_back(file_document(path));
    return true;
  }
  if (!S_ISDIR(st.st_mode)) {
    error = invalid("input " + shown(path) + ": not a regular file or a directory");
    return false;
  }
  std::vector<std::string> files;
  if (!walk_directory(path, 0, files, error)) return false;
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) docs.push_back(file_document(file));
  return true;
}

bool add_glob(const std::string& pattern, std::vector<BatchDocument>& docs,
              std::optional<Error>& error) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);  // sorted by glob(3)
  if (rc == GLOB_NOMATCH) {
    ::globfree(&g);
    error = invalid("input pattern " + shown(pattern) + " matches no file");
    return false;
  }
  if (rc != 0) {
    ::globfree(&g);
    error = invalid("input pattern " + shown(pattern) + ": " +
                    (rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read"));
    return false;
  }
  std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  ::globfree(&g);
  for (const std::string& match : matches)
    if (!add_path(match, docs, error)) return false;
  return true;
}

/// One manifest line to a document; false with `problem` saying what is wrong with it.
bool manifest_document(std::string_view line, BatchDocument& doc, std::string& problem) {
  if (parsers::json_too_deep(line, kMaxManifestDepth)) {
    problem = parsers::json_depth_problem(kMaxManifestDepth);
    return false;
  }
  const nlohmann::json j = parsers::parse_untrusted(line);
  if (j.is_discarded()) {
    problem = "not JSON (or not UTF-8)";
    return false;
  }
  if (!j.is_object()) {
    problem = "not a JSON object";
    return false;
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "id" && key != "path" && key != "text" && key != "vars") {
      problem = "unknown field " + shown(key) + " (fields: id, path, text, vars)";
      return false;
    }
  }
  const auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    problem = "\"id\" must be a non-empty string";
    return false;
  }
  doc.id = id->get<std::string>();
  doc.input = doc.id;
  const auto path = j.find("path");
  const auto text = j.find("text");
  if ((path == j.end()) == (text == j.end())) {
    problem = "exactly one of \"path\" and \"text\" is needed";
    return false;
  }
  if (path != j.end()) {
    if (!path->is_string() || path->get_ref<const std::string&>().empty()) {
      problem = "\"path\" must be a non-empty string";
      return false;
    }
    doc.path = path->get<std::string>();
  } else {
    if (!text->is_string()) {
      problem = "\"text\" must be a string";
      return false;
    }
    doc.text = text->get<std::string>();
  }
  const auto vars = j.find("vars");
  if (vars != j.end()) {
    if (!vars->is_object()) {
      problem = "\"vars\" must be an object";
      return false;
    }
    for (const auto& [key, value] : vars->items()) {
      if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
        problem = "vars." + key + " must be a string, a number or a boolean";
        return false;
      }
    }
    doc.vars = *vars;
  }
  return true;
}

bool add_manifest(const std::string& manifest, std::vector<BatchDocument>& docs,
                  std::optional<Error>& error) {
  const std::string name = "manifest " + shown(manifest);
  struct stat st {};
  if (::stat(manifest.c_str(), &st) != 0) {
    error = invalid(name + ": " + errno_text(errno));
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = invalid(name + ": is a directory");
    return false;
  }
  // A pipe (`--manifest <(…)`) is read to its end; a regular file never blocks.
  const int fd = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = invalid(name + ": " + errno_text(errno));
    return false;
  }
  std::string line;
  int64_t line_no = 0;
  bool ok = true;
  bool too_long = false;
  auto finish_line = [&]() {
    ++line_no;
    if (too_long) {
      error = invalid(name + " line " + std::to_string(line_no) + ": longer than " +
                      std::to_string(kMaxManifestLineBytes) + " bytes");
      return false;
    }
    if (!text::trim(line).empty()) {
      BatchDocument doc;
      std::string problem;
      if (!manifest_document(line, doc, problem)) {
        error = invalid(name + " line " + std::to_string(line_no) + ": " + problem);
        return false;
      }
      docs.push_back(std::move(doc));
    }
    line.clear();
    return true;
  };
  char buf[65536];
  while (ok) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = invalid(name + ": " + errno_text(errno));
      ok = false;
      break;
    }
    if (n == 0) {
      if (!line.empty() || too_long) ok = finish_line();
      break;
    }
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    while (ok && !chunk.empty()) {
      const std::size_t nl = chunk.find('\n');
      const std::string_view piece = chunk.substr(0, nl);
      if (!too_long) {
        if (line.size() + piece.size() > kMaxManifestLineBytes) {
          too_long = true;
          line.clear();
        } else {
          line.append(piece);
        }
      }
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
      ok = finish_line();
      too_long = false;
    }
  }
  ::close(fd);
  return ok;
}

/// A non-negative decimal integer (digits only, no sign, no spaces).
std::optional<int64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return std::nullopt;
  return std::string(value);
}

std::optional<int64_t> env_count(const char* name, const std::string& value,
                                 std::optional<Error>& error) {
  auto n = parse_count(value);
  if (!n)
    error = invalid("environment variable " + std::string(name) + "=" + shown(value) +
                    ": not a non-negative integer");
  return n;
}

}  // namespace

bool template_uses_text(std::string_view prompt_template) {
  return prompt_template.find("{document.text}") != std::string_view::npos;
}

std::optional<std::string> render_batch_prompt(std::string_view prompt_template,
                                               const BatchDocument& document,
                                               const std::optional<std::string>& text,
                                               std::optional<Error>& error) {
  static constexpr std::string_view kName = "{document.name}";
  static constexpr std::string_view kPath = "{document.path}";
  static constexpr std::string_view kText = "{document.text}";
  static constexpr std::string_view kVars = "{vars.";
  std::string out;
  out.reserve(prompt_template.size() + (text ? text->size() : 0));
  std::size_t i = 0;
  while (i < prompt_template.size()) {
    const std::size_t brace = prompt_template.find('{', i);
    if (brace == std::string_view::npos) {
      out.append(prompt_template.substr(i));
      break;
    }
    out.append(prompt_template.substr(i, brace - i));
    const std::string_view rest = prompt_template.substr(brace);
    if (rest.starts_with(kName)) {
      out += document.path ? path_id(last_component(*document.path)) : document.id;
      i = brace + kName.size();
    } else if (rest.starts_with(kPath)) {
      if (document.path) out += path_id(*document.path);
      i = brace + kPath.size();
    } else if (rest.starts_with(kText)) {
      if (!text) {
        error = invalid("prompt template: {document.text} has no text for document " +
                        shown(document.id) + " (attach delivery, or not a text document)");
        return std::nullopt;
      }
      out += *text;
      i = brace + kText.size();
    } else if (rest.starts_with(kVars)) {
      // {vars.KEY}: KEY is letters, digits, '_', '-', '.'; anything else is literal text.
      std::size_t end = kVars.size();
      while (end < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[end])) ||
                                   rest[end] == '_' || rest[end] == '-' || rest[end] == '.'))
        ++end;
      if (end == kVars.size() || end >= rest.size() || rest[end] != '}') {
        out += '{';
        i = brace + 1;
        continue;
      }
      const std::string key(rest.substr(kVars.size(), end - kVars.size()));
      const auto var = document.vars.is_object() ? document.vars.find(key) : document.vars.end();
      if (!document.vars.is_object() || var == document.vars.end()) {
        error = invalid("prompt template: {vars." + key + "} is not a var of document " +
                        shown(document.id));
        return std::nullopt;
      }
      out += var->is_string() ? var->get<std::string>()
                              : var->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      i = brace + end + 1;
    } else {
      out += '{';
      i = brace + 1;
    }
  }
  return out;
}

std::string batch_document_key(std::string_view prompt_template, std::string_view content,
                               const nlohmann::json& vars, std::string_view route,
                               std::string_view model, std::string_view schema_text) {
  const std::string vars_text =
      vars.is_null() ? std::string("{}")
                     : vars.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string data = "drover-batch-key-1\n";
  data.reserve(data.size() + prompt_template.size() + content.size() + vars_text.size() +
               route.size() + model.size() + schema_text.size() + 64);
  for (std::string_view field : {prompt_template, content, std::string_view(vars_text), route,
                                 model, schema_text}) {
    data += std::to_string(field.size());
    data += ':';
    data.append(field);
  }
  return sha256_hex(data);
}

int64_t batch_shard_of(std::string_view id, int64_t count) {
  if (count <= 1) return 0;
  const std::string digest = sha256_hex(id);
  uint64_t value = 0;
  std::from_chars(digest.data(), digest.data() + 16, value, 16);
  return static_cast<int64_t>(value % static_cast<uint64_t>(count));
}

std::optional<BatchShard> parse_batch_shard(std::string_view text, std::optional<Error>& error) {
  const std::size_t slash = text.find('/');
  std::optional<int64_t> index, count;
  if (slash != std::string_view::npos) {
    index = parse_count(text.substr(0, slash));
    count = parse_count(text.substr(slash + 1));
  }
  if (!index || !count || *count < 1 || *index >= *count) {
    error = invalid("shard " + shown(text) + ": expected I/N with 0 <= I < N (e.g. 0/4)");
    return std::nullopt;
  }
  return BatchShard{*index, *count};
}

std::optional<std::string> read_batch_document(const BatchDocument& document, uint64_t max_bytes,
                                               std::optional<Error>& error) {
  // Built only for an error: this runs once per document on the loop.
  auto name = [&document] { return "document " + shown(document.id); };
  if (!document.path) {
    if (!document.text) {
      error = invalid(name() + ": has neither a path nor a text");
      return std::nullopt;
    }
    if (document.text->size() > max_bytes) {
      error = invalid(name() + ": its text is bigger than " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    return *document.text;
  }
  const std::string& path = *document.path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = invalid(name() + ": " + errno_text(errno));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = invalid(name() + ": not a regular file");
    return std::nullopt;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    error = invalid(name() + ": " + std::to_string(st.st_size) + " bytes, more than " +
                    std::to_string(max_bytes));
    return std::nullopt;
  }
  // Non-blocking: a FIFO swapped in after the stat must not hang the batch.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    error = invalid(name() + ": " + errno_text(errno));
    return std::nullopt;
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = invalid(name() + ": not a regular file");
    return std::nullopt;
  }
  std::string content;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      error = invalid(name() + ": " + errno_text(err));
      return std::nullopt;
    }
    if (n == 0) break;
    if (content.size() + static_cast<uint64_t>(n) > max_bytes) {  // it grew since the stat
      ::close(fd);
      error = invalid(name() + ": more than " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    content.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

std::vector<BatchDocument> collect_batch_documents(const std::vector<std::string>& inputs,
                                                   const std::optional<std::string>& manifest,
                                                   std::optional<Error>& error) {
  std::vector<BatchDocument> found;
  for (const std::string& input : inputs) {
    if (input.empty()) {
      error = invalid("input \"\": an empty path");
      return {};
    }
    // A name with glob characters that exists as written is that file, not a pattern.
    struct stat st {};
    const bool ok = is_glob(input) && ::lstat(input.c_str(), &st) != 0
                        ? add_glob(input, found, error)
                        : add_path(input, found, error);
    if (!ok) return {};
  }
  if (manifest && !add_manifest(*manifest, found, error)) return {};
  std::vector<BatchDocument> docs;
  docs.reserve(found.size());
  std::set<std::string> seen;
  for (BatchDocument& doc : found) {
    if (!seen.insert(doc.id).second) {
      spdlog::warn("document {} is given more than once; the first one is kept", shown(doc.id));
      continue;
    }
    docs.push_back(std::move(doc));
  }
  return docs;
}

std::optional<BatchShard> shard_from_environment(std::optional<int64_t> shards,
                                                 std::optional<Error>& error) {
  if (const auto task_id = env("SLURM_ARRAY_TASK_ID")) {
    const auto id = env_count("SLURM_ARRAY_TASK_ID", *task_id, error);
    if (!id) return std::nullopt;
    const auto count_text = env("SLURM_ARRAY_TASK_COUNT");
    if (!count_text) {
      error = invalid("environment variable SLURM_ARRAY_TASK_COUNT is not set (SLURM_ARRAY_TASK_ID is)");
      return std::nullopt;
    }
    const auto count = env_count("SLURM_ARRAY_TASK_COUNT", *count_text, error);
    if (!count) return std::nullopt;
    if (*count < 1) {
      error = invalid("environment variable SLURM_ARRAY_TASK_COUNT=" + shown(*count_text) +
                      ": must be at least 1");
      return std::nullopt;
    }
    // An array need not start at 0 (--array=1-4) nor step by 1 (--array=0-6:2).
    int64_t min = 0, step = 1;
    if (const auto min_text = env("SLURM_ARRAY_TASK_MIN")) {
      const auto v = env_count("SLURM_ARRAY_TASK_MIN", *min_text, error);
      if (!v) return std::nullopt;
      min = *v;
    }
    if (const auto step_text = env("SLURM_ARRAY_TASK_STEP")) {
      const auto v = env_count("SLURM_ARRAY_TASK_STEP", *step_text, error);
      if (!v) return std::nullopt;
      step = std::max<int64_t>(*v, 1);
    }
    if (*id < min || (*id - min) % step != 0 || (*id - min) / step >= *count) {
      error = invalid("environment variables SLURM_ARRAY_TASK_ID=" + std::to_string(*id) +
                      ", SLURM_ARRAY_TASK_MIN=" + std::to_string(min) +
                      ", SLURM_ARRAY_TASK_STEP=" + std::to_string(step) +
                      ", SLURM_ARRAY_TASK_COUNT=" + std::to_string(*count) +
                      ": the task is not one of the array's (use --shard I/N)");
      return std::nullopt;
    }
    return BatchShard{(*id - min) / step, *count};
  }
  if (const auto index_text = env("JOB_COMPLETION_INDEX")) {
    const auto index = env_count("JOB_COMPLETION_INDEX", *index_text, error);
    if (!index) return std::nullopt;
    if (!shards) {
      error = invalid("environment variable JOB_COMPLETION_INDEX is set: --shards N (the Job's "
                      "completions) is needed with it");
      return std::nullopt;
    }
    if (*shards < 1 || *index >= *shards) {
      error = invalid("environment variable JOB_COMPLETION_INDEX=" + shown(*index_text) +
                      ": not below --shards " + std::to_string(*shards));
      return std::nullopt;
    }
    return BatchShard{*index, *shards};
  }
  return std::nullopt;
}

}  // namespace drover
