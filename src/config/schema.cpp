// The schema helpers (src/config/schema.h), and the spellings of the config's enums.
#include "src/config/schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "parsers/utf8.h"

namespace drover::cfg {
namespace {

constexpr size_t kMaxShownErrors = 20;

}  // namespace

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

// Replaces invalid UTF-8 with U+FFFD. Messages quote file bytes (a syntax error's "last read")
// and paths, and they end up in JSON output, whose serializer rejects invalid UTF-8.
std::string valid_utf8(const std::string& in) { return parsers::valid_utf8(in); }

Error config_error(const std::string& message) {
  return Error::make(ErrorCode::config_error, valid_utf8(message));
}


}  // namespace drover::cfg

namespace drover {

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

}  // namespace drover
