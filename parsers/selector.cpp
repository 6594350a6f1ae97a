#include "parsers/selector.h"

#include "parsers/output_parser.h"
#include "parsers/utf8.h"

namespace drover::parsers {
namespace {

using nlohmann::json;

bool is_text_block(const json& block) {
  auto type = block.find("type");
  if (type == block.end()) return true;
  if (!type->is_string()) return false;
  return type->get_ref<const std::string&>().find("text") != std::string::npos;
}

std::optional<std::string> error_value(const json& value) {
  // Harnesses put `"error": null`, `false` or "" in successful results.
  if (value.is_null() || (value.is_boolean() && !value.get<bool>())) return std::nullopt;
  if (value.is_string() && value.get_ref<const std::string&>().empty()) return std::nullopt;
  if ((value.is_object() || value.is_array()) && value.empty()) return std::nullopt;
  std::string message = unwrap_error_message(value);
  if (message.empty()) return std::nullopt;
  return message;
}

}  // namespace

CompiledSelector::CompiledSelector(const Selector& selector, const ParserContext& context)
    : path_(JsonPath::compile(selector.path, context)),
      gated_(!selector.where_path.empty()),
      where_equals_(selector.where_equals) {
  if (gated_) where_path_ = JsonPath::compile(selector.where_path, context);
}

bool CompiledSelector::gate_passes(const json& doc) const {
  if (!gated_) return true;
  const auto passes = [&](const json* gate) {
    if (where_equals_) return *gate == *where_equals_;
    return !(gate->is_null() || (gate->is_boolean() && !gate->get<bool>()));
  };
  if (!where_path_->fans_out()) {
    const json* gate = where_path_->eval(doc);
    return gate != nullptr && passes(gate);
  }
  for (const json* gate : where_path_->eval_all(doc))
    if (passes(gate)) return true;
  return false;
}

const json* CompiledSelector::select(const json& doc) const {
  if (!valid() || !gate_passes(doc)) return nullptr;
  return path_->eval(doc);
}

std::vector<const json*> CompiledSelector::select_all(const json& doc) const {
  if (!valid() || !gate_passes(doc)) return {};
  return path_->eval_all(doc);
}

SelectorSet::SelectorSet(const ParserSpec& spec, const ParserContext& context) {
  const auto compile = [&](const std::optional<Selector>& selector, const char* name,
                           std::optional<CompiledSelector>& into) {
    if (!selector) return;
    into.emplace(*selector, context);
    if (!into->valid())
      problems_.push_back(std::string("parser selector ") + name + " has a malformed path (\"" +
                          selector->path + "\" where \"" + selector->where_path +
                          "\"); it never matches");
  };
  compile(spec.text, "text", text_);
  compile(spec.usage, "usage", usage_);
  compile(spec.error, "error", error_);
  compile(spec.session_id, "session_id", session_id_);
  compile(spec.stop_reason, "stop_reason", stop_reason_);
  compile(spec.model, "model", model_);
  compile(spec.warning, "warning", warning_);
  compile(spec.progress, "progress", progress_);
}

Extraction SelectorSet::extract(const json& doc) const {
  Extraction out;
  const auto pick = [&](const std::optional<CompiledSelector>& selector) -> const json* {
    return selector ? selector->select(doc) : nullptr;
  };
  if (const json* v = pick(text_)) {
    out.text = text_value(*v);
    if (out.text && out.text->empty()) out.text.reset();
    if (!out.text && v->is_object()) {
      const auto t = v->find("text");
      out.text_not_string = t != v->end() && !t->is_string() && !t->is_null();
    }
  }
  if (usage_) {
    // Each selected object is one report; a `*` path sums them (gemini's per-model tokens).
    json raws = json::array();
    for (const json* v : usage_->select_all(doc)) {
      auto usage = normalize_usage(*v);
      if (!usage) continue;
      if (usage->calls == 0) usage->calls = 1;
      if (!out.usage) {
        out.usage = std::move(usage);
      } else if (!add_usage_checked(*out.usage, *usage)) {
        out.usage_overflow = true;
        continue;
      }
      raws.push_back(*v);
    }
    if (out.usage) out.usage_raw = raws.size() == 1 ? std::move(raws[0]) : std::move(raws);
  }
  if (const json* v = pick(error_)) out.error = error_value(*v);
  if (const json* v = pick(session_id_)) out.session_id = scalar_value(*v);
  if (const json* v = pick(stop_reason_)) out.stop_reason = scalar_value(*v);
  if (const json* v = pick(model_)) out.model = scalar_value(*v);
  if (const json* v = pick(warning_)) out.warning = notice_value(*v);
  if (const json* v = pick(progress_)) out.progress = notice_value(*v);
  return out;
}

std::optional<std::string> notice_value(const json& value) {
  std::string message;
  if (value.is_string()) {
    message = value.get<std::string>();
  } else if (value.is_object()) {
    for (const char* key : {"message", "text"}) {
      auto it = value.find(key);
      if (it != value.end() && it->is_string()) {
        message = it->get<std::string>();
        break;
      }
    }
    if (message.empty()) {
      if (auto error = error_value(value)) message = std::move(*error);
    }
  } else if (!value.is_null()) {
    message = value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  return excerpt(message, kMaxNoticeChars);  // one line, printable, bounded
}

std::optional<std::string> text_value(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::array: {
      std::string text;
      for (const json& element : value) {
        if (element.is_string()) {
          text += element.get_ref<const std::string&>();
        } else if (element.is_object() && is_text_block(element)) {
          auto t = element.find("text");
          if (t != element.end() && t->is_string()) text += t->get_ref<const std::string&>();
        }
      }
      return text;
    }
    case json::value_t::object: {
      auto t = value.find("text");
      if (t != value.end() && t->is_string()) return t->get<std::string>();
      return std::nullopt;
    }
    case json::value_t::boolean:
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return value.dump();
    default:
      return std::nullopt;
  }
}

std::optional<std::string> scalar_value(const json& value) {
  if (value.is_string()) {
    if (value.get_ref<const std::string&>().empty()) return std::nullopt;
    return value.get<std::string>();
  }
  if (value.is_number() || value.is_boolean()) return value.dump();
  return std::nullopt;
}

}  // namespace drover::parsers
