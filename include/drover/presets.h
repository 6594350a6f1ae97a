// Presets: route definitions shipped as data (presets/*.json, embedded at build time) or added by
// the user (<config dir>/presets/*.json). A preset file has the schema of a config file; its
// providers become routes (`drover run --route claude-cli`), and an account can start from one
// (`"preset": "codex-cli"`) and override any field.
#pragma once

#include <string>
#include <vector>

#include "drover/config.h"

namespace drover {

struct PresetSource {
  std::string name;    ///< file name without .json: the id users refer to
  std::string text;    ///< JSON with comments, in the config schema (plus "description")
  std::string origin;  ///< "built-in preset NAME" or the file path, for error messages
  bool builtin = true;
};

/// The presets embedded in this build, sorted by name. The vector lives as long as the program.
const std::vector<PresetSource>& builtin_presets();

/// The user's presets in `dir` (*.json), sorted by name; each unreadable file is reported in
/// `errors` (naming it) and left out. A missing directory is not an error.
std::vector<PresetSource> user_presets(const std::string& dir, std::vector<std::string>& errors);

/// Built-in presets overlaid by the user's in `user_dir` (a user preset replaces a built-in of the
/// same name), sorted by name; problems reading the user's go to `errors` as in user_presets().
std::vector<PresetSource> all_presets(const std::string& user_dir, std::vector<std::string>& errors);

/// Where the user's presets of `lookup` live: <config dir>/presets; empty when no config
/// directory is known.
std::string user_presets_dir(const ConfigLookup& lookup);

/// The "description" of a preset, or "" (also when its text is not valid JSON).
std::string preset_description(const PresetSource& preset);

}  // namespace drover
