#include "parsers/json_path.h"

#include "parsers/output_parser.h"

namespace drover::parsers {
namespace {

constexpr std::size_t kMaxIndexDigits = 18;  // fits int64 without overflow checks

std::optional<std::int64_t> parse_index(std::string_view digits, bool allow_sign) {
  bool negative = false;
  if (allow_sign && !digits.empty() && digits.front() == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > kMaxIndexDigits) return std::nullopt;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

const nlohmann::json* element(const nlohmann::json& array, std::int64_t index) {
  const auto size = static_cast<std::int64_t>(array.size());
  if (index < 0) index += size;
  if (index < 0 || index >= size) return nullptr;
  return &array[static_cast<std::size_t>(index)];
}

}  // namespace

std::optional<JsonPath> JsonPath::compile(std::string_view path) {
  JsonPath compiled;
  std::size_t i = 0;
  const std::size_t n = path.size();
  bool expect_key = false;  // just read '.', so a bare key must follow
  while (i < n) {
    const char c = path[i];
    if (c == '[') {
      if (expect_key) return std::nullopt;
      ++i;
      if (i < n && (path[i] == '"' || path[i] == '\'')) {
        const char quote = path[i++];
        std::string key;
        bool closed = false;
        while (i < n) {
          char k = path[i++];
          if (k == '\\' && i < n) {
            key.push_back(path[i++]);
          } else if (k == quote) {
            closed = true;
            break;
          } else {
            key.push_back(k);
          }
        }
        if (!closed || i >= n || path[i] != ']') return std::nullopt;
        ++i;
        compiled.steps_.push_back({std::move(key), std::nullopt});
      } else {
        const std::size_t close = path.find(']', i);
        if (close == std::string_view::npos) return std::nullopt;
        auto index = parse_index(path.substr(i, close - i), /*allow_sign=*/true);
        if (!index) return std::nullopt;
        compiled.steps_.push_back({std::string(), index});
        i = close + 1;
      }
    } else if (c == '.') {
      if (expect_key || compiled.steps_.empty()) return std::nullopt;
      expect_key = true;
      ++i;
      continue;
    } else {
      if (!expect_key && !compiled.steps_.empty()) return std::nullopt;  // `a[0]b`
      std::size_t end = i;
      while (end < n && path[end] != '.' && path[end] != '[') ++end;
      compiled.steps_.push_back({std::string(path.substr(i, end - i)), std::nullopt});
      i = end;
    }
    expect_key = false;
  }
  if (expect_key) return std::nullopt;  // trailing '.'
  return compiled;
}

const nlohmann::json* JsonPath::eval(const nlohmann::json& doc) const {
  const nlohmann::json* current = &doc;
  for (const Step& step : steps_) {
    if (step.index) {
      if (!current->is_array()) return nullptr;
      current = element(*current, *step.index);
    } else if (current->is_object()) {
      auto it = current->find(step.key);
      if (it == current->end()) return nullptr;
      current = &*it;
    } else if (current->is_array()) {
      // `items.0` reads like `items[0]`; only plain digits, never a sign.
      auto index = parse_index(step.key, /*allow_sign=*/false);
      if (!index) return nullptr;
      current = element(*current, *index);
    } else {
      return nullptr;
    }
    if (current == nullptr) return nullptr;
  }
  return current;
}

const nlohmann::json* select_path(const nlohmann::json& doc, std::string_view path) {
  auto compiled = JsonPath::compile(path);
  if (!compiled) return nullptr;
  return compiled->eval(doc);
}

}  // namespace drover::parsers
