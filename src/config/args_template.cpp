#include "src/config/args_template.h"

#include <algorithm>
#include <array>

namespace drover {
namespace {

constexpr std::array<std::pair<Placeholder, std::string_view>, 10> kPlaceholders{{
    {Placeholder::prompt, "prompt"},
    {Placeholder::model, "model"},
    {Placeholder::system, "system"},
    {Placeholder::system_file, "system_file"},
    {Placeholder::output_file, "output_file"},
    {Placeholder::session_id, "session_id"},
    {Placeholder::files, "files"},
    {Placeholder::attachments_dir, "attachments_dir"},
    {Placeholder::path, "path"},
    {Placeholder::name, "name"},
}};

// Which placeholders a kind of token may use: argsTemplate's, or one attachment's.
struct PlaceholderSet {
  std::vector<Placeholder> allowed;
  std::string_view known;  // for messages
};
const PlaceholderSet kArgsPlaceholders{
    {Placeholder::prompt, Placeholder::model, Placeholder::system, Placeholder::system_file,
     Placeholder::output_file, Placeholder::session_id, Placeholder::files,
     Placeholder::attachments_dir},
    "prompt, model, system, system_file, output_file, session_id, files, attachments_dir"};
const PlaceholderSet kFilePlaceholders{{Placeholder::path, Placeholder::name}, "path, name"};

std::optional<Placeholder> lookup(std::string_view name, const PlaceholderSet& set) {
  for (const auto& [ph, n] : kPlaceholders)
    if (n == name && std::find(set.allowed.begin(), set.allowed.end(), ph) != set.allowed.end())
      return ph;
  return std::nullopt;
}

// Whether the placeholder has a value; prompt always has one.
bool has_value(Placeholder p, const TemplateValues& v) {
  switch (p) {
    case Placeholder::prompt:
      return true;
    case Placeholder::model:
      return v.model.has_value();
    case Placeholder::system:
      return v.system.has_value();
    case Placeholder::system_file:
      return v.system_file.has_value();
    case Placeholder::output_file:
      return v.output_file.has_value();
    case Placeholder::session_id:
      return v.session_id.has_value();
    case Placeholder::files:
      return !v.files.empty();
    case Placeholder::attachments_dir:
      return v.attachments_dir.has_value();
    case Placeholder::path:
    case Placeholder::name:
      return false;  // only in perFileArgs, never in argsTemplate
  }
  return false;
}

std::string value_of(Placeholder p, const TemplateValues& v) {
  switch (p) {
    case Placeholder::prompt:
      return v.prompt;
    case Placeholder::model:
      return v.model.value_or("");
    case Placeholder::system:
      return v.system.value_or("");
    case Placeholder::system_file:
      return v.system_file.value_or("");
    case Placeholder::output_file:
      return v.output_file.value_or("");
    case Placeholder::session_id:
      return v.session_id.value_or("");
    case Placeholder::files: {
      std::string joined;
      for (size_t i = 0; i < v.files.size(); ++i) {
        if (i) joined += ',';
        joined += v.files[i].path;
      }
      return joined;
    }
    case Placeholder::attachments_dir:
      return v.attachments_dir.value_or("");
    case Placeholder::path:
    case Placeholder::name:
      return {};
  }
  return {};
}

void append_literal(TemplateToken& token, std::string_view text) {
  if (text.empty()) return;
  if (!token.pieces.empty() && !token.pieces.back().is_placeholder) {
    token.pieces.back().literal += text;
  } else {
    token.pieces.push_back(TemplatePiece{false, std::string(text), Placeholder::prompt});
  }
}

}  // namespace

std::string_view to_string(Placeholder p) noexcept {
  for (const auto& [ph, name] : kPlaceholders)
    if (ph == p) return name;
  return "prompt";
}

std::optional<Placeholder> placeholder_from_name(std::string_view name) noexcept {
  return lookup(name, kArgsPlaceholders);
}

std::string_view known_placeholders() noexcept { return kArgsPlaceholders.known; }

bool TemplateToken::uses(Placeholder p) const noexcept {
  for (const auto& piece : pieces)
    if (piece.is_placeholder && piece.placeholder == p) return true;
  return false;
}

bool TemplateToken::is_exactly(Placeholder p) const noexcept {
  return pieces.size() == 1 && pieces[0].is_placeholder && pieces[0].placeholder == p;
}

namespace {

std::pair<std::optional<TemplateToken>, std::optional<std::string>> parse_token(
    std::string_view s, const PlaceholderSet& set) {
  TemplateToken token;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '{') {
      if (i + 1 < s.size() && s[i + 1] == '{') {  // `{{` is a literal brace
        append_literal(token, "{");
        i += 2;
        continue;
      }
      const size_t close = s.find('}', i + 1);
      const size_t reopen = s.find('{', i + 1);
      if (close == std::string_view::npos || (reopen != std::string_view::npos && reopen < close)) {
        return {std::nullopt, "unbalanced '{' at offset " + std::to_string(i) +
                                  " (write {{ for a literal brace)"};
      }
      const std::string_view name = s.substr(i + 1, close - i - 1);
      const auto ph = lookup(name, set);
      if (!ph) {
        return {std::nullopt, "unknown placeholder {" + std::string(name) +
                                  "} (known: " + std::string(set.known) + ")"};
      }
      token.pieces.push_back(TemplatePiece{true, {}, *ph});
      i = close + 1;
    } else if (c == '}') {
      if (i + 1 < s.size() && s[i + 1] == '}') {
        append_literal(token, "}");
        i += 2;
        continue;
      }
      return {std::nullopt,
              "unbalanced '}' at offset " + std::to_string(i) + " (write }} for a literal brace)"};
    } else {
      const size_t next = s.find_first_of("{}", i);
      const size_t end = next == std::string_view::npos ? s.size() : next;
      append_literal(token, s.substr(i, end - i));
      i = end;
    }
  }
  return {std::move(token), std::nullopt};
}

}  // namespace

