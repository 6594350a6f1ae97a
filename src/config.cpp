// Configuration loading: JSON with comments -> validated plain structs (drover/config.h).
//
// Design notes:
// - Validation never stops at the first problem: every error is collected (the message shows the
//   first 20) so a user fixes the whole file in one go. Each message is
//   `<source>: <json.path>: <what was expected>, got <what was found>`.
// - Documents are parsed as ordered_json so providers, accounts and routes keep file order.
// - Route pointers (Route::provider_spec / account_spec) point into the Config they came from:
//   they stay valid while that Config lives and is neither modified nor moved. routes() and
//   resolve() recompute them on every call, so copying a Config is fine as long as routes are
//   taken from the copy they are used with.
#include "drover/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "args_template.h"
#include "parsers/json_limits.h"
#include "parsers/noise_filter.h"
#include "parsers/utf8.h"
#include "src/presets.h"
#include "src/trust.h"
#include "src/api/wire.h"

namespace drover {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr size_t kMaxShownErrors = 20;
constexpr size_t kMaxListedRoutes = 10;

// ---- small helpers -----------------------------------------------------------------------------

// A string as a JSON literal; never throws (invalid UTF-8 from a command line is replaced).
std::string quote(const std::string& s) {
  return ojson(s).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

bool is_simple_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

// Paths look like select_path's syntax: `providers.acme.accounts[0]`, `providers["a b"]`.
std::string child(const std::string& path, std::string_view key) {
  if (!is_simple_key(key)) return path + "[" + quote(std::string(key)) + "]";
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string child(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// What was found, for "expected X, got Y".
std::string describe(const ojson& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  std::string s = v.dump(-1, ' ', false, ojson::error_handler_t::replace);
  if (s.size() > 60) {
    size_t cut = 57;  // never split a UTF-8 sequence: messages end up in JSON output
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "...";
  }
  return s;
}

// `$schema`-style and `//` comment keys are for editors and humans, never for us.
bool ignored_key(std::string_view key) {
  return (!key.empty() && key[0] == '$') || key.rfind("//", 0) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// Closest known key within edit distance 2 (case-insensitive; `max_output_bytes` also finds
// `maxOutputBytes`, `idle` finds `idleTimeout`), or nullopt.
std::optional<std::string> suggest(std::string_view key,
                                   const std::vector<std::string_view>& known) {
  auto squash = [](std::string_view s) {
    std::string out;
    for (char c : lower(s))
      if (c != '_' && c != '-') out += c;
    return out;
  };
  std::optional<std::string> best;
  size_t best_d = 3;
  for (auto k : known) {
    size_t d = edit_distance(lower(key), lower(k));
    if (squash(key) == squash(k)) d = std::min<size_t>(d, 1);
    // A truncated key (`idle` for `idleTimeout`) is a likely slip too.
    if (key.size() >= 4 && lower(k).rfind(lower(key), 0) == 0) d = std::min<size_t>(d, 2);
    if (d < best_d && d < key.size()) {
      best_d = d;
      best = std::string(k);
    }
  }
  return best;
}

std::string join(const std::vector<std::string_view>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// Ids are route-id parts: non-empty, no ':' (the separator) and no whitespace.
std::optional<std::string> id_problem(const std::string& id) {
  if (id.empty()) return "must not be empty";
  if (id.find(':') != std::string::npos) return "must not contain ':' (it separates route parts)";
  for (unsigned char c : id)
    if (std::isspace(c) || std::iscntrl(c)) return "must not contain whitespace";
  return std::nullopt;
}

std::string join_errors(const std::vector<std::string>& errors) {
  std::string out;
  const size_t shown = std::min(errors.size(), kMaxShownErrors);
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += '\n';
    out += errors[i];
  }
  if (errors.size() > shown)
    out += "\n... and " + std::to_string(errors.size() - shown) + " more errors";
  return out;
}

std::string route_list(const std::vector<Route>& routes) {
  std::string out;
  const size_t shown = std::min(routes.size(), kMaxListedRoutes);
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    out += routes[i].id;
  }
  if (routes.size() > shown) out += " … and " + std::to_string(routes.size() - shown) + " more";
  return out;
}

std::string route_id(const std::string& provider, const std::string& transport,
                     const std::string& account, const std::string& model) {
  return provider + ":" + transport + ":" + account + ":" + model;
}

// ---- validation context ------------------------------------------------------------------------

struct Ctx {
  std::string origin;  // names the source in every message
  const std::vector<PresetSource>* presets = nullptr;  // for accounts that say "preset"
  fs::path base_dir;   // relative paths (cwd) are resolved against it
  std::vector<std::string> errors;
  // Paths of keys an unknown key was suggested as: their "missing" error would only repeat it.
  std::set<std::string> suggested;

  void error(const std::string& path, const std::string& message) {
    errors.push_back(origin + ": " + (path.empty() ? "" : path + ": ") + message);
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

}  // namespace

std::optional<ContextMode> context_mode_from_string(std::string_view name) noexcept {
  if (name == "workspace") return ContextMode::workspace;
  if (name == "clean") return ContextMode::clean;
  return std::nullopt;
}

std::optional<PermissionPolicy> permission_policy_from_string(std::string_view name) noexcept {
  if (name == "approve-all") return PermissionPolicy::approve_all;
  if (name == "approve-reads") return PermissionPolicy::approve_reads;
  if (name == "deny-all") return PermissionPolicy::deny_all;
  return std::nullopt;
}

std::optional<PermissionEnforcement> permission_enforcement_from_string(
    std::string_view name) noexcept {
  if (name == "agent-asks") return PermissionEnforcement::agent_asks;
  if (name == "mapped") return PermissionEnforcement::mapped;
  if (name == "none") return PermissionEnforcement::none;
  return std::nullopt;
}

std::string_view to_string(TransportKind kind) noexcept {
  switch (kind) {
    case TransportKind::cli: return "cli";
    case TransportKind::acp: return "acp";
    case TransportKind::api: return "api";
  }
  return "cli";
}

std::optional<TransportKind> transport_kind_from_string(std::string_view name) noexcept {
  if (name == "cli") return TransportKind::cli;
  if (name == "acp") return TransportKind::acp;
  if (name == "api") return TransportKind::api;
  return std::nullopt;
}

std::string_view to_string(PermissionEnforcement enforcement) noexcept {
  switch (enforcement) {
    case PermissionEnforcement::agent_asks: return "agent-asks";
    case PermissionEnforcement::mapped: return "mapped";
    case PermissionEnforcement::none: return "none";
  }
  return "none";
}

std::string_view to_string(PermissionPolicy policy) noexcept {
  switch (policy) {
    case PermissionPolicy::approve_all: return "approve-all";
    case PermissionPolicy::approve_reads: return "approve-reads";
    case PermissionPolicy::deny_all: return "deny-all";
  }
  return "approve-reads";
}

std::optional<int64_t> timeout_seconds_to_ms(double seconds) noexcept {
  // The upper bound keeps the millisecond value far from int64 overflow.
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 1e9) return std::nullopt;
  return std::max<int64_t>(1, std::llround(seconds * 1000.0));
}

namespace {

// ---- parser -------------------------------------------------------------------------------------

constexpr std::array<std::pair<const char*, const char*>, 6> kSelectors{{
    {"text", "textPath"},
    {"usage", "usagePath"},
    {"error", "errorPath"},
    {"sessionId", "sessionIdPath"},
    {"stopReason", "stopReasonPath"},
    {"model", "modelPath"},
}};

// A selector path may be empty: it then selects the whole document (or line), e.g. a usage
// object at the top level. The where filter applies in json parsers too (the one document must
// match, e.g. error = `result` only when `is_error` is true) as well as per line in jsonl.
std::optional<Selector> parse_selector(Ctx& ctx, const ojson& parser, const std::string& path,
                                       const char* name, const char* path_name) {
  const auto short_it = parser.find(name);
  const auto long_it = parser.find(path_name);
  if (short_it != parser.end() && long_it != parser.end()) {
    ctx.error(child(path, path_name),
              std::string("give either \"") + name + "\" or \"" + path_name + "\", not both");
    return std::nullopt;
  }
  if (long_it != parser.end()) {
    auto p = ctx.string_member(parser, path, path_name, false, false);
    if (!p) return std::nullopt;
    return Selector{*p, {}, std::nullopt};
  }
  if (short_it == parser.end()) return std::nullopt;
  const std::string spath = child(path, name);
  if (short_it->is_string()) {
    auto p = ctx.string_member(parser, path, name, false, false);
    if (!p) return std::nullopt;
    return Selector{*p, {}, std::nullopt};
  }
  if (!short_it->is_object()) {
    ctx.expected(spath, "a path string or an object {path, wherePath, whereEquals}", *short_it);
    return std::nullopt;
  }
  const ojson& obj = *short_it;
  ctx.check_keys(obj, spath, {"path", "wherePath", "whereEquals"});
  Selector sel;
  bool ok = true;
  if (auto p = ctx.string_member(obj, spath, "path", true, false))
    sel.path = *p;
  else
    ok = false;
  const bool has_where_path = obj.contains("wherePath");
  const bool has_where_equals = obj.contains("whereEquals");
  if (has_where_path || has_where_equals) {
    // wherePath alone gates on the field being present and neither null nor false (see
    // parsers/selector.h); whereEquals alone has nothing to compare.
    if (!has_where_path) {
      ctx.error(spath, "whereEquals needs wherePath (the field to compare)");
      ok = false;
    }
    if (auto wp = ctx.string_member(obj, spath, "wherePath", false, true))
      sel.where_path = *wp;
    else if (has_where_path)
      ok = false;
    if (has_where_equals) sel.where_equals = nlohmann::json(obj.at("whereEquals"));
  }
  if (!ok) return std::nullopt;
  return sel;
}

// `answer_in_file`: the template names {output_file}, where the harness writes its answer, so
// stdout needs no text selector.
ParserSpec parse_parser(Ctx& ctx, const ojson& v, const std::string& path, bool answer_in_file) {
  ParserSpec spec;
  if (!ctx.object(v, path)) return spec;
  std::vector<std::string_view> selector_keys;
  for (const auto& [n, p] : kSelectors) {
    selector_keys.push_back(n);
    selector_keys.push_back(p);
  }
  const auto kind = ctx.string_member(v, path, "kind", true, false);
  if (!kind) return spec;
  if (*kind == "text") {
    spec.kind = ParserSpec::Kind::text;
    for (auto k : selector_keys)
      if (v.contains(std::string(k)))
        ctx.error(child(path, k), "only valid in json and jsonl parsers, this one is \"text\"");
    // Selector keys were reported above with a better message than "unknown key".
    std::vector<std::string_view> known{"kind", "trim", "stripAnsi"};
    known.insert(known.end(), selector_keys.begin(), selector_keys.end());
    ctx.check_keys(v, path, known);
    if (auto b = ctx.bool_member(v, path, "trim")) spec.trim = *b;
    if (auto b = ctx.bool_member(v, path, "stripAnsi")) spec.strip_ansi = *b;
    return spec;
  }
  if (*kind != "json" && *kind != "jsonl") {
    ctx.expected(child(path, "kind"), "one of json, jsonl, text", v.at("kind"));
    return spec;
  }
  const bool jsonl = *kind == "jsonl";
  spec.kind = jsonl ? ParserSpec::Kind::jsonl : ParserSpec::Kind::json;
  for (const char* k : {"trim", "stripAnsi"})
    if (v.contains(k))
      ctx.error(child(path, k), "only valid in text parsers, this one is \"" + *kind + "\"");
  std::vector<std::string_view> known{"kind", "trim", "stripAnsi"};  // trim: reported above
  known.insert(known.end(), selector_keys.begin(), selector_keys.end());
  ctx.check_keys(v, path, known);
  std::optional<Selector>* targets[] = {&spec.text,       &spec.usage,       &spec.error,
                                        &spec.session_id, &spec.stop_reason, &spec.model};
  for (size_t i = 0; i < kSelectors.size(); ++i)
    *targets[i] = parse_selector(ctx, v, path, kSelectors[i].first, kSelectors[i].second);
  // Without a text selector a structured parser has no answer to return.
  if (!answer_in_file && !v.contains("text") && !v.contains("textPath") &&
      !ctx.suggested.count(child(path, "text")) &&
      !ctx.suggested.count(child(path, "textPath")))
    ctx.error(path, "missing required key \"text\" or \"textPath\" (where the answer is)");
  return spec;
}

// ---- cli ---------------------------------------------------------------------------------------

// argv entries and environment values reach execve() as C strings: a NUL would cut them short.
constexpr const char* kNulInArgv =
    "contains a NUL byte (\\u0000), which cannot be passed to a process (it would cut the "
    "string short)";

// Reads argsTemplate and checks every token with its exact path (`argsTemplate[2]` for a
// plain string, `argsTemplate[2][1]` inside a group).
// `when` conditions of a conditional argv group (CliSpec::args_when).
bool valid_condition(std::string_view c) {
  if (!c.empty() && c[0] == '!') c.remove_prefix(1);
  static constexpr std::array<std::string_view, 9> kFlags{
      "clean",      "workspace",   "resume",        "fresh",   "ephemeral",
      "persistent", "approve-all", "approve-reads", "deny-all"};
  if (std::find(kFlags.begin(), kFlags.end(), c) != kFlags.end()) return true;
  return c.size() > 4 && c.substr(0, 4) == "env:" && c.find('=') == std::string_view::npos;
}

std::vector<std::string> parse_when(Ctx& ctx, const ojson& v, const std::string& path) {
  std::vector<std::string> when;
  const bool list = v.is_array();
  if (!list && !v.is_string()) {
    ctx.expected(path, "a condition or an array of conditions", v);
    return when;
  }
  for (size_t i = 0; i < (list ? v.size() : 1); ++i) {
    const ojson& c = list ? v[i] : v;
    const std::string cpath = list ? child(path, i) : path;
    if (c.is_string() && valid_condition(c.get<std::string>()))
      when.push_back(c.get<std::string>());
    else
      ctx.expected(cpath,
                   "a condition: clean, workspace, resume, fresh, ephemeral, persistent, "
                   "approve-all, approve-reads, deny-all or env:NAME (optionally negated with a "
                   "leading !)",
                   c);
  }
  return when;
}

// {"when": conditions, "args": token or group}: used only when every condition holds. Returns
// its "args" (and sets `path` to theirs) or nullptr when they are missing.
const ojson* conditional_args(Ctx& ctx, const ojson& element, std::string& path,
                              std::vector<std::string>& when) {
  ctx.check_keys(element, path, {"when", "args"});
  if (auto w = element.find("when"); w != element.end())
    when = parse_when(ctx, *w, child(path, "when"));
  else
    ctx.missing(path, "when", "the conditions under which the args are used");
  auto a = element.find("args");
  if (a == element.end()) {
    ctx.missing(path, "args", "the token or group of tokens to add");
    return nullptr;
  }
  path = child(path, "args");
  return &*a;
}

void parse_args_template_json(Ctx& ctx, const ojson& v, const std::string& path,
                              std::optional<CliSpec::Input> input,
                              std::vector<std::vector<std::string>>& out,
                              std::vector<std::vector<std::string>>& out_when) {
  if (!v.is_array()) {
    ctx.expected(path, "an array of strings and string arrays", v);
    return;
  }
  bool any_prompt = false;
  bool all_parsed = true;
  bool any_when = false;
  std::vector<std::vector<std::string>> whens;
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson* element = &v[i];
    std::string gpath = child(path, i);
    std::vector<std::string> when;
    if (element->is_object()) {
      element = conditional_args(ctx, *element, gpath, when);
      if (element == nullptr) {
        all_parsed = false;
        continue;
      }
      any_when = true;
    }
    const ojson& el = *element;
    std::vector<std::string> group;
    std::vector<std::string> paths;
    if (el.is_string()) {
      group.push_back(el.get<std::string>());
      paths.push_back(gpath);
    } else if (el.is_array()) {
      if (el.empty()) {
        ctx.expected(gpath, "a non-empty group of strings", el);
        all_parsed = false;
        continue;
      }
      for (size_t j = 0; j < el.size(); ++j) {
        if (!el[j].is_string()) {
          ctx.expected(child(gpath, j), "a string", el[j]);
          all_parsed = false;
          continue;
        }
        group.push_back(el[j].get<std::string>());
        paths.push_back(child(gpath, j));
      }
    } else {
      ctx.expected(gpath, "a string or an array of strings (a group)", el);
      all_parsed = false;
      continue;
    }
    bool group_prompt = false;
    std::vector<std::string_view> group_optional;  // optional placeholders used in this group
    for (size_t j = 0; j < group.size(); ++j) {
      if (group[j].find('\0') != std::string::npos) {
        ctx.error(paths[j], kNulInArgv);
        all_parsed = false;
        continue;
      }
      auto [token, problem] = parse_template_token(group[j]);
      if (!token) {
        ctx.error(paths[j], *problem);
        all_parsed = false;
        continue;
      }
      for (const auto& piece : token->pieces) {
        if (!piece.is_placeholder) continue;
        if (piece.placeholder == Placeholder::prompt) continue;
        auto name = to_string(piece.placeholder);
        if (std::find(group_optional.begin(), group_optional.end(), name) == group_optional.end())
          group_optional.push_back(name);
      }
      if (token->uses(Placeholder::prompt)) {
        group_prompt = true;
        if (input == CliSpec::Input::stdin_)
          ctx.error(paths[j],
                    "{prompt} is not allowed with input \"stdin\" (the prompt would "
                    "be sent twice)");
      }
    }
    if (group_prompt && !group_optional.empty()) {
      // The group would vanish whenever that value is absent, taking the prompt with it.
      std::string names;
      for (auto n : group_optional) names += (names.empty() ? "{" : ", {") + std::string(n) + "}";
      ctx.error(gpath, "{prompt} must not share a group with " + names +
                           " (the group is dropped when a value is absent); split the group");
    }
    if (group_prompt && !when.empty())
      ctx.error(gpath, "{prompt} must not be in a conditional group (it would vanish when a "
                       "condition does not hold)");
    any_prompt = any_prompt || group_prompt;
    out.push_back(std::move(group));
    whens.push_back(std::move(when));
  }
  if (any_when) out_when = std::move(whens);
  if (input == CliSpec::Input::arg && !any_prompt && all_parsed)
    ctx.error(path,
              "input \"arg\" needs {prompt} somewhere in the template (or set input to "
              "\"stdin\")");
}

void parse_watchdog(Ctx& ctx, const ojson& v, const std::string& path, WatchdogSpec& w) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"startTimeout", "idleTimeout", "timeout", "killGrace", "drainAfterExit",
                  "resume"});
  ctx.timeout_member(v, path, "startTimeout", w.start_timeout_ms);
  ctx.timeout_member(v, path, "idleTimeout", w.idle_timeout_ms);
  ctx.timeout_member(v, path, "timeout", w.total_timeout_ms);
  if (auto ms = ctx.seconds_member(v, path, "killGrace", true)) w.grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "drainAfterExit", true)) w.drain_ms = *ms;
  if (auto it = v.find("resume"); it != v.end()) {
    const std::string rpath = child(path, "resume");
    if (!ctx.object(*it, rpath)) return;
    ctx.check_keys(*it, rpath, {"startTimeout", "idleTimeout", "timeout"});
    WatchdogSpec::Resume r;
    r.start_timeout_ms = ctx.seconds_member(*it, rpath, "startTimeout", false);
    r.idle_timeout_ms = ctx.seconds_member(*it, rpath, "idleTimeout", false);
    r.total_timeout_ms = ctx.seconds_member(*it, rpath, "timeout", false);
    w.resume = r;
  }
}

