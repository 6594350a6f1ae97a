// Values of a route's environment variables (env, cleanEnv, envWhen[].env): `${NAME}` and
// `${NAME:-default}` from drover's own environment, `$${` for a literal `${`, and the
// placeholder `{system_file}`. Nothing else is interpreted: `$NAME` and other braces (a JSON
// value) stay as written. Pure functions: the environment comes through a lookup.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover {

/// What is wrong with `value` (an unterminated `${`, a bad variable name, an unsupported
/// form, a default holding `{`: defaults are literal), without any path; nullopt when valid.
std::optional<std::string> env_value_problem(std::string_view value);

/// Whether `value` uses `{system_file}` (outside a `${…}` default, which is literal).
bool env_value_uses_system_file(std::string_view value);

/// The names of the variables `value` refers to (`${NAME}`, `${NAME:-…}`), in order.
std::vector<std::string> env_value_variables(std::string_view value);

/// Looks a variable of drover's environment up; nullptr when unset.
using EnvLookup = std::function<const char*(const std::string&)>;
/// getenv.
EnvLookup process_env_lookup();

/// `value` expanded: `${NAME}` becomes the variable's value (empty when unset),
/// `${NAME:-default}` the default when it is unset or empty, `$${` a literal `${`,
/// `{system_file}` `system_file`. Expanded text is never expanded again. nullopt when the value
/// uses `{system_file}` and there is none (the variable is then not set). An invalid value
/// (which validation rejects) is returned as written.
std::optional<std::string> expand_env_value(std::string_view value, const EnvLookup& lookup,
                                            const std::optional<std::string>& system_file);

}  // namespace drover
