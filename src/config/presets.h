// Presets: route definitions shipped as data (presets/*.json, embedded at build time) or added by
// the user ($XDG_CONFIG_HOME/drover/presets/*.json). A preset file has the schema of a config
// file; its providers become routes (`drover run --route claude-cli`), and an account can start
// from one (`"preset": "codex-cli"`) and override any field. The public part is drover/presets.h.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "drover/presets.h"

namespace drover {

/// The names of `presets` and the provider ids they define: names a workspace file may not give
/// its own providers (README "Trusting a workspace file").
std::set<std::string> preset_provider_ids(const std::vector<PresetSource>& presets);

}  // namespace drover