std::vector<std::string> string_list(Ctx& ctx, const ojson& obj, const std::string& path,
                                     const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end()) return out;
  if (!it->is_array()) {
    ctx.expected(child(path, key), "an array of strings", *it);
    return out;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    if ((*it)[i].is_string() && !(*it)[i].get<std::string>().empty())
      out.push_back((*it)[i].get<std::string>());
    else
      ctx.expected(child(child(path, key), i), "a non-empty string", (*it)[i]);
  }
  return out;
}

void parse_noise_markers(Ctx& ctx, const ojson& v, const std::string& path, NoiseSpec& noise) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"builtin", "lines", "prefixes", "regexes", "afterNoise", "blocks"});
  if (auto b = ctx.bool_member(v, path, "builtin")) noise.builtin_markers = *b;
  noise.markers.lines = string_list(ctx, v, path, "lines");
  noise.markers.prefixes = string_list(ctx, v, path, "prefixes");
  noise.markers.regexes = string_list(ctx, v, path, "regexes");
  noise.markers.after_noise = string_list(ctx, v, path, "afterNoise");
  if (auto it = v.find("blocks"); it != v.end()) {
    const std::string bpath = child(path, "blocks");
    if (!it->is_array()) {
      ctx.expected(bpath, "an array of [open, close] pairs", *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson& pair = (*it)[i];
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string() &&
            !pair[0].get<std::string>().empty() && !pair[1].get<std::string>().empty())
          noise.markers.blocks.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
        else
          ctx.expected(child(bpath, i), "a pair [open tag, close tag] of non-empty strings", pair);
      }
    }
  }
  if (auto problem = parsers::validate(noise.markers)) ctx.error(path, *problem);
}

