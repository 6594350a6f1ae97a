// Config sections: output parsers and their selectors, argv templates and the conditions of
// conditional groups.
#include <algorithm>
#include <array>
#include <string_view>

#include "parsers/json_path.h"
#include "src/config/args_template.h"
#include "src/config/sections.h"

namespace drover::cfg {

constexpr std::array<std::pair<const char*, const char*>, 6> kSelectors{{
    {"text", "textPath"},
    {"usage", "usagePath"},
    {"error", "errorPath"},
    {"sessionId", "sessionIdPath"},
    {"stopReason", "stopReasonPath"},
    {"model", "modelPath"},
}};

// jsonl only: lines that are the harness's warnings and progress notices.
constexpr std::array<const char*, 2> kNoticeSelectors{"warning", "progress"};

// A path string of a selector: a config error naming `path` when select_path could not read it.
bool valid_selector_path(Ctx& ctx, const std::string& path, const std::string& value) {
  if (parsers::JsonPath::compile(value)) return true;
  ctx.error(path, "malformed path \"" + value +
                      "\" (dotted keys, [n] indices, * for any key or index, {model} for the "
                      "run's model, [\"quoted\"] for other keys)");
  return false;
}

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
    if (!p || !valid_selector_path(ctx, child(path, path_name), *p)) return std::nullopt;
    return Selector{*p, {}, std::nullopt};
  }
  if (short_it == parser.end()) return std::nullopt;
  const std::string spath = child(path, name);
  if (short_it->is_string()) {
    auto p = ctx.string_member(parser, path, name, false, false);
    if (!p || !valid_selector_path(ctx, spath, *p)) return std::nullopt;
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
  if (ok && !valid_selector_path(ctx, child(spath, "path"), sel.path)) ok = false;
  const bool has_where_path = obj.contains("wherePath");
  const bool has_where_equals = obj.contains("whereEquals");
  if (has_where_path || has_where_equals) {
    // wherePath alone gates on the field being present and neither null nor false (see
    // parsers/selector.h); whereEquals alone has nothing to compare.
    if (!has_where_path) {
      ctx.error(spath, "whereEquals needs wherePath (the field to compare)");
      ok = false;
    }
    if (auto wp = ctx.string_member(obj, spath, "wherePath", false, true)) {
      sel.where_path = *wp;
      if (!valid_selector_path(ctx, child(spath, "wherePath"), *wp)) ok = false;
    } else if (has_where_path) {
      ok = false;
    }
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
  std::vector<std::string_view> jsonl_keys(kNoticeSelectors.begin(), kNoticeSelectors.end());
  jsonl_keys.push_back("progressResetsIdle");
  const auto kind = ctx.string_member(v, path, "kind", true, false);
  if (!kind) return spec;
  if (*kind == "text") {
    spec.kind = ParserSpec::Kind::text;
    for (auto k : selector_keys)
      if (v.contains(std::string(k)))
        ctx.error(child(path, k), "only valid in json and jsonl parsers, this one is \"text\"");
    for (auto k : jsonl_keys)
      if (v.contains(std::string(k)))
        ctx.error(child(path, k), "only valid in jsonl parsers, this one is \"text\"");
    // Selector keys were reported above with a better message than "unknown key".
    std::vector<std::string_view> known{"kind", "trim", "stripAnsi"};
    known.insert(known.end(), selector_keys.begin(), selector_keys.end());
    known.insert(known.end(), jsonl_keys.begin(), jsonl_keys.end());
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
  if (!jsonl)
    for (auto k : jsonl_keys)
      if (v.contains(std::string(k)))
        ctx.error(child(path, k), "only valid in jsonl parsers, this one is \"json\"");
  std::vector<std::string_view> known{"kind", "trim", "stripAnsi"};  // trim: reported above
  known.insert(known.end(), selector_keys.begin(), selector_keys.end());
  known.insert(known.end(), jsonl_keys.begin(), jsonl_keys.end());
  ctx.check_keys(v, path, known);
  std::optional<Selector>* targets[] = {&spec.text,       &spec.usage,       &spec.error,
                                        &spec.session_id, &spec.stop_reason, &spec.model};
  for (size_t i = 0; i < kSelectors.size(); ++i)
    *targets[i] = parse_selector(ctx, v, path, kSelectors[i].first, kSelectors[i].second);
  if (jsonl) {
    // Short form only (a path string or {path, wherePath, whereEquals}): no *Path spelling.
    spec.warning = parse_selector(ctx, v, path, "warning", "warningPath");
    spec.progress = parse_selector(ctx, v, path, "progress", "progressPath");
    if (auto b = ctx.bool_member(v, path, "progressResetsIdle")) {
      spec.progress_resets_idle = *b;
      if (!v.contains("progress"))
        ctx.error(child(path, "progressResetsIdle"),
                  "needs \"progress\" (the selector of the progress lines it is about)");
    }
  }
  // Without a text selector a structured parser has no answer to return.
  if (!answer_in_file && !v.contains("text") && !v.contains("textPath") &&
      !ctx.suggested.count(child(path, "text")) &&
      !ctx.suggested.count(child(path, "textPath")))
    ctx.error(path, "missing required key \"text\" or \"textPath\" (where the answer is)");
  return spec;
}


// Reads argsTemplate and checks every token with its exact path (`argsTemplate[2]` for a
// plain string, `argsTemplate[2][1]` inside a group).
// `when` conditions of a conditional argv group (CliSpec::args_when).
bool valid_condition(std::string_view c) {
  if (!c.empty() && c[0] == '!') c.remove_prefix(1);
  static constexpr std::array<std::string_view, 10> kFlags{
      "clean",      "workspace",   "resume",        "fresh",    "ephemeral",
      "persistent", "approve-all", "approve-reads", "deny-all", "attachments"};
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
                   "approve-all, approve-reads, deny-all, attachments or env:NAME (optionally negated with a "
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

}  // namespace drover::cfg
