#include "src/config/presets.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "parsers/json_limits.h"

namespace drover {

std::vector<PresetSource> user_presets(const std::string& dir, std::vector<std::string>& errors) {
  std::vector<PresetSource> out;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto& path = entry.path();
    if (path.extension() != ".json") continue;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      errors.push_back(path.string() + ": cannot read the preset file");
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    out.push_back({path.stem().string(), text.str(), path.string(), false});
  }
  std::sort(out.begin(), out.end(),
            [](const PresetSource& a, const PresetSource& b) { return a.name < b.name; });
  return out;
}

std::vector<PresetSource> all_presets(const std::string& user_dir, std::vector<std::string>& errors) {
  std::vector<PresetSource> out = builtin_presets();
  for (auto& user : user_presets(user_dir, errors)) {
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const PresetSource& p) { return p.name == user.name; });
    if (same != out.end())
      *same = std::move(user);
    else
      out.push_back(std::move(user));
  }
  return out;
}

std::set<std::string> preset_provider_ids(const std::vector<PresetSource>& presets) {
  std::set<std::string> ids;
  for (const auto& preset : presets) {
    ids.insert(preset.name);
    auto doc = nlohmann::json::parse(preset.text, nullptr, false, true);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("providers") ||
        !doc["providers"].is_object())
      continue;
    for (const auto& [id, provider] : doc["providers"].items()) ids.insert(id);
  }
  return ids;
}

std::string user_presets_dir(const ConfigLookup& lookup) {
  const std::string dir = lookup.config_dir();
  return dir.empty() ? std::string() : dir + "/presets";
}

std::string preset_description(const PresetSource& preset) {
  auto doc = parsers::parse_untrusted(preset.text, nullptr, /*ignore_comments=*/true);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto it = doc.find("description");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace drover