// The settings every harness process has, whatever the protocol: environment, directory,
// context mode, watchdog, output cap and noise filter (print mode and ACP alike).
struct ChildSettings {
  std::map<std::string, std::string>& env;
  std::map<std::string, std::string>& clean_env;
  std::vector<std::string>& clear_env;
  std::optional<std::string>& cwd;
  ContextMode& context_mode;
  WatchdogSpec& watchdog;
  uint64_t& max_output_bytes;
  NoiseSpec& noise;
};

// An object of environment variables (env, cleanEnv, envWhen[i].env).
void parse_env_map(Ctx& ctx, const ojson& obj, const std::string& epath,
                   std::map<std::string, std::string>& target) {
  for (const auto& [name, value] : obj.items()) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      ctx.error(child(epath, name), "invalid environment variable name " + quote(name));
    } else if (!value.is_string()) {
      ctx.expected(child(epath, name), "a string", value);
    } else if (value.get<std::string>().find('\0') != std::string::npos) {
      ctx.error(child(epath, name), kNulInArgv);
    } else {
      target[name] = value.get<std::string>();
    }
  }
}

void parse_child_settings(Ctx& ctx, const ojson& v, const std::string& path, ChildSettings out) {
  for (auto [key, target] : {std::pair{"env", &out.env}, std::pair{"cleanEnv", &out.clean_env}}) {
    auto it = v.find(key);
    if (it == v.end()) continue;
    const std::string epath = child(path, key);
    if (!ctx.object(*it, epath)) continue;
    parse_env_map(ctx, *it, epath, *target);
  }
  if (auto mode = ctx.string_member(v, path, "contextMode", false, false)) {
    if (auto parsed = context_mode_from_string(*mode))
      out.context_mode = *parsed;
    else
      ctx.expected(child(path, "contextMode"), "one of workspace, clean", v.at("contextMode"));
  }
  if (auto it = v.find("clearEnv"); it != v.end()) {
    const std::string cpath = child(path, "clearEnv");
    if (!it->is_array()) {
      ctx.expected(cpath, "an array of environment variable names", *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson& name = (*it)[i];
        if (!name.is_string() || name.get<std::string>().empty() ||
            name.get<std::string>().find('=') != std::string::npos) {
          ctx.expected(child(cpath, i), "an environment variable name", name);
        } else {
          out.clear_env.push_back(name.get<std::string>());
        }
      }
    }
  }
  if (auto cwd = ctx.string_member(v, path, "cwd", false, true)) {
    // Relative to the config file, so a checked-in drover.json works from any directory.
    std::error_code ec;
    fs::path abs = fs::absolute(ctx.base_dir / *cwd, ec);
    if (ec) abs = ctx.base_dir / *cwd;
    out.cwd = abs.lexically_normal().string();
  }
  if (auto n = ctx.positive_int_member(v, path, "maxOutputBytes"))
    out.max_output_bytes = static_cast<uint64_t>(*n);
  if (auto it = v.find("watchdog"); it != v.end())
    parse_watchdog(ctx, *it, child(path, "watchdog"), out.watchdog);
  if (auto b = ctx.bool_member(v, path, "suppressHarnessNoise")) out.noise.suppress = *b;
  if (auto b = ctx.bool_member(v, path, "failOnHarnessOnlyTurn"))
    out.noise.fail_on_noise_only = *b;
  if (auto it = v.find("noiseMarkers"); it != v.end())
    parse_noise_markers(ctx, *it, child(path, "noiseMarkers"), out.noise);
}

void parse_discovery(Ctx& ctx, const ojson& v, const std::string& path, DiscoverySpec& d) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"via", "route", "args", "parser", "ttl"});
  if (auto via = ctx.string_member(v, path, "via", true, false)) {
    static const std::map<std::string, DiscoverySpec::Via> kVia{
        {"static", DiscoverySpec::Via::static_}, {"acp", DiscoverySpec::Via::acp},
        {"command", DiscoverySpec::Via::command}, {"none", DiscoverySpec::Via::none}};
    if (auto found = kVia.find(*via); found != kVia.end())
      d.via = found->second;
    else
      ctx.expected(child(path, "via"), "one of acp, command, static, none", v.at("via"));
  }
  if (auto r = ctx.string_member(v, path, "route", d.via == DiscoverySpec::Via::acp, true))
    d.route = *r;
  d.args = string_list(ctx, v, path, "args");
  if (auto it = v.find("parser"); it != v.end()) {
    const std::string ppath = child(path, "parser");
    if (ctx.object(*it, ppath)) {
      ctx.check_keys(*it, ppath, {"kind", "models", "id", "contextWindow"});
      if (auto k = ctx.string_member(*it, ppath, "kind", false, false)) {
        if (*k == "text") d.kind = ParserSpec::Kind::text;
        else if (*k == "json") d.kind = ParserSpec::Kind::json;
        else if (*k == "jsonl") d.kind = ParserSpec::Kind::jsonl;
        else ctx.expected(child(ppath, "kind"), "one of text, json, jsonl", it->at("kind"));
      }
      if (auto m = ctx.string_member(*it, ppath, "models", false, true)) d.models_path = *m;
      if (auto m = ctx.string_member(*it, ppath, "id", false, true)) d.id_path = *m;
      if (auto m = ctx.string_member(*it, ppath, "contextWindow", false, true))
        d.context_window_path = *m;
    }
  }
  if (auto ms = ctx.seconds_member(v, path, "ttl", true)) d.ttl_ms = *ms;
}

// envWhen: [{"when": conditions, "env": {NAME: value}}], variables set only when every
// condition holds (the conditions of conditional argv groups).
void parse_env_when(Ctx& ctx, const ojson& v, const std::string& path,
                    std::vector<ConditionalEnv>& out) {
  auto it = v.find("envWhen");
  if (it == v.end()) return;
  const std::string wpath = child(path, "envWhen");
  if (!it->is_array()) {
    ctx.expected(wpath, "an array of {\"when\": conditions, \"env\": {…}} objects", *it);
    return;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const ojson& entry = (*it)[i];
    const std::string epath = child(wpath, i);
    if (!ctx.object(entry, epath)) continue;
    ctx.check_keys(entry, epath, {"when", "env"});
    ConditionalEnv conditional;
    if (auto w = entry.find("when"); w != entry.end())
      conditional.when = parse_when(ctx, *w, child(epath, "when"));
    else
      ctx.missing(epath, "when", "the conditions under which the variables are set");
    if (auto e = entry.find("env"); e != entry.end()) {
      if (ctx.object(*e, child(epath, "env")))
        parse_env_map(ctx, *e, child(epath, "env"), conditional.env);
    } else {
      ctx.missing(epath, "env", "the variables to set");
    }
    out.push_back(std::move(conditional));
  }
}

