#include "parsers/tool_events.h"

#include <array>
#include <utility>

#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

/// Calls kept open waiting for their result; a stream that never finishes its calls cannot grow
/// this without bound (beyond it one is forgotten for each new one: its result then carries less).
constexpr std::size_t kMaxOpenCalls = 256;

std::string string_at(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? valid_utf8(it->get<std::string>()) : std::string();
}

const json* object_at(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

const json* array_at(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? &*it : nullptr;
}

bool true_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

/// A tool result as the harness gave it: a string stays text; content blocks that are all text
/// become their text; anything else stays JSON.
json result_value(const json& value) {
  const json* blocks = &value;
  if (const json* content = array_at(value, "content")) blocks = content;  // pi: {content: [...]}
  if (blocks->is_array()) {
    std::string text;
    for (const auto& block : *blocks) {
      if (!block.is_object() || string_at(block, "type") != "text") return value;
      text += string_at(block, "text");
    }
    return text;
  }
  if (value.is_string()) return valid_utf8(value.get<std::string>());
  return value;
}

/// opencode's state.status spellings onto ACP's.
std::string status_of(std::string_view status) {
  if (status == "pending") return "pending";
  if (status == "running") return "in_progress";
  if (status == "completed") return "completed";
  if (status == "error") return "failed";
  return std::string(status);
}

}  // namespace

std::string tool_kind_for(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kKinds{{
      {"bash", "execute"},   {"shell", "execute"},   {"exec_command", "execute"},
      {"read", "read"},      {"notebookread", "read"}, {"edit", "edit"},
      {"write", "edit"},     {"multiedit", "edit"},  {"notebookedit", "edit"},
      {"patch", "edit"},     {"grep", "search"},     {"glob", "search"},
      {"find", "search"},    {"ls", "search"},       {"webfetch", "fetch"},
      {"websearch", "fetch"},
  }};
  std::string lower(name);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (const auto& [tool, kind] : kKinds)
    if (lower == tool) return std::string(kind);
  return "other";
}

ToolCall& ToolEventReader::call(const std::string& id) {
  auto it = open_.find(id);
  if (it != open_.end()) return it->second;
  if (open_.size() >= kMaxOpenCalls) open_.erase(open_.begin());
  ToolCall& fresh = open_[id];
  fresh.id = id;
  fresh.kind = "other";
  fresh.status = "pending";
  return fresh;
}

void ToolEventReader::finish(const std::string& id) { open_.erase(id); }

void ToolEventReader::read(const json& doc, std::vector<Event>& out) {
  if (!doc.is_object()) return;
  // Read in place: this runs on every line of a harness's stream, most of them not tools.
  const auto type_member = doc.find("type");
  if (type_member == doc.end() || !type_member->is_string()) return;
  const std::string& type = type_member->get_ref<const std::string&>();
  if (type == "assistant" || type == "user") {  // claude
    const json* message = object_at(doc, "message");
    const json* content = message ? array_at(*message, "content") : nullptr;
    if (!content) return;
    for (const auto& block : *content) {
      const std::string block_type = string_at(block, "type");
      if (type == "assistant" && block_type == "tool_use") {
        const std::string id = string_at(block, "id");
        ToolCall& c = call(id);
        c.name = string_at(block, "name");
        c.kind = tool_kind_for(c.name);
        if (auto input = block.find("input"); input != block.end()) c.arguments = *input;
        out.push_back(Event::make_tool(c, block));
      } else if (type == "user" && block_type == "tool_result") {
        const std::string id = string_at(block, "tool_use_id");
        ToolCall c = call(id);
        finish(id);
        c.status = true_at(block, "is_error") ? "failed" : "completed";
        if (auto result = block.find("content"); result != block.end()) c.result = result_value(*result);
        out.push_back(Event::make_tool(std::move(c), block));
      }
    }
  } else if (type == "system" && string_at(doc, "subtype") == "permission_denied") {  // claude
    PermissionEvent p;
    p.tool_call_id = string_at(doc, "tool_use_id");
    p.title = string_at(doc, "tool_name");
    auto open = open_.find(p.tool_call_id);
    p.kind = open != open_.end() ? open->second.kind : tool_kind_for(p.title);
    p.decision = "denied";
    p.rule = "harness";
    out.push_back(Event::make_permission(std::move(p), doc));
  } else if (type == "tool_execution_start" || type == "tool_execution_end") {  // pi
    const std::string id = string_at(doc, "toolCallId");
    ToolCall& open = call(id);
    if (auto name = string_at(doc, "toolName"); !name.empty()) {
      open.name = std::move(name);
      open.kind = tool_kind_for(open.name);
    }
    if (auto args = doc.find("args"); args != doc.end()) open.arguments = *args;
    if (type == "tool_execution_start") {
      open.status = "in_progress";
      out.push_back(Event::make_tool(open, doc));
      return;
    }
    ToolCall c = std::move(open);
    finish(id);
    c.status = true_at(doc, "isError") ? "failed" : "completed";
    if (auto result = doc.find("result"); result != doc.end()) c.result = result_value(*result);
    out.push_back(Event::make_tool(std::move(c), doc));
  } else if (type == "tool_use") {  // opencode
    const json* part = object_at(doc, "part");
    const json* state = part ? object_at(*part, "state") : nullptr;
    if (!state) return;
    const std::string id = string_at(*part, "callID");
    ToolCall& open = call(id);
    open.name = string_at(*part, "tool");
    open.kind = tool_kind_for(open.name);
    if (auto status = string_at(*state, "status"); !status.empty()) open.status = status_of(status);
    if (auto input = state->find("input"); input != state->end()) open.arguments = *input;
    if (auto output = state->find("output"); output != state->end()) open.result = result_value(*output);
    else if (auto error = state->find("error"); error != state->end()) open.result = result_value(*error);
    ToolCall c = open;
    if (c.status == "completed" || c.status == "failed") finish(id);
    out.push_back(Event::make_tool(std::move(c), doc));
  }
}

}  // namespace drover::parsers
