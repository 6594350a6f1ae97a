// unwrap_error_message: providers wrap their message in objects, in strings holding JSON, and
// harnesses prefix those strings ("API Error: 529 {...}"). Dig, but only so deep.
#include <cctype>

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
std::optional<std::string> message_in_string(std::string_view raw, int depth,
                                             bool unbracket = true);

// Where the JSON object starting at s[open] ('{') ends: one past its closing brace, or npos when
// it never closes. Brackets inside JSON strings do not count. One pass, no allocation.
std::size_t object_end(std::string_view s, std::size_t open) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return std::string_view::npos;
      if (--depth == 0) return c == '}' ? i + 1 : std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// Where the bracket opening `s` ("[API Error: ...]") closes: the ']' that balances the '['
// outside JSON objects. npos when there is none.
std::size_t bracket_end(std::string_view s) {
  std::size_t depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '{') {
      const std::size_t end = object_end(s, i);
      if (end == std::string_view::npos) return end;
      i = end - 1;
    } else if (c == '[') {
      ++depth;
    } else if (c == ']') {
      if (--depth == 0) return i;  // the first character opened one: never below zero
    }
  }
  return std::string_view::npos;
}

// `text` followed by `rest`: a rest that starts with a blank or punctuation is appended as is,
// anything else after a space.
std::string join_rest(std::string text, std::string_view rest) {
  if (rest.empty()) return text;
  const char c = rest.front();
  const bool glued = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '.' || c == ',' ||
                     c == ';' || c == ':' || c == ')' || c == ']';
  if (!glued && !text.empty()) text.push_back(' ');
  text.append(rest);
  return text;
}

// "API Error: 529 {...}" and "{...} (retrying)": the first JSON object in `s` is replaced by its
// message, the text around it kept. nullopt when it is not JSON or holds no message.
std::optional<std::string> message_in_prose(std::string_view s, int depth) {
  const std::size_t brace = s.find('{');
  if (brace == std::string_view::npos) return std::nullopt;
  const std::size_t end = object_end(s, brace);
  if (end == std::string_view::npos) return std::nullopt;
  json inner = parse_untrusted(s.substr(brace, end - brace));
  if (inner.is_discarded() || !inner.is_object()) return std::nullopt;
  auto m = message_in(inner, depth + 1);
  if (!m) return std::nullopt;
  const std::string_view prefix = trim(s.substr(0, brace));
  std::string out = prefix.empty() ? std::move(*m) : std::string(prefix) + " " + *m;
  return join_rest(std::move(out), trim(s.substr(end)).empty() ? std::string_view() : s.substr(end));
}

// `unbracket`: brackets around the whole are a wrapper, not a nesting level, so taking them off
// costs no depth; but only once.
std::optional<std::string> message_in_string(std::string_view raw, int depth, bool unbracket) {
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
    // "[API Error: {...}]" (gemini wraps API errors in brackets, with advice on the next line):
    // the brackets go, what they held is unwrapped. Only when they hold a whole line: "[warn]
    // disk full" is a tag, not a wrapper.
    if (unbracket && s.front() == '[') {
      const std::size_t close = bracket_end(s);
      const auto line_ends_at = [&](std::size_t at) {
        while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r')) ++at;
        return at == s.size() || s[at] == '\n';
      };
      if (close != std::string_view::npos && close > 1 && line_ends_at(close + 1)) {
        const std::string_view inner = trim(s.substr(1, close - 1));
        if (!inner.empty()) {
          std::string m = message_in_string(inner, depth, /*unbracket=*/false)
                              .value_or(std::string(inner));
          return join_rest(std::move(m), s.substr(close + 1));
        }
      }
    }
    if (auto m = message_in_prose(s, depth)) return m;
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

bool contains_word(std::string_view s, std::string_view word) {
  for (std::size_t i = 0; i + word.size() <= s.size(); ++i) {
    std::size_t k = 0;
    while (k < word.size() && std::tolower(static_cast<unsigned char>(s[i + k])) == word[k]) ++k;
    if (k == word.size()) return true;
  }
  return false;
}

bool error_ish(const json& value) {
  if (!value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  return contains_word(s, "error") || contains_word(s, "fail") || contains_word(s, "fatal");
}

bool present(const json& value) {
  if (value.is_null() || (value.is_boolean() && !value.get<bool>())) return false;
  if (value.is_string()) return !trim(value.get_ref<const std::string&>()).empty();
  if (value.is_object() || value.is_array()) return !value.empty();
  return true;
}

// The message of an object that says it is an error, else nullopt.
std::optional<std::string> stated_error(const json& object) {
  if (!object.is_object()) return std::nullopt;
  if (auto it = object.find("error"); it != object.end() && present(*it)) {
    if (it->is_boolean()) {
      // {"error": true, "message": "..."}: the flag, the message beside it.
    } else {
      std::string m = unwrap_error_message(*it);
      if (!m.empty()) return m;
    }
  }
  bool says_error = false;
  if (auto it = object.find("is_error"); it != object.end() && it->is_boolean() && it->get<bool>())
    says_error = true;
  for (const char* key : {"type", "status", "level", "subtype"})
    if (auto it = object.find(key); it != object.end() && error_ish(*it)) says_error = true;
  if (auto it = object.find("error"); it != object.end() && it->is_boolean() && it->get<bool>())
    says_error = true;
  if (!says_error) return std::nullopt;
  for (const char* key : {"message", "errorMessage", "error_message", "detail", "result"}) {
    auto it = object.find(key);
    if (it == object.end() || !present(*it)) continue;
    std::string m = unwrap_error_message(*it);
    if (!m.empty()) return m;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> structured_error(std::string_view text) {
  constexpr std::size_t kMaxLines = 20;
  const std::string_view whole = trim(text);
  if (!whole.empty() && whole.front() == '{') {
    json doc = parse_untrusted(whole);
    if (!doc.is_discarded()) {
      if (auto m = stated_error(doc)) return valid_utf8(*m);
      return std::nullopt;  // one document, and it states no error
    }
  }
  std::size_t end = text.size();
  for (std::size_t lines = 0; end > 0 && lines < kMaxLines;) {
    const std::size_t nl = end > 0 ? text.rfind('\n', end - 1) : std::string_view::npos;
    const std::size_t start = nl == std::string_view::npos ? 0 : nl + 1;
    const std::string_view line = trim(text.substr(start, end - start));
    end = nl == std::string_view::npos ? 0 : nl;
    if (line.empty()) continue;
    ++lines;
    if (line.front() != '{') continue;
    json doc = parse_untrusted(line);
    if (doc.is_discarded()) continue;
    if (auto m = stated_error(doc)) return valid_utf8(*m);
  }
  return std::nullopt;
}

std::string unwrap_error_message(const json& payload) {
  if (auto m = message_in(payload, 0)) return valid_utf8(*m);
  if (payload.is_string()) return std::string();  // blank
  return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace drover::parsers
