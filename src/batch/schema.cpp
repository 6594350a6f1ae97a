#include "src/batch/schema.h"

// valijson reports what it cannot do (a remote $ref, a schema it cannot read) by throwing when
// this is set, and by aborting the program when it is not.
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <exception>
#include <mutex>

#include "parsers/json_limits.h"

namespace drover {

namespace {

constexpr size_t kMaxSchemaErrors = 20;
/// The largest answer read as JSON: a model's extraction answer is far smaller, and every later
/// walk of the value (validation, dumping the record) stays cheap.
constexpr size_t kMaxAnswerBytes = 1 << 20;

// valijson's context is {"<root>", "[name]", "[0]", …}: a JSON pointer says "/name/0".
std::string json_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string_view token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
      token = token.substr(1, token.size() - 2);
    pointer += '/';
    for (char c : token) {
      if (c == '~')
        pointer += "~0";
      else if (c == '/')
        pointer += "~1";
      else
        pointer += c;
    }
  }
  return pointer.empty() ? "/" : pointer;
}

}  // namespace

struct JsonSchemaValidator::Impl {
  nlohmann::json document;  ///< the schema valijson's adapters point into
  valijson::Schema schema;
  // valijson's Validator caches compiled regexes, so validate() (const) takes it under a lock.
  mutable std::mutex mutex;
  mutable valijson::Validator validator;
};

std::unique_ptr<JsonSchemaValidator> JsonSchemaValidator::compile(const nlohmann::json& schema,
                                                                  std::string& error) {
  if (!schema.is_object() && !schema.is_boolean()) {
    error = "a JSON schema is an object (or true/false), not " + std::string(schema.type_name());
    return nullptr;
  }
  std::unique_ptr<JsonSchemaValidator> validator(new JsonSchemaValidator());
  validator->impl_ = std::make_unique<Impl>();
  Impl& impl = *validator->impl_;
  impl.document = schema;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(impl.document);
    // No fetch function: a $ref to another document is an error, never a network fetch.
    parser.populateSchema(adapter, impl.schema);
  } catch (const std::exception& e) {
    error = std::string("not a usable JSON schema: ") + e.what();
    return nullptr;
  }
  return validator;
}

JsonSchemaValidator::~JsonSchemaValidator() = default;

std::vector<std::string> JsonSchemaValidator::validate(const nlohmann::json& value) const {
  std::vector<std::string> lines;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(value);
  try {
    std::lock_guard lock(impl_->mutex);
    if (impl_->validator.validate(impl_->schema, target, &results)) return lines;
  } catch (const std::exception& e) {
    lines.push_back(std::string("/: the schema could not be checked: ") + e.what());
    return lines;
  }
  valijson::ValidationResults::Error failure;
  size_t total = results.numErrors();
  while (lines.size() < kMaxSchemaErrors && results.popError(failure))
    lines.push_back(json_pointer(failure.context) + ": " + failure.description);
  if (lines.empty()) lines.push_back("/: does not validate against the schema");
  if (total > lines.size())
    lines.back() += " (and " + std::to_string(total - lines.size()) + " more)";
  return lines;
}

namespace {

// JSON text, parsed within the project's depth bound; nullopt when it is not JSON.
std::optional<nlohmann::json> parse_answer(std::string_view text, bool& too_deep) {
  parsers::JsonLimit limit = parsers::JsonLimit::none;
  nlohmann::json value = parsers::parse_untrusted(text, &limit);
  if (limit == parsers::JsonLimit::too_deep) too_deep = true;
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// The body of the first ``` fence (```json or a bare ```), when it is closed.
std::optional<std::string_view> first_fence(std::string_view text) {
  const auto open = text.find("```");
  if (open == std::string_view::npos) return std::nullopt;
  const auto line_end = text.find('\n', open + 3);
  if (line_end == std::string_view::npos) return std::nullopt;
  std::string_view info = trim(text.substr(open + 3, line_end - open - 3));
  if (!info.empty() && info != "json" && info != "JSON") return std::nullopt;
  const auto close = text.find("```", line_end + 1);
  if (close == std::string_view::npos) return std::nullopt;
  return text.substr(line_end + 1, close - line_end - 1);
}

// From the first '{' or '[' to the last matching closer of the same kind.
std::optional<std::string_view> outermost_span(std::string_view text) {
  const auto open = text.find_first_of("{[");
  if (open == std::string_view::npos) return std::nullopt;
  const char closer = text[open] == '{' ? '}' : ']';
  const auto close = text.rfind(closer);
  if (close == std::string_view::npos || close < open) return std::nullopt;
  return text.substr(open, close - open + 1);
}

}  // namespace

std::optional<nlohmann::json> extract_json_answer(std::string_view text, std::string& error) {
  if (text.size() > kMaxAnswerBytes) {
    error = "the answer is " + std::to_string(text.size()) + " bytes; at most " +
            std::to_string(kMaxAnswerBytes) + " are read as JSON";
    return std::nullopt;
  }
  const std::string_view whole = trim(text);
  if (whole.empty()) {
    error = "the answer is empty, not JSON";
    return std::nullopt;
  }
  bool too_deep = false;
  if (auto value = parse_answer(whole, too_deep)) return value;
  if (auto fence = first_fence(whole))
    if (auto value = parse_answer(trim(*fence), too_deep)) return value;
  if (auto span = outermost_span(whole))
    if (auto value = parse_answer(*span, too_deep)) return value;
  error = too_deep ? "the answer's JSON is " + parsers::json_depth_problem()
                   : "the answer holds no JSON (not as a whole, not in a ```json fence, not as a "
                     "{...} or [...] span)";
  return std::nullopt;
}

}  // namespace drover
