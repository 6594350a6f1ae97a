// The schema helpers every section of a config file is read with: JSON paths for messages
// (`providers.acme.accounts[0].transport.cli`), typed members that report what was expected and
// what was found, unknown keys with a suggestion. Internal to src/config/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "drover/config.h"
#include "src/config/presets.h"

namespace drover::cfg {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

/// A string as a JSON literal; never throws (invalid UTF-8 from a command line is replaced).
std::string quote(const std::string& s);
/// Paths look like select_path's syntax: `providers.acme.accounts[0]`, `providers["a b"]`.
std::string child(const std::string& path, std::string_view key);
std::string child(const std::string& path, size_t index);
/// What was found, for "expected X, got Y".
std::string describe(const ojson& v);
/// `$schema`-style and `//` comment keys are for editors and humans, never for us.
bool ignored_key(std::string_view key);
/// Closest known key within edit distance 2 (case-insensitive), or nullopt.
std::optional<std::string> suggest(std::string_view key,
                                   const std::vector<std::string_view>& known);
std::string join(const std::vector<std::string_view>& items, std::string_view sep);
/// Ids are route-id parts: non-empty, no ':' (the separator) and no whitespace.
std::optional<std::string> id_problem(const std::string& id);
/// The collected errors as one message (the first 20, then how many more).
std::string join_errors(const std::vector<std::string>& errors);
/// Replaces invalid UTF-8 with U+FFFD (messages end up in JSON output).
std::string valid_utf8(const std::string& in);
Error config_error(const std::string& message);

// argv entries and environment values reach execve() as C strings: a NUL would cut them short.
inline constexpr const char* kNulInArgv =
    "contains a NUL byte (\\u0000), which cannot be passed to a process (it would cut the "
    "string short)";

struct Ctx {
  std::string origin;  // names the source in every message
  const std::vector<PresetSource>* presets = nullptr;  // for accounts that say "preset"
  fs::path base_dir;   // relative paths (cwd) are resolved against it
  std::vector<std::string> errors;
  // Paths of keys an unknown key was suggested as: their "missing" error would only repeat it.
  std::set<std::string> suggested;
  // Keys the ai-connect layout normalization moved (src/config/ai_connect.cpp): the path drover
  // reads a value at -> the path it was written at, so a message names what is in the file.
  std::map<std::string, std::string> moved;

  void error(const std::string& path, const std::string& message) {
    auto it = moved.find(path);
    const std::string& shown = it == moved.end() ? path : it->second;
    errors.push_back(origin + ": " + (shown.empty() ? "" : shown + ": ") + message);
  }
  void expected(const std::string& path, const std::string& what, const ojson& found) {
    error(path, "expected " + what + ", got " + describe(found));
  }

  // Reports every key of `obj` that is not in `known`, with a suggestion when one is close.
  void check_keys(const ojson& obj, const std::string& path,
                  const std::vector<std::string_view>& known) {
    for (const auto& [key, value] : obj.items()) {
      if (ignored_key(key)) continue;
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      if (auto s = suggest(key, known)) {
        suggested.insert(child(path, *s));
        error(child(path, key), "unknown key (did you mean \"" + *s + "\"?)");
      } else {
        error(child(path, key), "unknown key (expected one of: " + join(known, ", ") + ")");
      }
    }
  }

  void missing(const std::string& path, const std::string& key, const std::string& what) {
    if (suggested.count(child(path, key))) return;
    error(path, "missing required key \"" + key + "\" (" + what + ")");
  }

  bool object(const ojson& v, const std::string& path) {
    if (v.is_object()) return true;
    expected(path, "an object", v);
    return false;
  }

  // Optional string member; reports a wrong type or (when non_empty) an empty string.
  std::optional<std::string> string_member(const ojson& obj, const std::string& path,
                                           const char* key, bool required, bool non_empty) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) missing(path, key, "a string");
      return std::nullopt;
    }
    if (!it->is_string()) {
      expected(child(path, key), "a string", *it);
      return std::nullopt;
    }
    auto s = it->get<std::string>();
    if (non_empty && s.empty()) {
      error(child(path, key), "expected a non-empty string, got \"\"");
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> bool_member(const ojson& obj, const std::string& path, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_boolean()) {
      expected(child(path, key), "true or false", *it);
      return std::nullopt;
    }
    return it->get<bool>();
  }

  std::optional<int64_t> positive_int_member(const ojson& obj, const std::string& path,
                                             const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (it->is_number_unsigned() && it->get<uint64_t>() > 0 &&
        it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
      return static_cast<int64_t>(it->get<uint64_t>());
    }
    if (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() > 0) {
      return it->get<int64_t>();
    }
    expected(child(path, key), "a positive integer", *it);
    return std::nullopt;
  }

  // Seconds (decimals allowed) -> milliseconds. `allow_zero` for grace/drain, where 0 means
  // "no wait" and is meaningful; timeouts must be > 0 (leave the key out to disable one).
  std::optional<int64_t> seconds_member(const ojson& obj, const std::string& path, const char* key,
                                        bool allow_zero) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    const char* what = allow_zero ? "a number of seconds >= 0" : "a number of seconds > 0";
    if (!it->is_number()) {
      expected(child(path, key), what, *it);
      return std::nullopt;
    }
    const double s = it->get<double>();
    // Upper bound keeps the millisecond value far from int64 overflow (~31 years).
    if (!std::isfinite(s) || s < 0 || (!allow_zero && s == 0) || s > 1e9) {
      expected(child(path, key), std::string(what) + (s > 1e9 ? " and at most 1e9" : ""), *it);
      return std::nullopt;
    }
    if (!allow_zero) return timeout_seconds_to_ms(s);
    int64_t ms = std::llround(s * 1000.0);
    if (s > 0 && ms == 0) ms = 1;  // a tiny positive timeout must not turn into "no wait"
    return ms;
  }

  // A timeout key of a watchdog: seconds > 0, or "none" for no limit (which also switches off
  // a default). Absent or invalid: `target` is left as it was.
  void timeout_member(const ojson& obj, const std::string& path, const char* key,
                      std::optional<int64_t>& target) {
    const auto it = obj.find(key);
    if (it == obj.end()) return;
    if (it->is_string()) {
      if (it->get<std::string>() == "none")
        target = std::nullopt;
      else
        expected(child(path, key), "a number of seconds > 0 or \"none\"", *it);
      return;
    }
    if (auto ms = seconds_member(obj, path, key, false)) target = ms;
  }

  std::optional<std::string> id_member(const ojson& obj, const std::string& path, const char* key,
                                       bool required, const char* what) {
    auto s = string_member(obj, path, key, required, false);
    if (!s) return std::nullopt;
    if (auto problem = id_problem(*s)) {
      error(child(path, key),
            std::string("invalid ") + what + " " + quote(*s) + ": " + *problem);
      return std::nullopt;
    }
    return s;
  }
};

/// A list of non-empty strings at `obj[key]` (absent: empty).
std::vector<std::string> string_list(Ctx& ctx, const ojson& obj, const std::string& path,
                                     const char* key);

}  // namespace drover::cfg
