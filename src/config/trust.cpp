#include "src/config/trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "parsers/utf8.h"
#include "src/core/sha256.h"

namespace drover {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// `$schema`-style and `//` keys are comments to the config parser, never settings.
bool comment_key(const std::string& key) {
  return (!key.empty() && key[0] == '$') || key.rfind("//", 0) == 0;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}


// A preset-based account's transport may change only these; everything else is executable.
std::optional<std::string> executable_transport(const ojson& transport, const std::string& path) {
  if (!transport.is_object()) return path;
  for (const auto& [key, value] : transport.items()) {
    if (comment_key(key) || key == "id") continue;
    const std::string kpath = path + "." + key;
    if ((key != "cli" && key != "acp") || !value.is_object()) return kpath;
    for (const auto& [setting, ignored] : value.items()) {
      (void)ignored;
      if (comment_key(setting) || setting == "watchdog" || setting == "maxOutputBytes") continue;
      return kpath + "." + setting;
    }
  }
  return std::nullopt;
}

std::optional<std::string> executable_account(const ojson& account, const std::string& path) {
  if (!account.is_object()) return path;
  const auto preset = account.find("preset");
  if (preset == account.end() || !preset->is_string()) return path + ".transport";
  for (const auto& [key, value] : account.items()) {
    if (comment_key(key) || key == "id" || key == "preset" || key == "models") continue;
    if (key != "transport") return path + "." + key;
    if (auto found = executable_transport(value, path + ".transport")) return found;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> read_config_file(const std::string& file, std::string& text) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return file + ": no such file";
  if (!fs::is_regular_file(file, ec)) return file + ": not a regular file";
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec) return "cannot read " + file;
  if (size > kMaxConfigFileBytes)
    return file + ": larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  std::ifstream in(file, std::ios::binary);
  std::string content(static_cast<std::size_t>(size), '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(content.size()))
    return "cannot read " + file;
  text = std::move(content);
  return std::nullopt;
}

std::string trust_store_path(const ConfigLookup& lookup) {
  const std::string dir = lookup.config_dir();
  return dir.empty() ? std::string() : dir + "/trusted.json";
}

std::string workspace_config_path(const ConfigLookup& lookup) {
  return (fs::path(lookup.workspace_dir.empty() ? "." : lookup.workspace_dir) / "drover.json")
      .lexically_normal()
      .string();
}

std::string trust_key(const std::string& file) {
  std::error_code ec;
  fs::path p = fs::absolute(file, ec);
  if (ec) p = file;
  p = p.lexically_normal();
  fs::path dir = fs::canonical(p.parent_path(), ec);
  if (ec) dir = p.parent_path();
  return (dir / p.filename()).string();
}

std::optional<TrustStore> read_trust_store(const std::string& path, std::string& problem) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return TrustStore{};
  std::string text;
  if (auto read_problem = read_config_file(path, text)) {
    problem = *read_problem;
    return std::nullopt;
  }
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  const auto files = doc.is_object() ? doc.find("files") : doc.end();
  if (files == doc.end() || !files->is_object()) {
    problem = path +
              " is not a drover trust store (expected {\"files\": {PATH: {\"sha256\": …}}})";
    return std::nullopt;
  }
  TrustStore store;
  for (const auto& [file, entry] : files->items()) {
    const auto digest = entry.is_object() ? entry.find("sha256") : entry.end();
    if (digest == entry.end() || !digest->is_string() ||
        !is_sha256_hex(digest->get<std::string>())) {
      problem = path + ": files[" + nlohmann::json(file).dump() +
                "]: expected {\"sha256\": 64 hex digits}";
      return std::nullopt;
    }
    store[file] = digest->get<std::string>();
  }
  return store;
}

std::optional<std::string> write_trust_store(const std::string& path, const TrustStore& store) {
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create " + dir.string() + ": " + std::strerror(errno);
  }
  nlohmann::json doc = {{"version", 1}, {"files", nlohmann::json::object()}};
  for (const auto& [file, digest] : store) doc["files"][file] = {{"sha256", digest}};
  const std::string content =
      doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::string tmp = (dir / ".trusted.json.XXXXXX").string();
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return "cannot write " + path + ": " + std::strerror(errno);
  auto fail = [&](const char* what) {
    const std::string message =
        std::string("cannot ") + what + " " + path + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return message;
  };
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("write");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + path + ": " + std::strerror(errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string message = "cannot replace " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return message;
  }
  return std::nullopt;
}

std::optional<std::string> trust_file(const std::string& store_path, const std::string& file,
                                      std::string& key, std::string& digest) {
  std::string text;
  if (auto problem = read_config_file(file, text)) return problem;
  key = trust_key(file);
  digest = sha256_hex(text);
  std::string problem;
  auto store = read_trust_store(store_path, problem);
  if (!store) return problem;
  (*store)[key] = digest;
  return write_trust_store(store_path, *store);
}