void parse_cli(Ctx& ctx, const ojson& v, const std::string& path, CliSpec& cli) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(
      v, path,
      {"argsTemplate", "input", "parser", "env", "clearEnv", "cwd", "maxOutputBytes", "watchdog",
       "suppressHarnessNoise", "failOnHarnessOnlyTurn", "noiseMarkers", "streaming",
       "contextMode", "cleanEnv", "ephemeral", "discovery", "envWhen"});
  // nullopt when input itself is invalid: the {prompt} rules depend on it, so they are skipped.
  std::optional<CliSpec::Input> input = CliSpec::Input::arg;
  if (auto s = ctx.string_member(v, path, "input", false, false)) {
    if (*s == "arg") {
      input = CliSpec::Input::arg;
    } else if (*s == "stdin") {
      input = CliSpec::Input::stdin_;
    } else {
      ctx.expected(child(path, "input"), "one of arg, stdin", v.at("input"));
      input.reset();
    }
  } else if (v.contains("input")) {
    input.reset();
  }
  if (input) cli.input = *input;
  if (auto it = v.find("argsTemplate"); it != v.end()) {
    parse_args_template_json(ctx, *it, child(path, "argsTemplate"), input, cli.args_template,
                             cli.args_when);
  } else {
    ctx.missing(path, "argsTemplate", "the argv template");
  }
  if (auto it = v.find("parser"); it != v.end())
    cli.parser = parse_parser(ctx, *it, child(path, "parser"),
                              template_uses(cli.args_template, "output_file"));
  if (auto it = v.find("streaming"); it != v.end()) {
    // {argsTemplate, parser}: the same rules as the block's own, for streaming callers.
    const std::string spath = child(path, "streaming");
    if (ctx.object(*it, spath)) {
      ctx.check_keys(*it, spath, {"argsTemplate", "parser"});
      CliSpec::Streaming streaming;
      if (auto t = it->find("argsTemplate"); t != it->end())
        parse_args_template_json(ctx, *t, child(spath, "argsTemplate"), input,
                                 streaming.args_template, streaming.args_when);
      else
        ctx.missing(spath, "argsTemplate", "the argv template used when streaming");
      if (auto p = it->find("parser"); p != it->end())
        streaming.parser = parse_parser(ctx, *p, child(spath, "parser"),
                                        template_uses(streaming.args_template, "output_file"));
      cli.streaming = std::move(streaming);
    }
  }
  parse_child_settings(ctx, v, path,
                       ChildSettings{cli.env, cli.clean_env, cli.clear_env, cli.cwd,
                                     cli.context_mode, cli.watchdog, cli.max_output_bytes,
                                     cli.noise});
  parse_env_when(ctx, v, path, cli.env_when);
  if (auto b = ctx.bool_member(v, path, "ephemeral")) cli.ephemeral = *b;
  if (auto it = v.find("discovery"); it != v.end())
    parse_discovery(ctx, *it, child(path, "discovery"), cli.discovery);
}

// ---- api -----------------------------------------------------------------------------------------

// A POSIX shell variable name: what apiKeyEnv must be (a pasted key is not one).
bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

void parse_api(Ctx& ctx, const ojson& v, const std::string& path, ApiSpec& api) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"format", "baseUrl", "apiKey", "apiKeyEnv", "apiKeyDelimiter", "parameters",
                  "headers", "connectTimeout", "timeout", "idleTimeout"});
  if (auto f = ctx.string_member(v, path, "format", false, true)) {
    if (api::wire_format_from_string(*f))
      api.format = *f;
    else
      ctx.expected(child(path, "format"), "one of openai-chat, openai-responses, anthropic, gemini",
                   v.at("format"));
  }
  if (auto u = ctx.string_member(v, path, "baseUrl", false, true)) {
    if (u->rfind("http://", 0) != 0 && u->rfind("https://", 0) != 0) {
      if (u->find('@') != std::string::npos)  // credentials: never echoed
        ctx.error(child(path, "baseUrl"), "expected an http:// or https:// URL (the value is not "
                                          "shown: it holds credentials)");
      else
        ctx.expected(child(path, "baseUrl"), "an http:// or https:// URL", v.at("baseUrl"));
    } else {
      api.base_url = *u;
    }
  }
  // A literal key is allowed (and never printed), but an environment variable is preferred.
  api.credentials.api_key = ctx.string_member(v, path, "apiKey", false, true);
  api.credentials.api_key_env = ctx.string_member(v, path, "apiKeyEnv", false, true);
  if (api.credentials.api_key_env && !valid_env_name(*api.credentials.api_key_env)) {
    // Most likely the key itself pasted here: say so without echoing it.
    ctx.error(child(path, "apiKeyEnv"),
              "must name an environment variable (letters, digits and _, not starting with a "
              "digit); it looks like a key was pasted instead, which is not shown");
    api.credentials.api_key_env.reset();
  }
  api.credentials.api_key_delimiter = ctx.string_member(v, path, "apiKeyDelimiter", false, true);
  if (api.credentials.api_key && api.credentials.api_key_env)
    ctx.error(child(path, "apiKey"), "give either apiKey or apiKeyEnv, not both");
  if (api.credentials.api_key_delimiter && !api.credentials.api_key_env)
    ctx.error(child(path, "apiKeyDelimiter"), "only valid with apiKeyEnv (a pool of keys in one variable)");
  if (auto it = v.find("headers"); it != v.end()) {
    const std::string hpath = child(path, "headers");
    if (ctx.object(*it, hpath)) {
      for (const auto& [name, value] : it->items()) {
        if (!value.is_string())
          ctx.expected(child(hpath, name), "a string", value);
        else
          api.headers[name] = value.get<std::string>();
      }
    }
  }
  if (auto ms = ctx.seconds_member(v, path, "connectTimeout", false)) api.connect_timeout_ms = *ms;
  api.total_timeout_ms = ctx.seconds_member(v, path, "timeout", false);
  if (auto ms = ctx.seconds_member(v, path, "idleTimeout", false)) api.idle_timeout_ms = *ms;
  if (auto it = v.find("parameters"); it != v.end()) {
    const std::string ppath = child(path, "parameters");
    if (!ctx.object(*it, ppath)) return;
    const ojson& pv = *it;
    ctx.check_keys(pv, ppath, {"temperature", "maxTokens", "systemPrompt", "responseFormat",
                               "reasoningEffort", "stream"});
    ApiParameters& params = api.parameters;
    if (auto t = pv.find("temperature"); t != pv.end()) {
      if (t->is_number() && t->get<double>() >= 0 && t->get<double>() <= 2)
        params.temperature = t->get<double>();
      else
        ctx.expected(child(ppath, "temperature"), "a number from 0 to 2", *t);
    }
    params.max_tokens = ctx.positive_int_member(pv, ppath, "maxTokens");
    params.system_prompt = ctx.string_member(pv, ppath, "systemPrompt", false, false);
    params.reasoning_effort = ctx.string_member(pv, ppath, "reasoningEffort", false, true);
    if (auto b = ctx.bool_member(pv, ppath, "stream")) params.stream = *b;
    if (auto rf = pv.find("responseFormat"); rf != pv.end()) {
      const std::string rpath = child(ppath, "responseFormat");
      // "json_object", or {"type": "json_object"} / {"type": "json_schema", "schema": {...},
      // "name"?, "strict"?}.
      if (rf->is_string() && rf->get<std::string>() == "json_object") {
        params.response_format = nlohmann::json{{"type", "json_object"}};
      } else if (rf->is_object()) {
        ctx.check_keys(*rf, rpath, {"type", "schema", "name", "strict"});
        auto type = ctx.string_member(*rf, rpath, "type", true, true);
        if (type && *type == "json_object") {
          params.response_format = nlohmann::json{{"type", "json_object"}};
        } else if (type && *type == "json_schema") {
          auto schema = rf->find("schema");
          if (schema == rf->end() || !schema->is_object()) {
            ctx.error(rpath, "a json_schema response format needs \"schema\" (an object)");
          } else {
            nlohmann::json out{{"type", "json_schema"},
                               {"schema", nlohmann::json::parse(schema->dump())},
                               {"name", "response"}};
            if (auto n = ctx.string_member(*rf, rpath, "name", false, true)) out["name"] = *n;
            if (auto b = ctx.bool_member(*rf, rpath, "strict")) out["strict"] = *b;
            params.response_format = std::move(out);
          }
        } else if (type) {
          ctx.expected(child(rpath, "type"), "one of json_object, json_schema", rf->at("type"));
        }
      } else {
        ctx.expected(rpath, "\"json_object\" or an object {type, schema, strict}", *rf);
      }
    }
  }
}

// ---- acp ---------------------------------------------------------------------------------------

