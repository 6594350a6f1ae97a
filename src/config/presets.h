// Presets: route definitions shipped as data (presets/*.json, embedded at build time) or added by
// the user ($XDG_CONFIG_HOME/drover/presets/*.json). A preset file has the schema of a config
// file; its providers become routes (`drover run --route claude-cli`), and an account can start
// from one (`"preset": "codex-cli"`) and override any field.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace drover {

struct PresetSource {
  std::string name;    ///< file name without .json: the id users refer to
  std::string text;    ///< JSON with comments, in the config schema (plus "description")
  std::string origin;  ///< "built-in preset NAME" or the file path, for error messages
  bool builtin = true;
};

/// The presets embedded in this build, sorted by name.
const std::vector<PresetSource>& builtin_presets();

/// The user's presets in `dir` (*.json), sorted by name; unreadable files are reported in
/// `errors`. A missing directory is not an error.
std::vector<PresetSource> user_presets(const std::string& dir, std::vector<std::string>& errors);

/// Built-in presets overlaid by the user's (a user preset replaces a built-in of the same name).
std::vector<PresetSource> all_presets(const std::string& user_dir, std::vector<std::string>& errors);

/// The names of `presets` and the provider ids they define: names a workspace file may not give
/// its own providers (README "Trusting a workspace file").
std::set<std::string> preset_provider_ids(const std::vector<PresetSource>& presets);

/// The "description" of a preset, or "".
std::string preset_description(const PresetSource& preset);

}  // namespace drover
