// Keeping secrets out of what drover prints: the secret strings of a run, replaced wherever a
// result, an event, a warning, a transcript line or a log line is finalized, and URL credentials
// replaced wherever a URL is shown.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

/// The secret strings of one run; each occurrence in text becomes "[redacted]".
class Secrets {
 public:
  /// Values shorter than this are not kept: they are no real secret (true, 1, on), and replacing
  /// them everywhere would mangle the output.
  static constexpr size_t kMinLength = 6;

  /// Adds `value` (ignored when shorter than kMinLength).
  void add(std::string value);
  bool empty() const noexcept { return values_.empty(); }

  /// `text` with every secret replaced (longest first, so a secret inside another goes too).
  std::string redact(std::string text) const;
  /// Every string of `value` (keys stay).
  void redact(nlohmann::json& value) const;
  /// The result's answer and thinking, error message, warnings, process evidence and attempts
  /// (their errors and evidence).
  void redact(Result& result) const;
  /// An event's text and data. A secret split across two deltas is not seen in either.
  void redact(Event& event) const;

 private:
  std::vector<std::string> values_;  // longest first
};

/// Whether an environment variable's name says it holds a secret: it contains KEY, TOKEN,
/// SECRET or PASSWORD (any case).
bool secret_env_name(std::string_view name);

/// The userinfo of `url` ("user:password" of scheme://user:password@host/...), or empty.
std::string url_userinfo(std::string_view url);

/// The secrets of `route`: the values of its env/cleanEnv/envWhen entries with a secret-looking
/// name (CLI and ACP; as written and expanded from drover's environment), its API keys (apiKey, or every key of the apiKeyEnv pool) and the userinfo of its
/// baseUrl (whole, and the password alone).
Secrets route_secrets(const Route& route);

}  // namespace drover