void parse_acp(Ctx& ctx, const ojson& v, const std::string& path, AcpSpec& acp) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"args", "env", "cleanEnv", "clearEnv", "cwd", "contextMode", "watchdog",
                  "maxOutputBytes", "suppressHarnessNoise", "failOnHarnessOnlyTurn",
                  "noiseMarkers", "exitGrace", "cancelGrace", "lateUpdates", "permissions",
                  "permissionRules", "fs", "mcpServers", "authMethod", "sessionMeta",
                  "modelSelection", "strictModels", "envWhen", "policyModes"});
  parse_child_settings(ctx, v, path,
                       ChildSettings{acp.env, acp.clean_env, acp.clear_env, acp.cwd,
                                     acp.context_mode, acp.watchdog, acp.max_output_bytes,
                                     acp.noise});
  parse_env_when(ctx, v, path, acp.env_when);
  if (auto it = v.find("args"); it != v.end()) {
    const std::string apath = child(path, "args");
    if (!it->is_array()) {
      ctx.expected(apath, "an array of strings", *it);
    } else {
      bool any_when = false;
      std::vector<std::vector<std::string>> whens;
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson* element = &(*it)[i];
        std::string epath = child(apath, i);
        std::vector<std::string> when;
        if (element->is_object()) {
          // {"when": conditions, "args": token or tokens}, as in print-mode argv templates.
          element = conditional_args(ctx, *element, epath, when);
          if (element == nullptr) continue;
          any_when = true;
        }
        const bool list = element != &(*it)[i] && element->is_array();
        if (!list && !element->is_string()) {
          ctx.expected(epath, element == &(*it)[i] ? "a string or {\"when\", \"args\"}"
                                                   : "a string or an array of strings",
                       *element);
          continue;
        }
        for (size_t j = 0; j < (list ? element->size() : 1); ++j) {
          const ojson& token = list ? (*element)[j] : *element;
          if (!token.is_string()) {
            ctx.expected(child(epath, j), "a string", token);
            continue;
          }
          if (token.get<std::string>().find('\0') != std::string::npos) {
            ctx.error(list ? child(epath, j) : epath, kNulInArgv);
            continue;
          }
          acp.args.push_back(token.get<std::string>());
          whens.push_back(when);
        }
      }
      if (any_when) acp.args_when = std::move(whens);
    }
  }
  if (auto ms = ctx.seconds_member(v, path, "exitGrace", true)) acp.exit_grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "cancelGrace", true)) acp.cancel_grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "lateUpdates", true)) acp.late_updates_ms = *ms;
  if (auto p = ctx.string_member(v, path, "permissions", false, false)) {
    if (auto policy = permission_policy_from_string(*p))
      acp.permissions = *policy;
    else
      ctx.expected(child(path, "permissions"), "one of approve-all, approve-reads, deny-all",
                   v.at("permissions"));
  }
  if (auto it = v.find("permissionRules"); it != v.end()) {
    const std::string rpath = child(path, "permissionRules");
    static const std::set<std::string> kKinds{"read",  "edit",  "delete",      "move",
                                              "search", "execute", "think", "fetch",
                                              "switch_mode", "other"};
    if (ctx.object(*it, rpath)) {
      for (const auto& [kind, rule] : it->items()) {
        if (!kKinds.count(kind))
          ctx.error(child(rpath, kind), "unknown tool kind " + quote(kind) +
                                            " (known: read, edit, delete, move, search, "
                                            "execute, think, fetch, switch_mode, other)");
        else if (rule == "allow" || rule == "deny")
          acp.permission_rules[kind] = rule == "allow";
        else
          ctx.expected(child(rpath, kind), "\"allow\" or \"deny\"", rule);
      }
    }
  }
  if (auto it = v.find("policyModes"); it != v.end()) {
    const std::string mpath = child(path, "policyModes");
    if (ctx.object(*it, mpath)) {
      for (const auto& [name, mode] : it->items()) {
        auto policy = permission_policy_from_string(name);
        if (!policy)
          ctx.error(child(mpath, name), "unknown policy " + quote(name) +
                                            " (known: approve-all, approve-reads, deny-all)");
        else if (!mode.is_string() || mode.get<std::string>().empty())
          ctx.expected(child(mpath, name), "a session mode id", mode);
        else
          acp.policy_modes[*policy] = mode.get<std::string>();
      }
    }
  }
  if (auto it = v.find("fs"); it != v.end()) {
    const std::string fpath = child(path, "fs");
    if (ctx.object(*it, fpath)) {
      ctx.check_keys(*it, fpath, {"read", "write", "extraDirs"});
      if (auto b = ctx.bool_member(*it, fpath, "read")) acp.fs_read = *b;
      if (auto b = ctx.bool_member(*it, fpath, "write")) acp.fs_write = *b;
      for (auto& dir : string_list(ctx, *it, fpath, "extraDirs")) {
        std::error_code ec;
        fs::path abs = fs::absolute(ctx.base_dir / dir, ec);
        acp.extra_dirs.push_back((ec ? ctx.base_dir / dir : abs).lexically_normal().string());
      }
    }
  }
  if (auto it = v.find("mcpServers"); it != v.end()) {
    if (it->is_array())
      acp.mcp_servers = nlohmann::json::parse(it->dump());
    else
      ctx.expected(child(path, "mcpServers"), "an array of MCP server objects", *it);
  }
  if (auto m = ctx.string_member(v, path, "authMethod", false, true)) acp.auth_method = *m;
  if (auto it = v.find("sessionMeta"); it != v.end()) {
    if (it->is_object())
      acp.session_meta = nlohmann::json::parse(it->dump());
    else
      ctx.expected(child(path, "sessionMeta"), "an object", *it);
  }
  if (auto m = ctx.string_member(v, path, "modelSelection", false, false)) {
    static const std::map<std::string, AcpSpec::ModelSelection> kModes{
        {"auto", AcpSpec::ModelSelection::auto_},
        {"configOption", AcpSpec::ModelSelection::config_option},
        {"setModel", AcpSpec::ModelSelection::set_model},
        {"meta", AcpSpec::ModelSelection::meta},
        {"none", AcpSpec::ModelSelection::none}};
    if (auto found = kModes.find(*m); found != kModes.end())
      acp.model_selection = found->second;
    else
      ctx.expected(child(path, "modelSelection"), "one of auto, configOption, setModel, meta, none",
                   v.at("modelSelection"));
  }
  if (auto b = ctx.bool_member(v, path, "strictModels")) acp.strict_models = *b;
}

// ---- transport, account, provider, root ---------------------------------------------------------

// transport.permissions: "agent-asks" | "mapped" | "none", or {"enforcement", "mechanism",
// "cannotEnforce": [policies]} (README "Permissions").
std::optional<PermissionDeclaration> parse_permission_declaration(Ctx& ctx, const ojson& v,
                                                                  const std::string& path,
                                                                  TransportKind kind) {
  if (kind == TransportKind::api) {
    ctx.error(path, "only valid for harness routes (kind cli or acp): an API route runs no tools");
    return std::nullopt;
  }
  const ojson* enforcement = &v;
  std::string epath = path;
  PermissionDeclaration d;
  if (v.is_object()) {
    ctx.check_keys(v, path, {"enforcement", "mechanism", "cannotEnforce"});
    auto e = v.find("enforcement");
    if (e == v.end()) {
      ctx.missing(path, "enforcement", "agent-asks, mapped or none");
      return std::nullopt;
    }
    enforcement = &*e;
    epath = child(path, "enforcement");
    if (auto m = ctx.string_member(v, path, "mechanism", false, true)) d.mechanism = *m;
    for (size_t i = 0; auto& name : string_list(ctx, v, path, "cannotEnforce")) {
      const std::string cpath = child(child(path, "cannotEnforce"), i++);
      auto policy = permission_policy_from_string(name);
      if (!policy || *policy == PermissionPolicy::approve_all)
        ctx.error(cpath, "expected approve-reads or deny-all (approve-all is never refused), found " +
                             quote(name));
      else
        d.cannot_enforce.push_back(*policy);
    }
  }
  auto parsed = enforcement->is_string()
                    ? permission_enforcement_from_string(enforcement->get<std::string>())
                    : std::nullopt;
  if (!parsed) {
    ctx.expected(epath, v.is_object() ? "one of agent-asks, mapped, none"
                                      : "one of agent-asks, mapped, none, or an object "
                                        "{enforcement, mechanism, cannotEnforce}",
                 *enforcement);
    return std::nullopt;
  }
  if (*parsed == PermissionEnforcement::agent_asks && kind != TransportKind::acp) {
    ctx.error(epath, "agent-asks is only possible over ACP (kind acp): a print-mode harness has "
                     "no way to ask");
    return std::nullopt;
  }
  d.enforcement = *parsed;
  return d;
}

