// The mock gateway's script: an ordered list of rules; the first rule whose `match` fits a request
// answers it. The format is documented in src/gateway/README.md and exemplified by
// fixtures/gateway/example-script.json.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/gateway/request_info.h"

namespace drover::gateway {

struct ToolCallSpec {
  std::string name;
  std::string arguments;  ///< a JSON text (an object for every provider but Chat/Responses' string)
  std::string id;         ///< "" = generated
};

struct UsageSpec {
  std::optional<int64_t> input;
  std::optional<int64_t> output;
  std::optional<int64_t> cache_read;
};

struct ResponseSpec {
  std::optional<std::string> text;      ///< may hold {{prompt}} and {{model}}
  std::optional<std::string> thinking;  ///< reasoning text, sent before the answer
  std::vector<ToolCallSpec> tool_calls;
  int status = 200;
  std::optional<std::string> message;     ///< error message
  std::optional<std::string> error_type;  ///< error type (OpenAI/Anthropic) or status (Gemini)
  std::optional<double> retry_after;      ///< seconds → Retry-After
  std::optional<int64_t> retry_after_ms;  ///< → retry-after-ms
  std::optional<std::string> body;        ///< raw body, sent as is
  std::optional<std::string> content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t delay_ms = 0;        ///< before the first byte
  int64_t chunk_delay_ms = 0;  ///< between stream events
  std::optional<int64_t> drop_after_chunks;
  std::optional<int64_t> chunks;  ///< number of text deltas (default 4)
  UsageSpec usage;
  std::optional<std::string> stop_reason;  ///< "max_tokens" for a truncated answer
  bool is_error() const { return status < 200 || status >= 300; }
};

struct MatchSpec {
  std::optional<std::string> model;
  std::optional<std::string> text;
  std::optional<std::string> text_regex_source;
  std::optional<std::regex> text_regex;
  std::optional<std::string> path;
  std::optional<std::string> api_key;
  std::optional<Provider> provider;
  std::optional<std::string> api;
  std::optional<bool> stream;
  std::optional<bool> has_tools;
  std::optional<bool> tool_result;
  std::optional<int64_t> times;
};

struct Rule {
  std::string name;
  MatchSpec match;
  ResponseSpec respond;
};

class Script {
 public:
  Script() = default;
  /// Parses a script (JSON text). On failure returns nullopt and sets `error` to a message naming
  /// the JSON path of the fault.
  static std::optional<Script> parse(const std::string& text, std::string& error);
  static std::optional<Script> load_file(const std::string& path, std::string& error);

  /// The index of the first rule that matches `info`, counting the request against that rule's
  /// `times`. Thread-safe.
  std::optional<size_t> select(const RequestInfo& info);

  const Rule& rule(size_t index) const { return rules_[index]; }
  size_t size() const { return rules_.size(); }
  /// Models named by the script (top-level `models` and the rules' `match.model`).
  const std::vector<std::string>& models() const { return models_; }

 private:
  std::vector<Rule> rules_;
  std::vector<int64_t> used_;
  std::vector<std::string> models_;
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
};

}  // namespace drover::gateway
