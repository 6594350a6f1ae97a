#include "harness/acp_updates.h"

#include "harness/acp.h"
#include "parsers/json_limits.h"
#include "parsers/output_parser.h"
#include "parsers/selector.h"
#include "parsers/utf8.h"
#include "src/loop/process.h"

namespace drover {
namespace {

std::string string_member(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

AcpUpdate read_session_update(const nlohmann::json& update) {
  AcpUpdate out;
  out.name = string_member(update, "sessionUpdate");
  if (out.name == "agent_message_chunk" || out.name == "agent_thought_chunk") {
    out.kind = out.name == "agent_message_chunk" ? AcpUpdate::Kind::message
                                                 : AcpUpdate::Kind::thought;
    auto content = update.find("content");
    if (content != update.end() && string_member(*content, "type") == "text")
      out.text = parsers::valid_utf8(string_member(*content, "text"));
  } else if (out.name == "tool_call" || out.name == "tool_call_update") {
    out.kind = AcpUpdate::Kind::tool;
    out.tool_call_id = string_member(update, "toolCallId");
    out.tool_kind = string_member(update, "kind");
    out.data = update;
  } else if (out.name == "plan") {
    out.kind = AcpUpdate::Kind::plan;
    auto entries = update.find("entries");
    if (entries != update.end() && entries->is_array())
      for (const auto& e : *entries) {
        std::string content = string_member(e, "content");
        if (content.empty()) continue;
        out.plan.push_back({parsers::valid_utf8(content), string_member(e, "priority"),
                            string_member(e, "status")});
      }
    out.data = update;
  } else if (out.name == "config_option_update") {
    out.kind = AcpUpdate::Kind::config;
    out.data = update;
  } else if (out.name == "current_mode_update" || out.name == "session_info_update" ||
             out.name == "available_commands_update") {
    out.kind = AcpUpdate::Kind::state;
  } else if (out.name == "usage_update") {
    out.kind = AcpUpdate::Kind::usage;
    auto cost = update.find("cost");
    if (cost != update.end() && cost->is_object() && string_member(*cost, "currency") == "USD") {
      auto amount = cost->find("amount");
      if (amount != cost->end() && amount->is_number()) out.cost_usd = amount->get<double>();
    }
    if (out.cost_usd) {
      out.usage = Usage{};
      out.usage->cost_usd = out.cost_usd;
    }
    out.data = update;
  }
  return out;
}

void merge_tool_update(ToolCall& call, const nlohmann::json& update) {
  if (!update.is_object()) return;
  if (auto id = string_member(update, "toolCallId"); !id.empty()) call.id = std::move(id);
  if (auto title = string_member(update, "title"); !title.empty())
    call.name = parsers::valid_utf8(title);
  if (auto kind = string_member(update, "kind"); !kind.empty()) call.kind = std::move(kind);
  if (auto status = string_member(update, "status"); !status.empty()) call.status = std::move(status);
  if (call.kind.empty()) call.kind = "other";
  if (call.status.empty()) call.status = "pending";
  if (auto input = update.find("rawInput"); input != update.end()) call.arguments = *input;
  if (auto output = update.find("rawOutput"); output != update.end()) {
    call.result = *output;
  } else if (auto content = update.find("content");
             content != update.end() && content->is_array() && !content->empty()) {
    std::string text;
    bool only_text = true;
    for (const auto& block : *content) {
      const nlohmann::json* inner = nullptr;
      if (block.is_object() && string_member(block, "type") == "content")
        if (auto it = block.find("content"); it != block.end()) inner = &*it;
      if (inner == nullptr || string_member(*inner, "type") != "text") {
        only_text = false;
        break;
      }
      text += string_member(*inner, "text");
    }
    call.result = only_text ? nlohmann::json(parsers::valid_utf8(text)) : *content;
  }
}

std::vector<PermissionOption> permission_options(const nlohmann::json& options) {
  std::vector<PermissionOption> out;
  if (!options.is_array()) return out;
  for (const auto& o : options) {
    if (!o.is_object()) continue;
    out.push_back({string_member(o, "optionId"), parsers::valid_utf8(string_member(o, "name")),
                   string_member(o, "kind")});
  }
  return out;
}

namespace {

const nlohmann::json* at_path(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = &j;
  for (const char* key : keys) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::optional<AcpUsageReport> usage_at(const nlohmann::json* value) {
  if (value == nullptr) return std::nullopt;
  auto usage = parsers::normalize_usage(*value);
  if (!usage) return std::nullopt;
  return AcpUsageReport{*usage, *value};
}

std::optional<AcpUsageReport> selected_usage(const nlohmann::json& doc,
                                             const std::optional<Selector>& selector) {
  if (!selector) return std::nullopt;
  const parsers::CompiledSelector compiled(*selector);
  return compiled.valid() ? usage_at(compiled.select(doc)) : std::nullopt;
}

}  // namespace

std::optional<AcpUsageReport> prompt_result_usage(const nlohmann::json& result,
                                                  const std::optional<Selector>& selector) {
  if (auto found = selected_usage(result, selector)) return found;
  for (auto keys : {std::initializer_list<const char*>{"usage"}, {"_meta", "usage"},
                    {"_meta", "quota", "token_count"}})
    if (auto found = usage_at(at_path(result, keys))) return found;
  return std::nullopt;
}

std::optional<AcpUsageReport> update_usage(const nlohmann::json& update,
                                           const std::optional<Selector>& selector) {
  if (auto found = selected_usage(update, selector)) return found;
  if (string_member(update, "sessionUpdate") == "usage_update") return std::nullopt;
  return usage_at(at_path(update, {"_meta", "usage"}));
}

ElicitationAnswer answer_elicitation(const nlohmann::json& params, bool cancel,
                                     const std::string& agent) {
  ElicitationAnswer answer;
  answer.response = {{"action", cancel ? "cancel" : "decline"}};
  auto clip = [](std::string text, size_t max) {
    text = parsers::valid_utf8(text);
    if (text.size() > max) {
      text.resize(max);
      text = parsers::valid_utf8(text) + "…";
    }
    return text;
  };
  const std::string mode = string_member(params, "mode");
  std::string what = "\"" + clip(string_member(params, "message"), 200) + "\"";
  if (mode == "url") {
    std::string url = string_member(params, "url");
    // Only the host: a URL may carry a token in its path or query.
    const size_t scheme = url.find("://");
    const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
    const size_t end = url.find_first_of("/?#", start);
    std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (const size_t at = host.rfind('@'); at != std::string::npos) host.erase(0, at + 1);
    what += ", a URL on " + clip(host, 100);
  } else if (const auto* props = at_path(params, {"requestedSchema", "properties"});
             props && props->is_object()) {
    std::string fields;
    size_t n = 0;
    for (const auto& [name, schema] : props->items()) {
      if (++n > 10) {
        fields += ", …";
        break;
      }
      fields += (fields.empty() ? "" : ", ") + clip(name, 40);
    }
    if (!fields.empty()) what += " (form fields: " + fields + ")";
  }
  answer.warning = agent + " asked for input " + what + "; " + (cancel ? "cancelled" : "declined") +
                   ": no one can answer in a headless run (acp.elicitation)";
  return answer;
}

std::string acp_failure_evidence(const std::string& stderr_tail,
                                 const std::vector<std::pair<bool, std::string>>& messages) {
  constexpr size_t kMessageBytes = 300, kTotalBytes = 4096;
  std::string out;
  std::string err = tail_lines(stderr_tail, 10, 1500);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (err.find_first_not_of(" \t\r\n") != std::string::npos)
    out = "stderr:\n" + parsers::valid_utf8(err) + "\n";
  if (!messages.empty()) out += "last ACP messages:\n";
  std::string lines;
  for (const auto& [incoming, line] : messages) {
    nlohmann::json parsed = parsers::parse_untrusted(line);
    std::string shown = parsed.is_discarded()
                            ? parsers::valid_utf8(line)
                            : redact_secrets(std::move(parsed))
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (shown.size() > kMessageBytes) {
      shown.resize(kMessageBytes);
      shown = parsers::valid_utf8(shown) + "…";
    }
    lines += std::string(incoming ? "<- " : "-> ") + shown + "\n";
  }
  // The newest messages matter most: cut from the front.
  if (out.size() + lines.size() > kTotalBytes) {
    const size_t room = kTotalBytes > out.size() ? kTotalBytes - out.size() : 0;
    size_t cut = lines.size() - std::min(room, lines.size());
    cut = lines.find('\n', cut);
    lines = cut == std::string::npos ? std::string() : lines.substr(cut + 1);
  }
  out += lines;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace drover