std::pair<std::optional<TemplateToken>, std::optional<std::string>> parse_template_token(
    std::string_view token) {
  return parse_token(token, kArgsPlaceholders);
}

std::pair<std::optional<TemplateToken>, std::optional<std::string>> parse_file_token(
    std::string_view token) {
  return parse_token(token, kFilePlaceholders);
}

std::string expand_file_token(std::string_view text, const TemplateFile& file) {
  auto [token, problem] = parse_file_token(text);
  if (!token) return std::string(text);
  std::string out;
  for (const auto& piece : token->pieces) {
    if (!piece.is_placeholder)
      out += piece.literal;
    else if (piece.placeholder == Placeholder::path)
      out += file.path;
    else if (piece.placeholder == Placeholder::name)
      out += file.name;
  }
  return out;
}

std::vector<std::string> args_template_problems(const std::vector<std::vector<std::string>>& groups,
                                                const std::string& path_prefix) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& group = groups[i];
    for (size_t j = 0; j < group.size(); ++j) {
      auto [token, problem] = parse_template_token(group[j]);
      if (!problem) continue;
      // Appended piecewise: `"[" + std::to_string(j)` trips GCC 12's -Wrestrict false positive.
      std::string path = path_prefix;
      path.append("[").append(std::to_string(i)).append("]");
      if (group.size() > 1) path.append("[").append(std::to_string(j)).append("]");
      problems.push_back(path.append(": ").append(*problem));
    }
  }
  return problems;
}

std::optional<Error> validate_args_template(const std::vector<std::vector<std::string>>& groups,
                                            const std::string& path_prefix) {
  const auto problems = args_template_problems(groups, path_prefix);
  if (problems.empty()) return std::nullopt;
  std::string message;
  for (const auto& p : problems) {
    if (!message.empty()) message += '\n';
    message += p;
  }
  return Error::make(ErrorCode::config_error, std::move(message));
}

std::optional<std::vector<TemplateGroup>> parse_args_template(
    const std::vector<std::vector<std::string>>& groups) {
  std::vector<TemplateGroup> parsed;
  parsed.reserve(groups.size());
  for (const auto& group : groups) {
    TemplateGroup g;
    for (const auto& s : group) {
      auto [token, problem] = parse_template_token(s);
      if (!token) return std::nullopt;
      g.push_back(std::move(*token));
    }
    parsed.push_back(std::move(g));
  }
  return parsed;
}

