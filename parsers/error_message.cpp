// unwrap_error_message: providers wrap their message in objects, in strings holding JSON, and
// harnesses prefix those strings ("API Error: 529 {...}"). Dig, but only so deep.
#include "parsers/json_limits.h"
#include "parsers/output_parser.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

// Nesting levels we descend into (an object field, an array element, a string parsed as JSON).
// JSON documents cannot hold cycles; the bound is what stops stringified JSON from recursing
// without end and keeps the work small.
constexpr int kMaxDepth = 3;
constexpr std::size_t kMaxArrayElements = 4;

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<std::string> message_in(const json& value, int depth);

std::optional<std::string> message_in_string(std::string_view raw, int depth) {
  const std::string_view s = trim(raw);
  if (s.empty()) return std::nullopt;
  if (depth < kMaxDepth) {
    if (s.front() == '{' || s.front() == '[' || s.front() == '"') {
      json inner = parse_untrusted(s);
      if (!inner.is_discarded()) {
        if (auto m = message_in(inner, depth + 1)) return m;
        return std::string(s);  // JSON without a recognizable message: the string says most
      }
    }
    // "API Error: 529 {...}": keep the prefix, replace the JSON with its message.
    const std::size_t brace = s.find('{');
    if (brace != std::string_view::npos && brace > 0) {
      const std::string_view tail = s.substr(brace);
      json inner = parse_untrusted(tail);
      if (!inner.is_discarded() && inner.is_object()) {
        if (auto m = message_in(inner, depth + 1)) {
          const std::string_view prefix = trim(s.substr(0, brace));
          if (prefix.empty()) return m;
          return std::string(prefix) + " " + *m;
        }
      }
    }
  }
  return std::string(s);
}

std::optional<std::string> message_in(const json& value, int depth) {
  if (value.is_string()) return message_in_string(value.get_ref<const std::string&>(), depth);
  if (value.is_array()) {
    if (depth >= kMaxDepth) return std::nullopt;
    std::size_t seen = 0;
    for (const json& element : value) {
      if (++seen > kMaxArrayElements) break;
      if (element.is_object() || element.is_array())
        if (auto m = message_in(element, depth + 1)) return m;
    }
    return std::nullopt;
  }
  if (!value.is_object()) return std::nullopt;

  // A nested payload is more specific than a sibling summary: look inside containers first.
  for (const char* key : {"error", "message", "detail", "error_description"}) {
    auto it = value.find(key);
    if (it == value.end() || !(it->is_object() || it->is_array())) continue;
    if (depth >= kMaxDepth) break;
    if (auto m = message_in(*it, depth + 1)) return m;
  }
  for (const char* key : {"message", "error", "detail", "error_description"}) {
    auto it = value.find(key);
    if (it == value.end() || !it->is_string()) continue;
    if (auto m = message_in_string(it->get_ref<const std::string&>(), depth)) return m;
  }
  return std::nullopt;
}

}  // namespace

std::string unwrap_error_message(const json& payload) {
  if (auto m = message_in(payload, 0)) return valid_utf8(*m);
  if (payload.is_string()) return std::string();  // blank
  return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace drover::parsers