void parse_transport(Ctx& ctx, const ojson& v, const std::string& path, TransportSpec& t) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"kind", "id", "command", "permissions", "cli", "acp", "api"});
  bool kind_ok = true;
  if (auto kind = ctx.string_member(v, path, "kind", false, false)) {
    if (auto parsed = transport_kind_from_string(*kind)) {
      t.kind = *parsed;
    } else {
      ctx.expected(child(path, "kind"), "one of cli, acp, api", v.at("kind"));
      kind_ok = false;
    }
  } else if (v.contains("kind")) {
    kind_ok = false;
  }
  if (auto id = ctx.id_member(v, path, "id", false, "transport id"))
    t.id = *id;
  else
    t.id = to_string(t.kind);
  if (!kind_ok) return;  // which blocks belong here depends on the kind
  if (auto c = ctx.string_member(v, path, "command", t.kind != TransportKind::api, true)) {
    // Like a shell: a bare name is looked up on PATH (at run time); a relative path with a '/'
    // is relative to the config file's directory, so checked-in wrappers work from anywhere.
    t.command = *c;
    if (c->find('/') != std::string::npos && c->front() != '/') {
      std::error_code ec;
      fs::path abs = fs::absolute(ctx.base_dir / *c, ec);
      if (!ec) t.command = abs.lexically_normal().string();
    }
  }
  if (auto it = v.find("permissions"); it != v.end())
    t.permissions = parse_permission_declaration(ctx, *it, child(path, "permissions"), t.kind);
  // Each kind has its own block.
  for (const char* block : {"cli", "acp", "api"}) {
    auto it = v.find(block);
    if (it == v.end()) continue;
    if (to_string(t.kind) != block) {
      ctx.error(child(path, block), std::string("only valid when kind is \"") + block +
                                        "\", this transport is \"" +
                                        std::string(to_string(t.kind)) + "\"");
      continue;
    }
    if (t.kind == TransportKind::cli) {
      parse_cli(ctx, *it, child(path, "cli"), t.cli);
    } else if (t.kind == TransportKind::api) {
      parse_api(ctx, *it, child(path, "api"), t.api);
    } else {
      parse_acp(ctx, *it, child(path, "acp"), t.acp);
    }
  }
  if (t.kind == TransportKind::cli && !v.contains("cli"))
    ctx.missing(path, "cli", "an object with argsTemplate, for kind \"cli\"");
}

void parse_models(Ctx& ctx, const ojson& v, const std::string& path,
                  std::vector<ModelSpec>& models) {
  if (!v.is_array()) {
    ctx.expected(path, "an array of model ids or {id, contextWindow} objects", v);
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson& el = v[i];
    const std::string mpath = child(path, i);
    ModelSpec m;
    if (el.is_string()) {
      m.id = el.get<std::string>();
      if (auto problem = id_problem(m.id)) {
        ctx.error(mpath, "invalid model id " + quote(m.id) + ": " + *problem);
        continue;
      }
    } else if (el.is_object()) {
      ctx.check_keys(el, mpath, {"id", "contextWindow", "supportsImages", "compat"});
      auto id = ctx.id_member(el, mpath, "id", true, "model id");
      m.context_window = ctx.positive_int_member(el, mpath, "contextWindow");
      m.supports_images = ctx.bool_member(el, mpath, "supportsImages");
      if (auto c = el.find("compat"); c != el.end()) {
        const std::string cpath = child(mpath, "compat");
        if (ctx.object(*c, cpath)) {
          ctx.check_keys(*c, cpath, {"maxTokensField", "supportsDeveloperRole",
                                     "supportsUsageInStreaming", "supportsStrictMode",
                                     "supportsReasoningEffort"});
          if (auto f = ctx.string_member(*c, cpath, "maxTokensField", false, true)) {
            if (*f == "max_tokens" || *f == "max_completion_tokens")
              m.compat.max_tokens_field = *f;
            else
              ctx.expected(child(cpath, "maxTokensField"),
                           "one of max_tokens, max_completion_tokens", c->at("maxTokensField"));
          }
          m.compat.supports_developer_role = ctx.bool_member(*c, cpath, "supportsDeveloperRole");
          m.compat.supports_usage_in_streaming =
              ctx.bool_member(*c, cpath, "supportsUsageInStreaming");
          m.compat.supports_strict_mode = ctx.bool_member(*c, cpath, "supportsStrictMode");
          m.compat.supports_reasoning_effort =
              ctx.bool_member(*c, cpath, "supportsReasoningEffort");
        }
      }
      if (!id) continue;
      m.id = *id;
    } else {
      ctx.expected(mpath, "a model id string or an object {id, contextWindow, compat}", el);
      continue;
    }
    if (!seen.insert(m.id).second) {
      ctx.error(mpath, "duplicate model id " + quote(m.id) + " in this account");
      continue;
    }
    models.push_back(std::move(m));
  }
}

// The first account of preset `name`, as JSON, or nullptr (with an error) when there is none.
std::optional<ojson> preset_account(Ctx& ctx, const std::string& name, const std::string& path) {
  std::vector<std::string> known;
  if (ctx.presets != nullptr) {
    for (const auto& p : *ctx.presets) {
      known.push_back(p.name);
      if (p.name != name) continue;
      ojson doc = parsers::parse_untrusted<ojson>(p.text, nullptr, /*ignore_comments=*/true);
      if (!doc.is_discarded() && doc.contains("providers") && doc["providers"].is_object()) {
        for (auto& [id, provider] : doc["providers"].items()) {
          if (provider.contains("accounts") && provider["accounts"].is_array() &&
              !provider["accounts"].empty())
            return provider["accounts"][0];
        }
      }
      ctx.error(path, p.origin + " has no account to start from");
      return std::nullopt;
    }
  }
  ctx.error(path, "unknown preset " + quote(name) + " (known: " +
                      join(std::vector<std::string_view>(known.begin(), known.end()), ", ") + ")");
  return std::nullopt;
}

// A preset's permission declaration speaks for the preset's own command, argv and environment:
// an account that replaces any of them without declaring its own enforcement is undeclared
// (README "Permissions"), never "mapped" by switches it may have dropped.
void drop_inherited_permission_declaration(ojson& base, const ojson& patch) {
  auto transport = patch.find("transport");
  if (transport == patch.end() || !transport->is_object() || transport->contains("permissions"))
    return;
  bool replaces = transport->contains("command");
  for (const auto& [block, keys] :
       {std::pair<const char*, std::vector<const char*>>{"cli", {"argsTemplate", "envWhen"}},
        {"acp", {"args", "envWhen", "policyModes"}}}) {
    auto it = transport->find(block);
    if (it == transport->end() || !it->is_object()) continue;
    for (const char* key : keys) replaces = replaces || it->contains(key);
  }
  if (replaces && base.contains("transport") && base["transport"].is_object())
    base["transport"].erase("permissions");
}

void parse_account(Ctx& ctx, const ojson& v, const std::string& path, AccountSpec& a) {
  if (!ctx.object(v, path)) return;
  if (auto it = v.find("preset"); it != v.end()) {
    // Start from the preset's account and apply this one on top (a JSON merge patch: objects
    // merge key by key, anything else replaces, null removes).
    if (!it->is_string()) return ctx.expected(child(path, "preset"), "a preset name", *it);
    auto base = preset_account(ctx, it->get<std::string>(), child(path, "preset"));
    if (!base) return;
    ojson patch_doc = v;
    patch_doc.erase("preset");
    drop_inherited_permission_declaration(*base, patch_doc);
    base->merge_patch(patch_doc);
    return parse_account(ctx, *base, path, a);
  }
  ctx.check_keys(v, path, {"id", "transport", "models", "preset"});
  if (auto id = ctx.id_member(v, path, "id", true, "account id")) a.id = *id;
  if (auto it = v.find("transport"); it != v.end()) {
    parse_transport(ctx, *it, child(path, "transport"), a.transport);
  } else {
    ctx.missing(path, "transport", "an object");
  }
  if (auto it = v.find("models"); it != v.end())
    parse_models(ctx, *it, child(path, "models"), a.models);
}

void parse_provider(Ctx& ctx, const ojson& v, const std::string& path, ProviderSpec& p) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"accounts"});
  auto it = v.find("accounts");
  if (it == v.end()) {
    ctx.missing(path, "accounts", "an array");
    return;
  }
  const std::string apath = child(path, "accounts");
  if (!it->is_array()) {
    ctx.expected(apath, "an array of accounts", *it);
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    AccountSpec a;
    parse_account(ctx, (*it)[i], child(apath, i), a);
    if (!a.id.empty() && !seen.insert(a.id).second) {
      ctx.error(child(child(apath, i), "id"), "duplicate account id " + quote(a.id) +
                                                  " in provider " + quote(p.id));
      continue;
    }
    if (a.transport.kind == TransportKind::api && a.transport.api.format.empty()) {
      if (auto f = api::default_wire_format(p.id)) {
        a.transport.api.format = std::string(api::to_string(*f));
      } else {
        ctx.error(child(child(child(apath, i), "transport"), "api"),
                  "missing required key \"format\" (provider " + quote(p.id) +
                      " is not openai, anthropic or gemini: say which wire format it speaks, "
                      "one of openai-chat, openai-responses, anthropic, gemini)");
      }
    }
    p.accounts.push_back(std::move(a));
  }
}

