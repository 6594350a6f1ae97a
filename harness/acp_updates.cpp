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
    out.data = update;
  }
  return out;
}

}  // namespace drover
