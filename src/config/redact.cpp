#include "src/config/redact.h"

#include <algorithm>

#include "src/config/credentials.h"
#include "src/config/env_value.h"
#include "src/core/text.h"

namespace drover {
namespace {

constexpr std::string_view kRedacted = "[redacted]";

// The authority of the URL whose "://" is at `sep`: [begin, end) of what follows it.
std::pair<size_t, size_t> authority_at(std::string_view text, size_t sep) {
  const size_t begin = sep + 3;
  size_t end = text.find_first_of("/?#\"' \t\r\n<>", begin);
  if (end == std::string_view::npos) end = text.size();
  return {begin, end};
}

}  // namespace

void Secrets::add(std::string value) {
  if (value.size() < kMinLength) return;
  if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
  values_.push_back(std::move(value));
  std::stable_sort(values_.begin(), values_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Secrets::redact(std::string text) const {
  for (const auto& secret : values_)
    // The search goes on past the replacement: a secret inside "[redacted]" would match again.
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + kRedacted.size()))
      text.replace(pos, secret.size(), kRedacted);
  return text;
}

void Secrets::redact(nlohmann::json& value) const {
  if (values_.empty()) return;
  if (value.is_string()) {
    value = redact(value.get<std::string>());
  } else if (value.is_structured()) {
    for (auto& v : value) redact(v);
  }
}

void Secrets::redact(Result& result) const {
  if (values_.empty()) return;
  result.text = redact(std::move(result.text));
  if (result.thinking) result.thinking = redact(std::move(*result.thinking));
  auto error = [this](std::optional<Error>& e) {
    if (e) e->message = redact(std::move(e->message));
  };
  auto process = [this](std::optional<ProcessInfo>& p) {
    if (p) p->evidence = redact(std::move(p->evidence));
  };
  error(result.error);
  process(result.process);
  for (auto& w : result.warnings) w = redact(std::move(w));
  for (auto& a : result.attempts) {
    error(a.error);
    process(a.process);
  }
}

void Secrets::redact(Event& event) const {
  if (values_.empty()) return;
  event.text = redact(std::move(event.text));
  if (event.tool) {
    event.tool->name = redact(std::move(event.tool->name));
    redact(event.tool->arguments);
    redact(event.tool->result);
  }
  if (event.permission) event.permission->title = redact(std::move(event.permission->title));
  redact(event.raw);
}

bool secret_env_name(std::string_view name) {
  return text::contains_any(text::lower(name), {"key", "token", "secret", "password"});
}

std::string url_userinfo(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  auto [begin, end] = authority_at(url, sep);
  const size_t at = url.substr(begin, end - begin).rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(url.substr(begin, at));
}

std::string redact_url(std::string text) {
  for (size_t sep = text.find("://"); sep != std::string::npos; sep = text.find("://", sep + 3)) {
    auto [begin, end] = authority_at(text, sep);
    const size_t at = std::string_view(text).substr(begin, end - begin).rfind('@');
    if (at != std::string::npos && at > 0) text.replace(begin, at, kRedacted);
  }
  return text;
}

Secrets route_secrets(const Route& route) {
  Secrets secrets;
  if (route.account_spec == nullptr) return secrets;
  const TransportSpec& t = route.account_spec->transport;
  // Only the block of the route's kind exists: a harness's environment, or an API's credentials.
  std::vector<const std::map<std::string, std::string>*> envs;
  const std::vector<ConditionalEnv>* conditional = nullptr;
  if (const CliSpec* cli = t.if_cli()) {
    envs = {&cli->env, &cli->clean_env};
    conditional = &cli->env_when;
  } else if (const AcpSpec* acp = t.if_acp()) {
    envs = {&acp->env, &acp->clean_env};
    conditional = &acp->env_when;
  }
  if (conditional != nullptr)
    for (const auto& entry : *conditional) envs.push_back(&entry.env);
  // Both as written and as a run expands it; and a value that takes a secret-looking variable
  // of drover's environment (`Bearer ${API_TOKEN}`) is a secret whatever its own name.
  const EnvLookup lookup = process_env_lookup();
  for (const auto* env : envs)
    for (const auto& [name, value] : *env) {
      const auto refs = env_value_variables(value);
      const bool takes_secret = std::any_of(refs.begin(), refs.end(), [](const std::string& r) {
        return secret_env_name(r);
      });
      if (!secret_env_name(name) && !takes_secret) continue;
      if (secret_env_name(name)) secrets.add(value);
      if (auto expanded = expand_env_value(value, lookup, std::nullopt))
        secrets.add(std::move(*expanded));
      for (const auto& r : refs)
        if (const char* v = secret_env_name(r) ? lookup(r) : nullptr) secrets.add(v);
    }
  if (const ApiSpec* api = t.if_api()) {
    for (const auto& credential : api->credentials) {
      // Entry by entry: one missing variable (reported when a run needs it) hides no other key.
      std::optional<Error> ignored;
      for (auto& key : load_api_keys({credential}, route.id, ignored)) secrets.add(std::move(key));
    }
    if (std::string userinfo = url_userinfo(api->base_url); !userinfo.empty()) {
      const size_t colon = userinfo.find(':');
      if (colon != std::string::npos) secrets.add(userinfo.substr(colon + 1));
      secrets.add(std::move(userinfo));
    }
  }
  return secrets;
}

}  // namespace drover