void parse_routing(Ctx& ctx, const ojson& v, const std::string& path, RoutingSpec& routing) {
  if (!ctx.object(v, path)) return;
  routing.configured = true;
  ctx.check_keys(v, path, {"strategy", "fallback", "cooldown", "maxAttempts"});
  if (auto st = ctx.string_member(v, path, "strategy", false, true)) {
    if (*st == "first")
      routing.strategy = RoutingSpec::Strategy::first;
    else if (*st == "round-robin")
      routing.strategy = RoutingSpec::Strategy::round_robin;
    else
      ctx.expected(child(path, "strategy"), "one of first, round-robin", v.at("strategy"));
  }
  if (auto ms = ctx.seconds_member(v, path, "cooldown", true)) routing.cooldown_ms = *ms;
  if (auto n = ctx.positive_int_member(v, path, "maxAttempts"))
    routing.max_attempts = static_cast<int>(std::min<int64_t>(*n, 100));
  auto fb = v.find("fallback");
  if (fb == v.end()) return;
  const std::string fpath = child(path, "fallback");
  if (!ctx.object(*fb, fpath)) return;
  ctx.check_keys(*fb, fpath, {"on"});
  auto on = fb->find("on");
  if (on == fb->end()) return;
  const std::string opath = child(fpath, "on");
  if (!ctx.object(*on, opath)) return;
  routing.fallback.clear();  // a configured chain replaces the defaults entirely
  for (const auto& [name, steps] : on->items()) {
    const std::string cpath = child(opath, name);
    auto code = error_code_from_string(name);
    if (!code) {
      ctx.error(cpath, "unknown error code (expected one of the codes in the README, e.g. "
                       "rate_limit, temporary_unavailable, auth_error)");
      continue;
    }
    if (*code == ErrorCode::aborted || *code == ErrorCode::timeout ||
        *code == ErrorCode::fanout_limit) {
      ctx.error(cpath, quote(name) + " is terminal: it is never retried and cannot have a fallback");
      continue;
    }
    if (!steps.is_array()) {
      ctx.expected(cpath, "an array of steps", steps);
      continue;
    }
    std::vector<RoutingSpec::Step> chain;
    for (size_t i = 0; i < steps.size(); ++i) {
      static const std::array<std::pair<const char*, RoutingSpec::Step>, 5> kSteps{{
          {"retry", RoutingSpec::Step::retry},
          {"rotate-credential", RoutingSpec::Step::rotate_credential},
          {"rotate-account", RoutingSpec::Step::rotate_account},
          {"fallback-transport", RoutingSpec::Step::fallback_transport},
          {"fallback-provider", RoutingSpec::Step::fallback_provider},
      }};
      const ojson& step = steps[i];
      bool found = false;
      if (step.is_string()) {
        for (const auto& [n, st] : kSteps)
          if (step.get<std::string>() == n) {
            chain.push_back(st);
            found = true;
          }
      }
      if (!found)
        ctx.expected(child(cpath, i),
                     "one of retry, rotate-credential, rotate-account, fallback-transport, "
                     "fallback-provider",
                     step);
    }
    routing.fallback[*code] = std::move(chain);
  }
}

void parse_root(Ctx& ctx, const ojson& doc, Config& config) {
  if (!doc.is_object()) {
    ctx.error("", "expected an object at the top level, got " + describe(doc));
    return;
  }
  ctx.check_keys(doc, "", {"defaultRoute", "providers", "routing", "description"});
  if (auto d = ctx.string_member(doc, "", "defaultRoute", false, true)) config.default_route = *d;
  if (auto r = doc.find("routing"); r != doc.end()) parse_routing(ctx, *r, "routing", config.routing);
  auto it = doc.find("providers");
  if (it == doc.end()) return;
  if (!it->is_object()) {
    ctx.expected("providers", "an object mapping provider ids to providers", *it);
    return;
  }
  for (const auto& [id, value] : it->items()) {
    if (ignored_key(id)) continue;
    const std::string ppath = child("providers", id);
    if (auto problem = id_problem(id)) {
      ctx.error(ppath, "invalid provider id " + quote(id) + ": " + *problem);
      continue;
    }
    ProviderSpec p;
    p.id = id;
    parse_provider(ctx, value, ppath, p);
    config.providers.push_back(std::move(p));
  }
}

// ---- JSON text -> document ----------------------------------------------------------------------

struct LineCol {
  size_t line = 1;
  size_t col = 1;
};

// nlohmann reports the count of bytes read up to and including the offending one.
LineCol line_col(const std::string& text, size_t byte) {
  LineCol lc;
  const size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.col = 1;
    } else {
      ++lc.col;
    }
  }
  return lc;
}

// Parses `text`; on a syntax error appends `origin:line:col: message`. Duplicate keys (which
// nlohmann silently collapses to the last one) are reported as errors with their path.
std::optional<ojson> parse_document(Ctx& ctx, const std::string& text) {
  struct Frame {
    bool array = false;
    size_t index = 0;
    std::string key;
    std::set<std::string> seen;
  };
  std::vector<Frame> stack;
  std::vector<std::string> duplicates;
  auto path_of = [&] {
    std::string path;
    for (const auto& f : stack) path = f.array ? child(path, f.index) : child(path, f.key);
    return path;
  };
  using Event = ojson::parse_event_t;
  ojson::parser_callback_t cb = [&](int, Event event, ojson& parsed) {
    switch (event) {
      case Event::object_start:
        stack.push_back(Frame{false, 0, {}, {}});
        break;
      case Event::array_start:
        stack.push_back(Frame{true, 0, {}, {}});
        break;
      case Event::key:
        if (!stack.empty() && parsed.is_string()) {
          stack.back().key = parsed.get<std::string>();
          if (!stack.back().seen.insert(stack.back().key).second && !ignored_key(stack.back().key))
            duplicates.push_back(path_of());
        }
        break;
      case Event::object_end:
      case Event::array_end:
        if (!stack.empty()) stack.pop_back();
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
      case Event::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  if (parsers::json_too_deep(text, parsers::kMaxJsonDepth, /*comments=*/true)) {
    ctx.errors.push_back(ctx.origin + ": the document is " + parsers::json_depth_problem());
    return std::nullopt;
  }
  try {
    ojson doc = ojson::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    for (const auto& d : duplicates)
      ctx.error(d, "duplicate key (each key may appear once per object)");
    return doc;
  } catch (const ojson::parse_error& e) {
    const LineCol lc = line_col(text, e.byte);
    std::string msg = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    if (auto col = msg.find("column "); col != std::string::npos) {
      if (auto colon = msg.find(": ", col); colon != std::string::npos) msg = msg.substr(colon + 2);
    } else if (auto bracket = msg.find("] "); bracket != std::string::npos) {
      msg = msg.substr(bracket + 2);
    }
    ctx.errors.push_back(ctx.origin + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.col) +
                         ": " + msg);
    return std::nullopt;
  }
}

// Parses and validates one source without checking defaultRoute (a workspace file may name a
// route that only the global file defines; load_config checks after merging). `admit`, when
// set, sees the parsed document first and may leave the source out (nullopt, no error).
std::optional<Config> parse_one(const std::string& text, const std::string& origin,
                                std::vector<std::string>& errors,
                                const std::vector<PresetSource>& presets = builtin_presets(),
                                const std::function<bool(const ojson&)>& admit = {}) {
  Ctx ctx;
  ctx.presets = &presets;
  ctx.origin = origin;
  // Relative paths resolve from the directory as trust records it (symlinks resolved): a file
  // reached through a planted directory link must not run "../bin/x" from the link's side.
  ctx.base_dir = fs::path(origin).parent_path();
  if (std::error_code ec; !ctx.base_dir.empty()) {
    fs::path canonical = fs::canonical(ctx.base_dir, ec);
    if (!ec) ctx.base_dir = std::move(canonical);
  }
  auto doc = parse_document(ctx, text);
  if (doc && admit && !admit(*doc)) return std::nullopt;  // its errors are moot too
  Config config;
  if (doc) parse_root(ctx, *doc, config);
  for (auto& p : config.providers) p.source = origin;
  if (!ctx.errors.empty()) {
    errors.insert(errors.end(), ctx.errors.begin(), ctx.errors.end());
    return std::nullopt;
  }
  config.sources.push_back(origin);
  return config;
}

std::optional<std::string> default_route_problem(const Config& config, const std::string& origin) {
  if (!config.default_route) return std::nullopt;
  auto [route, error] = config.resolve(*config.default_route);
  if (!error) return std::nullopt;
  return origin + ": defaultRoute: " + error->message;
}

// Replaces invalid UTF-8 with U+FFFD. Messages quote file bytes (a syntax error's "last read")
// and paths, and they end up in JSON output, whose serializer rejects invalid UTF-8.
std::string valid_utf8(const std::string& in) { return parsers::valid_utf8(in); }

Error config_error(const std::string& message) {
  return Error::make(ErrorCode::config_error, valid_utf8(message));
}

// Reads a whole config file (read_config_file: regular, bounded). nullopt + problem when it
// exists but cannot be read.
std::optional<std::string> read_text(const fs::path& path, std::string& problem) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    problem = "config file " + path.string() + " is a directory";
    return std::nullopt;
  }
  std::string text;
  if (auto read_problem = read_config_file(path.string(), text)) {
    problem = "cannot read config file " + *read_problem;
    return std::nullopt;
  }
  return text;
}

bool file_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Splits on ':' into at most four parts; the last part keeps any further ':' (model names such
// as `llama3:8b` are then at least resolvable as unlisted models).
std::vector<std::string> split_route(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() < 3) {
    const size_t colon = id.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(id.substr(start, colon - start));
    start = colon + 1;
  }
  parts.push_back(id.substr(start));
  return parts;
}

bool part_matches(const std::vector<std::string>& parts, size_t i, const std::string& value) {
  return i >= parts.size() || parts[i].empty() || parts[i] == value;
}

}  // namespace

// ---- Config -------------------------------------------------------------------------------------

std::vector<Route> Config::routes() const {
  std::vector<Route> out;
  for (const auto& p : providers) {
    for (const auto& a : p.accounts) {
      const std::string& transport = a.transport.id.empty() ? std::string(to_string(a.transport.kind)) : a.transport.id;
      auto add = [&](const std::string& model) {
        out.push_back(
            Route{route_id(p.id, transport, a.id, model), p.id, transport, a.id, model, &p, &a});
      };
      if (a.models.empty()) add("");  // the harness's own default model
      for (const auto& m : a.models) add(m.id);
    }
  }
  return out;
}

