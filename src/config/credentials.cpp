#include "src/config/credentials.h"

#include <cstdlib>

namespace drover {

std::string account_label(const Route& r) { return r.provider + ":" + r.transport + ":" + r.account; }

std::string credential_label(const Route& r, int index) {
  return account_label(r) + "#key" + std::to_string(index + 1);
}

namespace {

void add_keys(const CredentialSpec& spec, const std::string& route_id,
              std::vector<std::string>& keys, std::optional<Error>& error) {
  if (spec.api_key) {
    keys.push_back(*spec.api_key);
    return;
  }
  if (!spec.api_key_env) return;
  const std::string where =
      " (route " + route_id + (spec.id.empty() ? "" : ", credential " + spec.id) + ")";
  const char* value = std::getenv(spec.api_key_env->c_str());
  if (value == nullptr || *value == '\0') {
    error = Error::make(ErrorCode::auth_error,
                        "the API key variable " + *spec.api_key_env + where + " is not set");
    return;
  }
  std::string all(value);
  if (!spec.api_key_delimiter) {
    keys.push_back(all);
    return;
  }
  const std::string& delim = *spec.api_key_delimiter;
  const size_t before = keys.size();
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find(delim, start);
    if (end == std::string::npos) end = all.size();
    std::string key = all.substr(start, end - start);
    key.erase(0, key.find_first_not_of(" \t\r\n"));
    key.erase(key.find_last_not_of(" \t\r\n") + 1);
    if (!key.empty()) keys.push_back(std::move(key));
    start = end + delim.size();
  }
  if (keys.size() == before)
    error = Error::make(ErrorCode::auth_error,
                        "the API key variable " + *spec.api_key_env + where + " holds no key");
}

}  // namespace

std::vector<std::string> load_api_keys(const std::vector<CredentialSpec>& specs,
                                       const std::string& route_id, std::optional<Error>& error) {
  std::vector<std::string> keys;
  for (const auto& spec : specs) {
    add_keys(spec, route_id, keys, error);
    if (error) return {};
  }
  return keys;
}

}  // namespace drover
