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

std::optional<JsonPath> JsonPath::compile(std::string_view path, const ParserContext& context) {
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
        compiled.steps_.push_back({Step::Kind::key, std::move(key), 0});
      } else {
        const std::size_t close = path.find(']', i);
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view inside = path.substr(i, close - i);
        if (inside == "*") {
          compiled.steps_.push_back({Step::Kind::any, std::string(), 0});
          compiled.fans_out_ = true;
        } else {
          auto index = parse_index(inside, /*allow_sign=*/true);
          if (!index) return std::nullopt;
          compiled.steps_.push_back({Step::Kind::index, std::string(), *index});
        }
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
      const std::string_view segment = path.substr(i, end - i);
      if (segment == "*") {
        compiled.steps_.push_back({Step::Kind::any, std::string(), 0});
        compiled.fans_out_ = true;
      } else if (segment == "{model}") {
        // A model name is one key whatever it holds (gemini-2.5-pro has a dot).
        if (!context.model || context.model->empty()) compiled.never_matches_ = true;
        compiled.steps_.push_back({Step::Kind::key, context.model.value_or(""), 0});
      } else if (segment.find_first_of("*{}") != std::string_view::npos) {
        // No globs and no other placeholders: quote such a key (`a["x*"]`).
        return std::nullopt;
      } else {
        compiled.steps_.push_back({Step::Kind::key, std::string(segment), 0});
      }
      i = end;
    }
    expect_key = false;
  }
  if (expect_key) return std::nullopt;  // trailing '.'
  return compiled;
}

std::vector<const nlohmann::json*> JsonPath::eval_all(const nlohmann::json& doc) const {
  std::vector<const nlohmann::json*> current;
  if (never_matches_) return current;
  current.push_back(&doc);
  std::vector<const nlohmann::json*> next;
  for (const Step& step : steps_) {
    next.clear();
    for (const nlohmann::json* value : current) {
      if (next.size() >= kMaxPathMatches) break;
      switch (step.kind) {
        case Step::Kind::any:
          if (value->is_object() || value->is_array())
            for (const nlohmann::json& child : *value) {
              if (next.size() >= kMaxPathMatches) break;
              next.push_back(&child);
            }
          break;
        case Step::Kind::index:
          if (value->is_array())
            if (const nlohmann::json* e = element(*value, step.index)) next.push_back(e);
          break;
        case Step::Kind::key:
          if (value->is_object()) {
            auto it = value->find(step.key);
            if (it != value->end()) next.push_back(&*it);
          } else if (value->is_array()) {
            // `items.0` reads like `items[0]`; only plain digits, never a sign.
            if (auto index = parse_index(step.key, /*allow_sign=*/false))
              if (const nlohmann::json* e = element(*value, *index)) next.push_back(e);
          }
          break;
      }
    }
    current.swap(next);
    if (current.empty()) break;
  }
  return current;
}

const nlohmann::json* JsonPath::eval(const nlohmann::json& doc) const {
  if (never_matches_) return nullptr;
  if (fans_out_) {
    auto all = eval_all(doc);
    return all.empty() ? nullptr : all.front();
  }
  const nlohmann::json* current = &doc;
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::index) {
      if (!current->is_array()) return nullptr;
      current = element(*current, step.index);
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
