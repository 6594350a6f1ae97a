// Reading the fields of an ACP message's params: absent, null and mistyped fields all read as
// absent, since every message comes from a process that may send anything.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace drover::acp_fields {

/// `j[key]` when `j` is an object holding it and it is not null, else nullptr.
inline const nlohmann::json* member(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

/// `j[key]` when it is a string, else "".
inline std::string string_at(const nlohmann::json& j, const char* key) {
  const nlohmann::json* v = member(j, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace drover::acp_fields