// Resolution rules:
// 1. "" -> defaultRoute when set, else the first route.
// 2. Otherwise the id is split into provider:transport:account:model. Missing trailing parts
//    and empty parts are wildcards; the first route in file order matching every part wins.
// 3. When nothing matched and a model part was given, the first route matching the other three
//    parts is returned with that model substituted: users may name models the config does not
//    list (new releases, aliases), just as `--model` may override the model of any route. This
//    applies whether or not the account lists models; listed models still win in step 2.
std::pair<std::optional<Route>, std::optional<Error>> Config::resolve(const std::string& id) const {
  try {
    if (auto dependency = untrusted_dependency(id)) return {std::nullopt, std::move(dependency)};
    const auto all = routes();
    if (id.empty()) {
      if (default_route && !default_route->empty()) return resolve(*default_route);
      if (!all.empty()) return {all.front(), std::nullopt};
      return {std::nullopt,
              config_error(sources.empty() ? "no routes configured (no configuration file found)"
                                           : "no routes configured")};
    }
    const auto parts = split_route(id);
    auto matches = [&](const Route& r, size_t n) {
      return part_matches(parts, 0, r.provider) && part_matches(parts, 1, r.transport) &&
             part_matches(parts, 2, r.account) && (n < 4 || part_matches(parts, 3, r.model));
    };
    for (const auto& r : all)
      if (matches(r, 4)) return {r, std::nullopt};
    if (parts.size() == 4 && !parts[3].empty()) {
      for (const auto& r : all) {
        if (!matches(r, 3)) continue;
        Route out = r;
        out.model = parts[3];
        out.id = route_id(r.provider, r.transport, r.account, out.model);
        return {out, std::nullopt};
      }
    }
    std::string message = "no route matches " + quote(id);
    message +=
        all.empty() ? "; no routes are configured" : "; available routes: " + route_list(all);
    return {std::nullopt, config_error(std::move(message))};
  } catch (const std::exception& e) {
    return {std::nullopt, config_error(std::string("cannot resolve route: ") + e.what())};
  }
}

ConfigLookup ConfigLookup::from_environment() {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;  // empty counts as unset (XDG spec, shell habits)
    return std::string(v);
  };
  ConfigLookup lookup;
  lookup.env_path = env("DROVER_CONFIG");
  lookup.xdg_config_home = env("XDG_CONFIG_HOME");
  // The XDG spec says relative paths in $XDG_CONFIG_HOME are invalid and must be ignored.
  if (lookup.xdg_config_home && lookup.xdg_config_home->front() != '/')
    lookup.xdg_config_home.reset();
  lookup.home = env("HOME");
  lookup.workspace_dir = ".";
  return lookup;
}

std::string ConfigLookup::config_dir() const {
  if (xdg_config_home && !xdg_config_home->empty()) return *xdg_config_home + "/drover";
  if (home && !home->empty()) return *home + "/.config/drover";
  return {};
}

std::pair<std::optional<Config>, std::optional<Error>> parse_config(const std::string& text,
                                                                    const std::string& origin) {
  try {
    std::vector<std::string> errors;
    auto config = parse_one(text, origin, errors);
    if (!config) return {std::nullopt, config_error(join_errors(errors))};
    if (auto problem = default_route_problem(*config, origin))
      return {std::nullopt, config_error(*problem)};
    return {std::move(config), std::nullopt};
  } catch (const std::exception& e) {
    return {std::nullopt, config_error(origin + ": cannot read configuration: " + e.what())};
  }
}

// Merge rules (global, then workspace):
// - a workspace provider replaces the global provider with the same id wholesale (accounts are
//   not merged one by one), keeping the global provider's position; new providers are appended;
// - the workspace defaultRoute wins when set;
// - defaultRoute is checked against the merged result, so either file may name a route the
//   other defines;
// - errors from both files are reported together;
// - the workspace file goes through trust (src/trust.h): left out when it can run commands and is
//   not trusted; when it only picks among routes and is not trusted, the global file's
//   defaultRoute, routing and providers win over its own; trusted or not, it may not name a
//   provider like a preset.
std::pair<std::optional<Config>, std::optional<Error>> load_config(const ConfigLookup& lookup) {
  try {
    const std::optional<std::string> single =
        lookup.explicit_path ? lookup.explicit_path : lookup.env_path;
    std::vector<fs::path> files;
    std::optional<fs::path> workspace_file;
    if (single) {
      if (!file_exists(*single))
        return {std::nullopt, config_error("config file not found: " + *single)};
      files.push_back(*single);
    } else {
      std::optional<fs::path> config_home;
      if (lookup.xdg_config_home && !lookup.xdg_config_home->empty()) {
        config_home = fs::path(*lookup.xdg_config_home);
      } else if (lookup.home && !lookup.home->empty()) {
        config_home = fs::path(*lookup.home) / ".config";
      }
      if (config_home) {
        fs::path global = (*config_home / "drover" / "config.json").lexically_normal();
        if (file_exists(global)) files.push_back(global);
      }
      fs::path workspace = workspace_config_path(lookup);
      if (file_exists(workspace)) {
        files.push_back(workspace);
        workspace_file = workspace;
      }
    }

    Config merged;
    std::string default_origin;
    std::vector<std::string> errors;
    const std::string presets_dir =
        lookup.config_dir().empty() ? std::string() : lookup.config_dir() + "/presets";
    const std::vector<PresetSource> presets =
        lookup.with_presets ? all_presets(presets_dir, errors) : builtin_presets();
    std::vector<UntrustedSource> untrusted;
    for (const auto& file : files) {
      std::string problem;
      auto text = read_text(file, problem);
      if (!text) {
        errors.push_back(problem);
        continue;
      }
      const bool is_workspace = file == workspace_file;
      std::set<std::string> reserved;
      WorkspaceVerdict verdict;
      std::function<bool(const ojson&)> admit;
      if (is_workspace) {
        reserved = preset_provider_ids(presets);
        admit = [&](const ojson& doc) {
          verdict = judge_workspace_file(lookup, file.string(), *text, doc, reserved);
          return verdict.trust != WorkspaceVerdict::Trust::untrusted;
        };
      }
      auto config = parse_one(*text, file.string(), errors, presets, admit);
      if (verdict.trust == WorkspaceVerdict::Trust::untrusted) {
        untrusted.push_back(std::move(verdict.ignored));
        merged.notices.push_back(std::move(verdict.notice));
        continue;
      }
      if (!config) continue;
      // Without trust, the workspace file adds to the global file but overrides nothing of it.
      const bool yields = verdict.trust == WorkspaceVerdict::Trust::data_only;
      std::vector<std::string> yielded;  // copies: merged.providers may still grow
      for (auto& p : config->providers) {
        if (is_workspace && reserved.count(p.id)) {
          errors.push_back(file.string() + ": " + child("providers", p.id) +
                           ": a workspace file may not redefine the preset " + quote(p.id) +
                           " (give the provider another name; its accounts may start from the "
                           "preset with \"preset\": " + quote(p.id) + ")");
          continue;
        }
        auto same = std::find_if(merged.providers.begin(), merged.providers.end(),
                                 [&](const ProviderSpec& q) { return q.id == p.id; });
        if (same != merged.providers.end() && yields)
          yielded.push_back(same->id);
        else if (same != merged.providers.end())
          *same = std::move(p);
        else
          merged.providers.push_back(std::move(p));
      }
      if (config->default_route && yields && merged.default_route) {
        yielded.push_back("defaultRoute");
      } else if (config->default_route) {
        merged.default_route = config->default_route;
        default_origin = file.string();
      }
      if (config->routing.configured && yields && merged.routing.configured)
        yielded.push_back("routing");
      else if (config->routing.configured)
        merged.routing = config->routing;  // workspace wins
      if (!yielded.empty())
        merged.notices.push_back(valid_utf8(
            verdict.key + " is not trusted, so the global configuration's " +
            join(std::vector<std::string_view>(yielded.begin(), yielded.end()), ", ") +
            " win over its own (to let it override them: drover trust " + shell_word(verdict.key) +
            ")"));
      merged.sources.push_back(file.string());
    }
    if (lookup.with_presets) {
      for (const auto& preset : presets) {
        auto config = parse_one(preset.text, preset.origin, errors, presets);
        if (!config) continue;
        for (auto& p : config->providers) {
          const bool taken = std::any_of(merged.providers.begin(), merged.providers.end(),
                                         [&](const ProviderSpec& q) { return q.id == p.id; });
          if (taken) continue;  // the user's own definition wins
          p.preset = preset.name;
          merged.providers.push_back(std::move(p));
        }
      }
    }
    if (!errors.empty()) return {std::nullopt, config_error(join_errors(errors))};
    if (auto problem = default_route_problem(merged, default_origin))
      return {std::nullopt, config_error(*problem)};
    merged.untrusted = std::move(untrusted);  // after the check: it validates what was read
    return {std::move(merged), std::nullopt};
  } catch (const std::exception& e) {
    return {std::nullopt, config_error(std::string("cannot load configuration: ") + e.what())};
  }
}

}  // namespace drover
