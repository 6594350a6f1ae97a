// Config section: the API block (`transport.api`).
#include <algorithm>
#include <cctype>

#include "src/config/sections.h"
#include "src/config/wire_format.h"

namespace drover::cfg {

// A POSIX shell variable name: what apiKeyEnv must be (a pasted key is not one).
bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// apiKey / apiKeyEnv / apiKeyDelimiter of `v` (transport.api, or an entry of an account's
// `credentials`) into `out`. A literal key is allowed (and never printed), but an environment
// variable is preferred.
void parse_credential(Ctx& ctx, const ojson& v, const std::string& path, CredentialSpec& out) {
  out.api_key = ctx.string_member(v, path, "apiKey", false, true);
  out.api_key_env = ctx.string_member(v, path, "apiKeyEnv", false, true);
  if (out.api_key_env && !valid_env_name(*out.api_key_env)) {
    // Most likely the key itself pasted here: say so without echoing it.
    ctx.error(child(path, "apiKeyEnv"),
              "must name an environment variable (letters, digits and _, not starting with a "
              "digit); it looks like a key was pasted instead, which is not shown");
    out.api_key_env.reset();
  }
  out.api_key_delimiter = ctx.string_member(v, path, "apiKeyDelimiter", false, true);
  if (out.api_key && out.api_key_env)
    ctx.error(child(path, "apiKey"), "give either apiKey or apiKeyEnv, not both");
  if (out.api_key_delimiter && !v.contains("apiKeyEnv"))
    ctx.error(child(path, "apiKeyDelimiter"), "only valid with apiKeyEnv (a pool of keys in one variable)");
}

// "json_object", or {"type": "json_object"} / {"type": "json_schema", "schema": {...}, "name"?,
// "strict"?}: the request's response_format. nullopt (with an error) when it is none of these.
std::optional<nlohmann::json> parse_response_format(Ctx& ctx, const ojson& rf,
                                                    const std::string& rpath) {
  if (rf.is_string() && rf.get<std::string>() == "json_object")
    return nlohmann::json{{"type", "json_object"}};
  if (!rf.is_object()) {
    ctx.expected(rpath, "\"json_object\" or an object {type, schema, strict}", rf);
    return std::nullopt;
  }
  ctx.check_keys(rf, rpath, {"type", "schema", "name", "strict"});
  auto type = ctx.string_member(rf, rpath, "type", true, true);
  if (type && *type == "json_object") return nlohmann::json{{"type", "json_object"}};
  if (type && *type == "json_schema") {
    auto schema = rf.find("schema");
    if (schema == rf.end() || !schema->is_object()) {
      ctx.error(rpath, "a json_schema response format needs \"schema\" (an object)");
      return std::nullopt;
    }
    nlohmann::json out{{"type", "json_schema"},
                       {"schema", nlohmann::json::parse(schema->dump())},
                       {"name", "response"}};
    if (auto n = ctx.string_member(rf, rpath, "name", false, true)) out["name"] = *n;
    if (auto b = ctx.bool_member(rf, rpath, "strict")) out["strict"] = *b;
    return out;
  }
  if (type) ctx.expected(child(rpath, "type"), "one of json_object, json_schema", rf.at("type"));
  return std::nullopt;
}

void parse_api(Ctx& ctx, const ojson& v, const std::string& path, ApiSpec& api) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"format", "baseUrl", "apiKey", "apiKeyEnv", "apiKeyDelimiter", "parameters",
                  "headers", "connectTimeout", "timeout", "idleTimeout", "fileInput"});
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
  CredentialSpec credential;
  parse_credential(ctx, v, path, credential);
  if (credential.api_key || credential.api_key_env) api.credentials.push_back(std::move(credential));
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
  if (auto it = v.find("fileInput"); it != v.end())
    parse_file_input(ctx, *it, child(path, "fileInput"), TransportKind::api,
                     api.file_input.emplace());
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
    if (auto rf = pv.find("responseFormat"); rf != pv.end())
      params.response_format = parse_response_format(ctx, *rf, child(ppath, "responseFormat"));
  }
}

}  // namespace drover::cfg
