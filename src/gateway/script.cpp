#include "src/gateway/script.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "parsers/json_limits.h"

namespace drover::gateway {
namespace {

using nlohmann::json;

/// A script fault; `what()` names the JSON path.
struct ScriptError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ScriptError(where + ": " + what);
}

std::string get_string(const json& j, const std::string& where) {
  if (!j.is_string()) fail(where, "expected a string");
  return j.get<std::string>();
}

int64_t get_int(const json& j, const std::string& where, int64_t min = 0) {
  if (!j.is_number_integer()) fail(where, "expected an integer");
  int64_t v = j.is_number_unsigned() ? static_cast<int64_t>(j.get<uint64_t>()) : j.get<int64_t>();
  if (v < min) fail(where, "must be at least " + std::to_string(min));
  return v;
}

double get_number(const json& j, const std::string& where) {
  if (!j.is_number()) fail(where, "expected a number");
  double v = j.get<double>();
  if (v < 0) fail(where, "must not be negative");
  return v;
}

bool get_bool(const json& j, const std::string& where) {
  if (!j.is_boolean()) fail(where, "expected true or false");
  return j.get<bool>();
}

void check_keys(const json& object, const std::string& where, const std::set<std::string>& allowed) {
  for (auto it = object.begin(); it != object.end(); ++it)
    if (!allowed.count(it.key())) fail(where + "." + it.key(), "unknown key");
}

const std::set<std::string> kMatchKeys = {"model", "text",   "textRegex", "path",     "apiKey",
                                          "provider", "api", "stream",    "hasTools", "toolResult",
                                          "times"};
const std::set<std::string> kRespondKeys = {
    "text",   "thinking",    "toolCall", "toolCalls", "status",  "message",        "errorType",
    "retryAfter", "retryAfterMs", "body", "contentType", "headers", "delayMs", "chunkDelayMs",
    "dropAfterChunks", "chunks", "usage", "stopReason"};

MatchSpec parse_match(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object");
  check_keys(j, where, kMatchKeys);
  MatchSpec m;
  if (j.contains("model")) m.model = get_string(j["model"], where + ".model");
  if (j.contains("text")) m.text = get_string(j["text"], where + ".text");
  if (j.contains("textRegex")) {
    m.text_regex_source = get_string(j["textRegex"], where + ".textRegex");
    try {
      m.text_regex.emplace(*m.text_regex_source, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(where + ".textRegex", std::string("invalid regular expression: ") + e.what());
    }
  }
  if (j.contains("path")) m.path = get_string(j["path"], where + ".path");
  if (j.contains("apiKey")) m.api_key = get_string(j["apiKey"], where + ".apiKey");
  if (j.contains("provider")) {
    std::string p = get_string(j["provider"], where + ".provider");
    m.provider = provider_from_string(p);
    if (!m.provider) fail(where + ".provider", "expected \"openai\", \"anthropic\" or \"gemini\"");
  }
  if (j.contains("api")) m.api = get_string(j["api"], where + ".api");
  if (j.contains("stream")) m.stream = get_bool(j["stream"], where + ".stream");
  if (j.contains("hasTools")) m.has_tools = get_bool(j["hasTools"], where + ".hasTools");
  if (j.contains("toolResult")) m.tool_result = get_bool(j["toolResult"], where + ".toolResult");
  if (j.contains("times")) m.times = get_int(j["times"], where + ".times", 1);
  return m;
}

ToolCallSpec parse_tool_call(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object {name, arguments}");
  check_keys(j, where, {"name", "arguments", "input", "args", "id"});
  ToolCallSpec t;
  if (!j.contains("name")) fail(where + ".name", "missing");
  t.name = get_string(j["name"], where + ".name");
  json args = json::object();
  for (const char* key : {"arguments", "input", "args"})
    if (j.contains(key)) args = j[key];
  if (args.is_string()) {
    // A JSON text: keep it as written when it parses, else send it as a string value.
    json parsed = parsers::parse_untrusted(args.get<std::string>());
    if (parsed.is_discarded() || !parsed.is_object())
      fail(where + ".arguments", "a string must hold a JSON object");
    t.arguments = args.get<std::string>();
  } else if (args.is_object()) {
    t.arguments = args.dump();
  } else {
    fail(where + ".arguments", "expected an object (or a JSON text of one)");
  }
  if (j.contains("id")) t.id = get_string(j["id"], where + ".id");
  return t;
}

UsageSpec parse_usage(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object {input, output}");
  check_keys(j, where,
             {"input", "output", "cacheRead", "input_tokens", "output_tokens", "prompt_tokens",
              "completion_tokens", "cache_read_input_tokens"});
  UsageSpec u;
  for (const char* key : {"input", "input_tokens", "prompt_tokens"})
    if (j.contains(key)) u.input = get_int(j[key], where + "." + key);
  for (const char* key : {"output", "output_tokens", "completion_tokens"})
    if (j.contains(key)) u.output = get_int(j[key], where + "." + key);
  for (const char* key : {"cacheRead", "cache_read_input_tokens"})
    if (j.contains(key)) u.cache_read = get_int(j[key], where + "." + key);
  return u;
}

ResponseSpec parse_respond(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object");
  check_keys(j, where, kRespondKeys);
  ResponseSpec r;
  if (j.contains("text")) r.text = get_string(j["text"], where + ".text");
  if (j.contains("thinking")) r.thinking = get_string(j["thinking"], where + ".thinking");
  for (const char* key : {"toolCall", "toolCalls"}) {
    if (!j.contains(key)) continue;
    const json& tc = j[key];
    std::string w = where + "." + key;
    if (tc.is_array()) {
      for (size_t i = 0; i < tc.size(); ++i)
        r.tool_calls.push_back(parse_tool_call(tc[i], w + "[" + std::to_string(i) + "]"));
    } else {
      r.tool_calls.push_back(parse_tool_call(tc, w));
    }
  }
  if (j.contains("status")) {
    int64_t s = get_int(j["status"], where + ".status", 100);
    if (s > 599) fail(where + ".status", "expected an HTTP status (100-599)");
    r.status = static_cast<int>(s);
  }
  if (j.contains("message")) r.message = get_string(j["message"], where + ".message");
  if (j.contains("errorType")) r.error_type = get_string(j["errorType"], where + ".errorType");
  if (j.contains("retryAfter")) r.retry_after = get_number(j["retryAfter"], where + ".retryAfter");
  if (j.contains("retryAfterMs"))
    r.retry_after_ms = get_int(j["retryAfterMs"], where + ".retryAfterMs");
  if (j.contains("body")) r.body = j["body"].is_string() ? j["body"].get<std::string>() : j["body"].dump();
  if (j.contains("contentType")) r.content_type = get_string(j["contentType"], where + ".contentType");
  if (j.contains("headers")) {
    const json& h = j["headers"];
    if (!h.is_object()) fail(where + ".headers", "expected an object of strings");
    for (auto it = h.begin(); it != h.end(); ++it)
      r.headers.emplace_back(it.key(), get_string(it.value(), where + ".headers." + it.key()));
  }
  if (j.contains("delayMs")) r.delay_ms = get_int(j["delayMs"], where + ".delayMs");
  if (j.contains("chunkDelayMs")) r.chunk_delay_ms = get_int(j["chunkDelayMs"], where + ".chunkDelayMs");
  if (j.contains("dropAfterChunks"))
    r.drop_after_chunks = get_int(j["dropAfterChunks"], where + ".dropAfterChunks");
  if (j.contains("chunks")) r.chunks = get_int(j["chunks"], where + ".chunks", 1);
  if (j.contains("usage")) r.usage = parse_usage(j["usage"], where + ".usage");
  if (j.contains("stopReason")) {
    std::string s = get_string(j["stopReason"], where + ".stopReason");
    if (s != "max_tokens" && s != "end_turn" && s != "stop" && s != "length")
      fail(where + ".stopReason", "expected \"end_turn\" or \"max_tokens\"");
    r.stop_reason = (s == "length") ? "max_tokens" : (s == "stop" ? "end_turn" : s);
  }
  return r;
}

Rule parse_rule(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object {match, respond}");
  Rule rule;
  // The response fields may sit in `respond` or directly in the rule.
  json respond = json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "name" || key == "comment" || key == "match" || key == "respond" || key == "times")
      continue;
    if (!kRespondKeys.count(key)) fail(where + "." + key, "unknown key");
    respond[key] = it.value();
  }
  if (j.contains("name")) rule.name = get_string(j["name"], where + ".name");
  if (j.contains("match")) rule.match = parse_match(j["match"], where + ".match");
  if (j.contains("times")) {
    if (rule.match.times) fail(where + ".times", "given both here and in match");
    rule.match.times = get_int(j["times"], where + ".times", 1);
  }
  if (j.contains("respond")) {
    if (!respond.empty()) fail(where, "response fields both in `respond` and in the rule");
    rule.respond = parse_respond(j["respond"], where + ".respond");
  } else {
    rule.respond = parse_respond(respond, where);
  }
  return rule;
}

