// A config document: JSON-with-comments text to a validated Config. Documents are parsed as
// ordered_json so providers, accounts and routes keep file order. Validation never stops at the
// first problem: every error is collected (the message shows the first 20) so a user fixes the
// whole file in one go. Each message is `<source>: <json.path>: <what was expected>, got <what
// was found>`.
#include <set>

#include "parsers/json_limits.h"
#include "src/config/sections.h"
#include "src/config/wire_format.h"

namespace drover::cfg {

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
      t.set_kind(*parsed);
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
      parse_cli(ctx, *it, child(path, "cli"), t.cli());
    } else if (t.kind == TransportKind::api) {
      parse_api(ctx, *it, child(path, "api"), t.api());
    } else {
      parse_acp(ctx, *it, child(path, "acp"), t.acp());
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

std::optional<ojson> find_preset_account(const Ctx& ctx, const std::string& name) {
  if (ctx.presets == nullptr) return std::nullopt;
  for (const auto& p : *ctx.presets) {
    if (p.name != name) continue;
    ojson doc = parsers::parse_untrusted<ojson>(p.text, nullptr, /*ignore_comments=*/true);
    if (!doc.is_discarded() && doc.contains("providers") && doc["providers"].is_object()) {
      for (auto& [id, provider] : doc["providers"].items()) {
        if (provider.contains("accounts") && provider["accounts"].is_array() &&
            !provider["accounts"].empty())
          return provider["accounts"][0];
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<ojson> preset_account(Ctx& ctx, const std::string& name, const std::string& path) {
  if (auto account = find_preset_account(ctx, name)) return account;
  std::vector<std::string> known;
  if (ctx.presets != nullptr) {
    for (const auto& p : *ctx.presets) {
      known.push_back(p.name);
      if (p.name != name) continue;
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

void parse_account(Ctx& ctx, const ojson& written, const std::string& path, AccountSpec& a) {
  if (!ctx.object(written, path)) return;
  ojson v = written;
  normalize_account_layout(ctx, v, path);  // ai-connect's spellings (src/config/ai_connect.cpp)
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
  ctx.check_keys(v, path, {"id", "transport", "models", "preset", "fanout", "credentials",
                           "modelAllowlistMode", "systemPrompt", "defaultResponseFormat",
                           "profile"});
  if (auto id = ctx.id_member(v, path, "id", true, "account id")) a.id = *id;
  if (auto it = v.find("transport"); it != v.end()) {
    parse_transport(ctx, *it, child(path, "transport"), a.transport);
  } else {
    ctx.missing(path, "transport", "an object");
  }
  if (auto it = v.find("models"); it != v.end())
    parse_models(ctx, *it, child(path, "models"), a.models);
  if (auto it = v.find("fanout"); it != v.end())
    parse_fanout(ctx, *it, child(path, "fanout"), a.fanout);
  parse_account_layout(ctx, v, path, a);
}

void parse_provider(Ctx& ctx, const ojson& v, const std::string& path, ProviderSpec& p) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"accounts", "fanout"});
  if (auto f = v.find("fanout"); f != v.end()) parse_fanout(ctx, *f, child(path, "fanout"), p.fanout);
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
    if (a.transport.kind == TransportKind::api && a.transport.api().format.empty()) {
      if (auto f = api::default_wire_format(p.id)) {
        a.transport.api().format = std::string(api::to_string(*f));
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


void parse_root(Ctx& ctx, const ojson& doc, Config& config) {
  if (!doc.is_object()) {
    ctx.error("", "expected an object at the top level, got " + describe(doc));
    return;
  }
  ctx.check_keys(doc, "",
                 {"defaultRoute", "providers", "routing", "staging", "fanout", "description"});
  if (auto d = ctx.string_member(doc, "", "defaultRoute", false, true)) config.default_route = *d;
  if (auto r = doc.find("routing"); r != doc.end()) parse_routing(ctx, *r, "routing", config.routing);
  if (auto s = doc.find("staging"); s != doc.end()) parse_staging(ctx, *s, "staging", config.staging);
  if (auto f = doc.find("fanout"); f != doc.end()) parse_fanout(ctx, *f, "fanout", config.fanout);
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

std::optional<Config> parse_one(const std::string& text, const std::string& origin,
                                std::vector<std::string>& errors,
                                const std::vector<PresetSource>& presets,
                                const std::function<bool(const ojson&)>& admit) {
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

}  // namespace drover::cfg

namespace drover {

using namespace cfg;

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

}  // namespace drover