std::vector<std::string> expand_args(const std::vector<TemplateGroup>& groups,
                                     const TemplateValues& values) {
  std::vector<std::string> argv;
  for (const auto& group : groups) {
    // A group stands or falls as a whole: `--model {model}` without a model must not leave a
    // dangling `--model`.
    bool complete = true;
    for (const auto& token : group)
      for (const auto& piece : token.pieces)
        if (piece.is_placeholder && !has_value(piece.placeholder, values)) complete = false;
    if (!complete) continue;
    for (const auto& token : group) {
      if (token.is_exactly(Placeholder::files)) {
        // The per-file block; each token takes this file's values only (never re-expanded).
        for (const auto& file : values.files)
          for (const auto& per_file : values.per_file_args)
            argv.push_back(expand_file_token(per_file, file));
        continue;
      }
      std::string out;
      for (const auto& piece : token.pieces)
        out += piece.is_placeholder ? value_of(piece.placeholder, values) : piece.literal;
      argv.push_back(std::move(out));
    }
  }
  return argv;
}

std::vector<std::string> expand_args(const std::vector<std::vector<std::string>>& groups,
                                     const TemplateValues& values) {
  std::vector<TemplateGroup> parsed;
  parsed.reserve(groups.size());
  for (const auto& group : groups) {
    TemplateGroup g;
    for (const auto& s : group) {
      auto [token, problem] = parse_template_token(s);
      if (token) {
        g.push_back(std::move(*token));
      } else {  // validation rejects these; if one slips through, keep it exactly as written
        TemplateToken raw;
        raw.pieces.push_back(TemplatePiece{false, s, Placeholder::prompt});
        g.push_back(std::move(raw));
      }
    }
    parsed.push_back(std::move(g));
  }
  return expand_args(parsed, values);
}

bool template_uses(const std::vector<std::vector<std::string>>& groups,
                   std::string_view placeholder_name) {
  const auto ph = placeholder_from_name(placeholder_name);
  if (!ph) return false;
  for (const auto& group : groups)
    for (const auto& s : group) {
      auto [token, problem] = parse_template_token(s);
      if (token && token->uses(*ph)) return true;
    }
  return false;
}

bool condition_holds(std::string_view condition, const RunFacts& facts) {
  const bool negated = !condition.empty() && condition[0] == '!';
  if (negated) condition.remove_prefix(1);
  bool holds = false;
  if (condition == "clean") holds = facts.context == ContextMode::clean;
  else if (condition == "workspace") holds = facts.context == ContextMode::workspace;
  else if (condition == "resume") holds = facts.resuming;
  else if (condition == "fresh") holds = !facts.resuming;
  else if (condition == "ephemeral") holds = facts.ephemeral;
  else if (condition == "persistent") holds = !facts.ephemeral;
  else if (condition == "attachments") holds = facts.attachments;
  else if (auto policy = permission_policy_from_string(condition)) holds = facts.policy == *policy;
  else if (condition.substr(0, 4) == "env:")
    holds = facts.env_has && facts.env_has(std::string(condition.substr(4)));
  return holds != negated;
}

bool conditions_map_policy(const std::vector<std::vector<std::string>>& when,
                           PermissionPolicy policy) {
  for (const auto& conditions : when)
    for (std::string_view c : conditions) {
      const bool negated = !c.empty() && c[0] == '!';
      if (negated) c.remove_prefix(1);
      if (auto named = permission_policy_from_string(c); named && (*named == policy) != negated)
        return true;
    }
  return false;
}

std::vector<std::vector<std::string>> active_groups(
    const std::vector<std::vector<std::string>>& groups,
    const std::vector<std::vector<std::string>>& when, const RunFacts& facts) {
  if (when.empty()) return groups;
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < groups.size(); ++i) {
    const bool active = i >= when.size() ||
                        std::all_of(when[i].begin(), when[i].end(), [&](const std::string& c) {
                          return condition_holds(c, facts);
                        });
    if (active) out.push_back(groups[i]);
  }
  return out;
}

}  // namespace drover
