// Credentials of a route: the key pool of an API account and the labels its keys and accounts
// are remembered under (cooldowns, round-robin counters). Labels name routes, never keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drover/config.h"
#include "drover/result.h"

namespace drover {

/// The API keys of an account's credential specs, in pool order: each entry's apiKey, or its
/// variable apiKeyEnv split by apiKeyDelimiter (blanks dropped), entry after entry. Empty when
/// the account has none. `error` is set when an apiKeyEnv names a variable that is unset or
/// empty, or holds no key (the message names the variable and, for a `credentials` entry, its id).
std::vector<std::string> load_api_keys(const std::vector<CredentialSpec>& specs,
                                       const std::string& route_id, std::optional<Error>& error);

/// `provider:transport:account` of `route`: what an account's cooldown is kept under.
std::string account_label(const Route& route);

/// The label of key `index` (0-based) of the route's account pool: `<account label>#key<n>`.
std::string credential_label(const Route& route, int index);

}  // namespace drover
