#include "harness/acp_updates.h"

#include "parsers/utf8.h"

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

}  // namespace drover
