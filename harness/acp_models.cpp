// Which advertised ACP model a requested name stands for, and which name a print-mode route can
// pass on for an advertised one.
#include <algorithm>

#include "harness/acp.h"

namespace drover {
namespace {

// The model part of a runtime id `$runtime|provider|model(provider)`: the last '|' segment
// without a parenthesized suffix; empty for an id that is not one.
std::string runtime_model(const std::string& id) {
  const size_t bar = id.rfind('|');
  if (bar == std::string::npos) return {};
  std::string model = id.substr(bar + 1);
  if (const size_t paren = model.find('('); paren != std::string::npos && model.back() == ')')
    model.resize(paren);
  return model;
}

bool one_word(const std::string& s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  });
}

}  // namespace

AcpModelMatch match_acp_model(const std::string& requested,
                              const std::vector<AcpModelReport::Model>& offered,
                              const std::map<std::string, std::string>& aliases) {
  if (auto alias = aliases.find(requested); alias != aliases.end()) return {alias->second, "alias"};
  for (const auto& m : offered)
    if (m.id == requested) return {m.id, "id"};
  for (const auto& m : offered)
    if (!m.name.empty() && m.name == requested) return {m.id, "name"};
  for (const auto& m : offered)
    if (runtime_model(m.id) == requested) return {m.id, "runtime"};
  return {requested, ""};
}

std::string passable_model_id(const AcpModelReport::Model& model,
                              const std::map<std::string, std::string>& aliases) {
  for (const auto& [alias, id] : aliases)
    if (id == model.id) return alias;
  if (model.id.find('|') == std::string::npos) return model.id;
  if (one_word(model.name)) return model.name;
  std::string part = runtime_model(model.id);
  return part.empty() ? model.id : part;
}

}  // namespace drover