bool rule_matches(const MatchSpec& m, const RequestInfo& info) {
  if (m.model && info.model != *m.model) return false;
  if (m.text && info.last_user_text.find(*m.text) == std::string::npos) return false;
  if (m.text_regex && !std::regex_search(info.last_user_text, *m.text_regex)) return false;
  if (m.path && info.path.find(*m.path) == std::string::npos) return false;
  if (m.api_key && info.api_key != *m.api_key) return false;
  if (m.provider && info.provider != *m.provider) return false;
  if (m.api && to_string(info.api) != *m.api) return false;
  if (m.stream && info.stream != *m.stream) return false;
  if (m.has_tools && info.has_tools != *m.has_tools) return false;
  if (m.tool_result && info.tool_result != *m.tool_result) return false;
  return true;
}

}  // namespace

std::optional<Script> Script::parse(const std::string& text, std::string& error) {
  parsers::JsonLimit limit = parsers::JsonLimit::none;
  json doc = parsers::parse_untrusted(text, &limit, /*ignore_comments=*/true);
  if (doc.is_discarded()) {
    error = limit == parsers::JsonLimit::too_deep ? "JSON " + parsers::json_depth_problem()
                                                  : "not valid JSON";
    return std::nullopt;
  }
  try {
    Script script;
    const json* rules = &doc;
    std::string where = "rules";
    if (doc.is_object()) {
      check_keys(doc, "$", {"rules", "models", "comment", "$schema"});
      if (doc.contains("models")) {
        const json& models = doc["models"];
        if (!models.is_array()) fail("models", "expected an array of strings");
        for (size_t i = 0; i < models.size(); ++i)
          script.models_.push_back(get_string(models[i], "models[" + std::to_string(i) + "]"));
      }
      if (!doc.contains("rules")) {
        static const json kNone = json::array();
        rules = &kNone;
      } else {
        rules = &doc["rules"];
      }
    } else {
      where = "$";
    }
    if (!rules->is_array()) fail(where, "expected an array of rules");
    for (size_t i = 0; i < rules->size(); ++i) {
      script.rules_.push_back(parse_rule((*rules)[i], where + "[" + std::to_string(i) + "]"));
      const auto& model = script.rules_.back().match.model;
      if (model && std::find(script.models_.begin(), script.models_.end(), *model) ==
                       script.models_.end())
        script.models_.push_back(*model);
    }
    script.used_.assign(script.rules_.size(), 0);
    return script;
  } catch (const ScriptError& e) {
    error = e.what();
    return std::nullopt;
  }
}

std::optional<Script> Script::load_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto script = parse(text.str(), error);
  if (!script) error = path + ": " + error;
  return script;
}

std::optional<size_t> Script::select(const RequestInfo& info) {
  std::lock_guard<std::mutex> lock(*mutex_);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const MatchSpec& m = rules_[i].match;
    if (!rule_matches(m, info)) continue;
    if (m.times && used_[i] >= *m.times) continue;  // used up: fall through to the next rule
    ++used_[i];
    return i;
  }
  return std::nullopt;
}

}  // namespace drover::gateway
