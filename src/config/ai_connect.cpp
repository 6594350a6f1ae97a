// ai-connect's config layout, read as drover's own: the spellings of its accounts, transports
// and routing (README "Configuration"). The layout keys that have a drover spelling are moved
// onto it before the account is read; the ones that have none are read here.
#include <set>

#include "src/config/sections.h"

namespace drover::cfg {

namespace {

// The transport kind an account's transport will have: its own "kind", else its preset's, else
// cli (the default). Empty when the kind is not a string (parse_transport reports it).
std::string transport_kind(Ctx& ctx, const ojson& transport,
                           const std::optional<std::string>& preset) {
  if (auto kind = transport.find("kind"); kind != transport.end())
    return kind->is_string() ? kind->get<std::string>() : std::string();
  if (preset) {
    if (auto base = find_preset_account(ctx, *preset)) {
      auto t = base->find("transport");
      if (t != base->end() && t->is_object() && t->contains("kind") && (*t)["kind"].is_string())
        return (*t)["kind"].get<std::string>();
    }
  }
  return "cli";
}

// transport.<block>.preset: the account's "preset" it becomes (the same merge: the preset's
// account, this one on top), after checking the preset is of the block's kind; nullopt when
// there is none or it is wrong. `account` is only read: `transport` lives inside it.
std::optional<std::string> take_block_preset(Ctx& ctx, const ojson& account, ojson& transport,
                                             const std::string& path, const std::string& tpath) {
  std::optional<std::string> taken;
  for (const char* block : {"cli", "acp"}) {
    auto b = transport.find(block);
    if (b == transport.end() || !b->is_object() || !b->contains("preset")) continue;
    const std::string ppath = child(child(tpath, block), "preset");
    const ojson name = (*b)["preset"];
    b->erase("preset");
    if (!name.is_string() || name.get<std::string>().empty()) {
      ctx.expected(ppath, "a preset name", name);
      continue;
    }
    if (account.contains("preset") || taken) {
      ctx.error(ppath, "the account's preset is given twice, here and at " +
                           child(path, "preset") + ": keep one");
      continue;
    }
    auto base = find_preset_account(ctx, name.get<std::string>());
    if (!base) {
      preset_account(ctx, name.get<std::string>(), ppath);  // the error, naming the known ones
      continue;
    }
    std::string kind = "cli";
    if (auto t = base->find("transport"); t != base->end() && t->is_object())
      if (auto k = t->find("kind"); k != t->end() && k->is_string()) kind = k->get<std::string>();
    if (kind != block) {
      ctx.error(ppath, quote(name.get<std::string>()) + " is a preset of kind " + quote(kind) +
                           ", not " + quote(block) + " (put it at " +
                           child(child(tpath, kind), "preset") + ")");
      continue;
    }
    taken = name.get<std::string>();
    ctx.moved[child(path, "preset")] = ppath;
    // An empty block left behind is the preset's block, untouched.
    if (b->empty()) transport.erase(block);
  }
  return taken;
}

}  // namespace

void normalize_account_layout(Ctx& ctx, ojson& account, const std::string& path) {
  auto t = account.find("transport");
  if (t == account.end()) return;
  const std::string tpath = child(path, "transport");
  // "transport": "api" is {"kind": "api"}.
  if (t->is_string()) {
    const std::string kind = t->get<std::string>();
    if (transport_kind_from_string(kind)) {
      *t = ojson{{"kind", kind}};
    } else {
      ctx.expected(tpath, "one of cli, acp, api, or a transport object", *t);
      account.erase("transport");
      ctx.suggested.insert(tpath);  // no "missing transport" on top
      return;
    }
  }
  if (!t->is_object()) return;  // parse_transport reports it
  ojson& transport = *t;
  const std::optional<std::string> block_preset =
      take_block_preset(ctx, account, transport, path, tpath);
  std::optional<std::string> preset = block_preset;
  if (auto p = account.find("preset"); p != account.end() && p->is_string())
    preset = p->get<std::string>();
  const std::string kind = transport_kind(ctx, transport, preset);

  // transport.baseUrl (ai-connect, and drover's first spelling) is transport.api.baseUrl.
  if (auto u = transport.find("baseUrl"); u != transport.end()) {
    const ojson url = *u;
    transport.erase("baseUrl");
    const std::string from = child(tpath, "baseUrl");
    const std::string to = child(child(tpath, "api"), "baseUrl");
    if (kind == "api") {
      ojson& api = transport["api"];
      if (api.is_null()) api = ojson::object();
      if (!api.is_object()) {
        // parse_transport reports the block itself.
      } else if (api.contains("baseUrl")) {
        ctx.error(from, "the base URL is given twice, here and at " + to + ": keep one");
      } else {
        api["baseUrl"] = url;
        ctx.moved[to] = from;
      }
    } else if (transport_kind_from_string(kind)) {
      ctx.error(from, "only valid when kind is \"api\", this transport is " + quote(kind));
    }
  }

  // transport.auth.methodId is transport.acp.authMethod.
  if (auto a = transport.find("auth"); a != transport.end()) {
    const ojson auth = *a;
    transport.erase("auth");
    const std::string apath = child(tpath, "auth");
    if (kind != "acp") {
      if (transport_kind_from_string(kind))
        ctx.error(apath, "only valid when kind is \"acp\", this transport is " + quote(kind));
    } else if (ctx.object(auth, apath)) {
      ctx.check_keys(auth, apath, {"methodId"});
      const std::string to = child(child(tpath, "acp"), "authMethod");
      if (auto m = ctx.string_member(auth, apath, "methodId", true, true)) {
        ojson& acp = transport["acp"];
        if (acp.is_null()) acp = ojson::object();
        if (!acp.is_object()) {
          // parse_transport reports the block itself.
        } else if (acp.contains("authMethod")) {
          ctx.error(child(apath, "methodId"),
                    "the ACP auth method is given twice, here and at " + to + ": keep one");
        } else {
          acp["authMethod"] = *m;
          ctx.moved[to] = child(apath, "methodId");
        }
      }
    }
  }
  // Last: adding a key to `account` may move `transport` in memory.
  if (block_preset) account["preset"] = *block_preset;
}

void parse_account_layout(Ctx& ctx, const ojson& v, const std::string& path, AccountSpec& a) {
  const TransportKind kind = a.transport.kind;
  const std::string tpath = child(path, "transport");
  const ojson* api_block = nullptr;
  if (auto t = v.find("transport"); t != v.end() && t->is_object())
    if (auto b = t->find("api"); b != t->end() && b->is_object()) api_block = &*b;
  const ojson* parameters = nullptr;
  if (api_block != nullptr)
    if (auto p = api_block->find("parameters"); p != api_block->end() && p->is_object())
      parameters = &*p;
  const std::string api_path = child(tpath, "api");
  const std::string params_path = child(api_path, "parameters");
  auto only_api = [&](const char* key) {
    ctx.error(child(path, key), std::string("only valid for an API account (transport kind "
                                            "\"api\"), this one is ") +
                                    quote(std::string(to_string(kind))));
  };

  if (auto c = v.find("credentials"); c != v.end()) {
    const std::string cpath = child(path, "credentials");
    if (kind != TransportKind::api) {
      only_api("credentials");
    } else if (!c->is_array()) {
      ctx.expected(cpath, "an array of {id, apiKey | apiKeyEnv, apiKeyDelimiter}", *c);
    } else {
      for (const char* key : {"apiKey", "apiKeyEnv", "apiKeyDelimiter"})
        if (api_block != nullptr && api_block->contains(key))
          ctx.error(cpath, "the account's keys are given twice, here and at " +
                               child(api_path, key) + ": keep one");
      std::vector<CredentialSpec> pool;
      std::set<std::string> ids;
      for (size_t i = 0; i < c->size(); ++i) {
        const ojson& entry = (*c)[i];
        const std::string epath = child(cpath, i);
        if (!ctx.object(entry, epath)) continue;
        ctx.check_keys(entry, epath, {"id", "apiKey", "apiKeyEnv", "apiKeyDelimiter"});
        CredentialSpec spec;
        if (auto id = ctx.id_member(entry, epath, "id", false, "credential id")) {
          if (!ids.insert(*id).second)
            ctx.error(child(epath, "id"), "duplicate credential id " + quote(*id) + " in this account");
          spec.id = *id;
        }
        parse_credential(ctx, entry, epath, spec);
        if (!entry.contains("apiKey") && !entry.contains("apiKeyEnv"))
          ctx.error(epath, "a credential needs \"apiKeyEnv\" (the variable holding the key, or "
                           "a pool of keys with apiKeyDelimiter) or \"apiKey\"");
        if (spec.api_key || spec.api_key_env) pool.push_back(std::move(spec));
      }
      a.transport.api().credentials = std::move(pool);
    }
  }

  if (auto m = ctx.string_member(v, path, "modelAllowlistMode", false, false)) {
    if (*m == "strict")
      a.model_allowlist = ModelAllowlistMode::strict;
    else if (*m == "shortlist")
      a.model_allowlist = ModelAllowlistMode::shortlist;
    else
      ctx.expected(child(path, "modelAllowlistMode"), "one of strict, shortlist",
                   v.at("modelAllowlistMode"));
    if (a.model_allowlist == ModelAllowlistMode::strict && a.models.empty())
      ctx.error(child(path, "modelAllowlistMode"),
                "strict needs the account's \"models\" (the allowlist); this account lists none");
  }

  if (auto s = ctx.string_member(v, path, "systemPrompt", false, true)) {
    if (parameters != nullptr && parameters->contains("systemPrompt"))
      ctx.error(child(path, "systemPrompt"), "the system prompt is given twice, here and at " +
                                                 child(params_path, "systemPrompt") + ": keep one");
    else
      a.system_prompt = *s;
  }

  if (auto f = v.find("defaultResponseFormat"); f != v.end()) {
    const std::string fpath = child(path, "defaultResponseFormat");
    if (kind != TransportKind::api) {
      only_api("defaultResponseFormat");
    } else if (parameters != nullptr && parameters->contains("responseFormat")) {
      ctx.error(fpath, "the response format is given twice, here and at " +
                           child(params_path, "responseFormat") + ": keep one");
    } else if (f->is_string() && f->get<std::string>() == "text") {
      a.transport.api().parameters.response_format.reset();
    } else if (f->is_string() && f->get<std::string>() == "json") {
      a.transport.api().parameters.response_format = nlohmann::json{{"type", "json_object"}};
    } else if (f->is_string() && f->get<std::string>() != "json_object") {
      ctx.expected(fpath, "one of text, json, json_object, or an object {type, schema, strict}",
                   *f);
    } else {
      a.transport.api().parameters.response_format = parse_response_format(ctx, *f, fpath);
    }
  }

  if (auto p = ctx.string_member(v, path, "profile", false, true)) a.profile = *p;
}

void parse_resolution(Ctx& ctx, const ojson& v, const std::string& path, RoutingSpec& routing) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"unknownSelector", "defaultRouteId"});
  if (auto u = ctx.string_member(v, path, "unknownSelector", false, false)) {
    if (*u == "error")
      routing.unknown_selector = RoutingSpec::UnknownSelector::error;
    else if (*u == "default")
      routing.unknown_selector = RoutingSpec::UnknownSelector::default_;
    else if (*u == "off")
      routing.unknown_selector = RoutingSpec::UnknownSelector::off;
    else
      ctx.expected(child(path, "unknownSelector"), "one of error, default, off",
                   v.at("unknownSelector"));
  }
  routing.default_route_id = ctx.string_member(v, path, "defaultRouteId", false, true);
  if (routing.unknown_selector == RoutingSpec::UnknownSelector::default_ &&
      !routing.default_route_id && !v.contains("defaultRouteId"))
    ctx.error(child(path, "unknownSelector"),
              "\"default\" needs \"defaultRouteId\" (the route unknown selectors get)");
}

}  // namespace drover::cfg