std::optional<std::string> untrust_file(const std::string& store_path, const std::string& file,
                                        std::string& key, bool& removed) {
  key = trust_key(file);
  std::string problem;
  auto store = read_trust_store(store_path, problem);
  if (!store) return problem;
  removed = store->erase(key) > 0;
  if (!removed) return std::nullopt;
  return write_trust_store(store_path, *store);
}

std::string trusted_file_state(const std::string& path, const std::string& digest) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "missing";
  std::string text;
  if (read_config_file(path, text)) return "unreadable";
  return sha256_hex(text) == digest ? "trusted" : "changed";
}

std::optional<std::string> executable_content(const ojson& doc) {
  if (!doc.is_object()) return std::string("(the top level)");
  for (const auto& [key, value] : doc.items()) {
    if (comment_key(key) || key == "defaultRoute" || key == "description" || key == "routing")
      continue;
    if (key != "providers" || !value.is_object()) return key;
    for (const auto& [id, provider] : value.items()) {
      if (comment_key(id)) continue;
      const std::string ppath = "providers." + id;
      if (!provider.is_object()) return ppath;
      for (const auto& [pkey, accounts] : provider.items()) {
        if (comment_key(pkey)) continue;
        if (pkey != "accounts" || !accounts.is_array()) return ppath + "." + pkey;
        for (size_t i = 0; i < accounts.size(); ++i)
          if (auto found =
                  executable_account(accounts[i], ppath + ".accounts[" + std::to_string(i) + "]"))
            return found;
      }
    }
  }
  return std::nullopt;
}

WorkspaceVerdict judge_workspace_file(const ConfigLookup& lookup, const std::string& file,
                                      const std::string& text, const ojson& doc,
                                      const std::set<std::string>& reserved) {
  WorkspaceVerdict verdict;
  verdict.key = trust_key(file);
  std::string problem;
  const std::string store_path = trust_store_path(lookup);
  const auto store = store_path.empty() ? std::optional<TrustStore>(TrustStore{})
                                        : read_trust_store(store_path, problem);
  const auto entry = store ? store->find(verdict.key) : TrustStore::const_iterator{};
  const bool recorded = store && entry != store->end();
  if (recorded && entry->second == sha256_hex(text)) return verdict;  // trusted
  const auto executable = executable_content(doc);
  if (!executable) {
    verdict.trust = WorkspaceVerdict::Trust::data_only;
    return verdict;
  }
  verdict.trust = WorkspaceVerdict::Trust::untrusted;
  verdict.ignored.path = verdict.key;
  if (doc.is_object()) {
    verdict.ignored.sets_default_route = doc.contains("defaultRoute");
    if (auto providers = doc.find("providers"); providers != doc.end() && providers->is_object())
      for (const auto& [id, ignored] : providers->items()) {
        (void)ignored;
        if (!comment_key(id) && !reserved.count(id)) verdict.ignored.providers.push_back(id);
      }
  }
  verdict.notice = "ignoring " + verdict.key + ": it can run commands (" + *executable + ") and " +
                   (recorded ? "it changed since it was trusted" : "it is not trusted") +
                   "; review it, then run: drover trust " + shell_word(verdict.key);
  if (!problem.empty()) verdict.notice += " (" + problem + ")";
  verdict.notice = parsers::valid_utf8(verdict.notice);
  return verdict;
}

std::string shell_word(const std::string& path) {
  const bool safe = !path.empty() && std::all_of(path.begin(), path.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("_@%+=:,./-", c) != nullptr;
  });
  if (safe) return path;
  std::string out = "'";
  for (char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::optional<Error> Config::untrusted_dependency(const std::string& id) const {
  const bool own_routes = std::any_of(providers.begin(), providers.end(),
                                      [](const ProviderSpec& p) { return p.preset.empty(); });
  const std::string provider = id.substr(0, id.find(':'));
  for (const auto& file : untrusted) {
    std::string what;
    if (id.empty()) {
      if (file.sets_default_route || (!default_route && !own_routes && !file.providers.empty()))
        what = "the default route";
    } else if (std::find(file.providers.begin(), file.providers.end(), provider) !=
               file.providers.end()) {
      what = "route " +
             nlohmann::json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (what.empty()) continue;
    return Error::make(ErrorCode::config_error,
                       parsers::valid_utf8(what + " comes from " + file.path +
                                           ", which can run commands and is not trusted; review "
                                           "it, then run: drover trust " +
                                           shell_word(file.path) +
                                           (id.empty() ? " (or name another route)" : "")));
  }
  return std::nullopt;
}

}  // namespace drover
