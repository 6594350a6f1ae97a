// Where configuration comes from and how the files are merged: --config or $DROVER_CONFIG
// alone, else the global file then the workspace file (subject to trust), then the presets.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "src/config/fanout.h"
#include "src/config/presets.h"
#include "src/config/sections.h"
#include "src/config/trust.h"

namespace drover::cfg {

namespace {

// Reads a whole config file (read_config_file: regular, bounded). nullopt + problem when it
// exists but cannot be read.
std::optional<std::string> read_text(const fs::path& path, std::string& problem) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    problem = "config file " + path.string() + " is a directory";
    return std::nullopt;
  }
  std::string text;
  if (auto read_problem = read_config_file(path.string(), text)) {
    problem = "cannot read config file " + *read_problem;
    return std::nullopt;
  }
  return text;
}

bool file_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}


}  // namespace

}  // namespace drover::cfg

namespace drover {

using namespace cfg;

ConfigLookup ConfigLookup::from_environment() {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;  // empty counts as unset (XDG spec, shell habits)
    return std::string(v);
  };
  ConfigLookup lookup;
  lookup.env_path = env("DROVER_CONFIG");
  lookup.xdg_config_home = env("XDG_CONFIG_HOME");
  // The XDG spec says relative paths in $XDG_CONFIG_HOME are invalid and must be ignored.
  if (lookup.xdg_config_home && lookup.xdg_config_home->front() != '/')
    lookup.xdg_config_home.reset();
  lookup.home = env("HOME");
  lookup.workspace_dir = ".";
  return lookup;
}

std::string ConfigLookup::config_dir() const {
  if (xdg_config_home && !xdg_config_home->empty()) return *xdg_config_home + "/drover";
  if (home && !home->empty()) return *home + "/.config/drover";
  return {};
}


// Merge rules (global, then workspace):
// - a workspace provider replaces the global provider with the same id wholesale (accounts are
//   not merged one by one), keeping the global provider's position; new providers are appended;
// - the workspace defaultRoute wins when set;
// - defaultRoute is checked against the merged result, so either file may name a route the
//   other defines;
// - errors from both files are reported together;
// - the workspace file goes through trust (src/config/trust.h): left out when it can run commands and is
//   not trusted; when it only picks among routes and is not trusted, the global file's
//   defaultRoute, routing and providers win over its own; trusted or not, it may not name a
//   provider like a preset.
std::pair<std::optional<Config>, std::optional<Error>> load_config(const ConfigLookup& lookup) {
  try {
    const std::optional<std::string> single =
        lookup.explicit_path ? lookup.explicit_path : lookup.env_path;
    std::vector<fs::path> files;
    std::optional<fs::path> workspace_file;
    if (single) {
      if (!file_exists(*single))
        return {std::nullopt, config_error("config file not found: " + *single)};
      files.push_back(*single);
    } else {
      std::optional<fs::path> config_home;
      if (lookup.xdg_config_home && !lookup.xdg_config_home->empty()) {
        config_home = fs::path(*lookup.xdg_config_home);
      } else if (lookup.home && !lookup.home->empty()) {
        config_home = fs::path(*lookup.home) / ".config";
      }
      if (config_home) {
        fs::path global = (*config_home / "drover" / "config.json").lexically_normal();
        if (file_exists(global)) files.push_back(global);
      }
      fs::path workspace = workspace_config_path(lookup);
      if (file_exists(workspace)) {
        files.push_back(workspace);
        workspace_file = workspace;
      }
    }

    Config merged;
    std::string default_origin;
    std::vector<std::string> errors;
    const std::string presets_dir =
        lookup.config_dir().empty() ? std::string() : lookup.config_dir() + "/presets";
    const std::vector<PresetSource> presets =
        lookup.with_presets ? all_presets(presets_dir, errors) : builtin_presets();
    std::vector<UntrustedSource> untrusted;
    for (const auto& file : files) {
      std::string problem;
      auto text = read_text(file, problem);
      if (!text) {
        errors.push_back(problem);
        continue;
      }
      const bool is_workspace = file == workspace_file;
      std::set<std::string> reserved;
      WorkspaceVerdict verdict;
      std::function<bool(const ojson&)> admit;
      if (is_workspace) {
        reserved = preset_provider_ids(presets);
        admit = [&](const ojson& doc) {
          verdict = judge_workspace_file(lookup, file.string(), *text, doc, reserved);
          return verdict.trust != WorkspaceVerdict::Trust::untrusted;
        };
      }
      auto config = parse_one(*text, file.string(), errors, presets, admit);
      if (verdict.trust == WorkspaceVerdict::Trust::untrusted) {
        untrusted.push_back(std::move(verdict.ignored));
        merged.notices.push_back(std::move(verdict.notice));
        continue;
      }
      if (!config) continue;
      // Without trust, the workspace file adds to the global file but overrides nothing of it.
      const bool yields = verdict.trust == WorkspaceVerdict::Trust::data_only;
      std::vector<std::string> yielded;  // copies: merged.providers may still grow
      for (auto& p : config->providers) {
        if (is_workspace && reserved.count(p.id)) {
          errors.push_back(file.string() + ": " + child("providers", p.id) +
                           ": a workspace file may not redefine the preset " + quote(p.id) +
                           " (give the provider another name; its accounts may start from the "
                           "preset with \"preset\": " + quote(p.id) + ")");
          continue;
        }
        auto same = std::find_if(merged.providers.begin(), merged.providers.end(),
                                 [&](const ProviderSpec& q) { return q.id == p.id; });
        if (same != merged.providers.end() && yields)
          yielded.push_back(same->id);
        else if (same != merged.providers.end())
          *same = std::move(p);
        else
          merged.providers.push_back(std::move(p));
      }
      if (config->default_route && yields && merged.default_route) {
        yielded.push_back("defaultRoute");
      } else if (config->default_route) {
        merged.default_route = config->default_route;
        default_origin = file.string();
      }
      if (config->routing.configured && yields && merged.routing.configured)
        yielded.push_back("routing");
      else if (config->routing.configured)
        merged.routing = config->routing;  // workspace wins
      // `staging` makes a workspace file one that needs trust (it says where copies are written),
      // so a workspace block that was read is trusted and wins like routing.
      if (config->staging.configured) merged.staging = config->staging;
      // Likewise `fanout` (any key but defaultRoute, routing and description makes a workspace file
      // one that needs trust): field by field, the later file's values win.
      merged.fanout = merged_fanout(config->fanout, merged.fanout);
      if (!yielded.empty())
        merged.notices.push_back(valid_utf8(
            verdict.key + " is not trusted, so the global configuration's " +
            join(std::vector<std::string_view>(yielded.begin(), yielded.end()), ", ") +
            " win over its own (to let it override them: drover trust " + shell_word(verdict.key) +
            ")"));
      merged.sources.push_back(file.string());
    }
    if (lookup.with_presets) {
      for (const auto& preset : presets) {
        auto config = parse_one(preset.text, preset.origin, errors, presets);
        if (!config) continue;
        for (auto& p : config->providers) {
          const bool taken = std::any_of(merged.providers.begin(), merged.providers.end(),
                                         [&](const ProviderSpec& q) { return q.id == p.id; });
          if (taken) continue;  // the user's own definition wins
          p.preset = preset.name;
          merged.providers.push_back(std::move(p));
        }
      }
    }
    if (!errors.empty()) return {std::nullopt, config_error(join_errors(errors))};
    if (auto problem = default_route_problem(merged, default_origin))
      return {std::nullopt, config_error(*problem)};
    merged.untrusted = std::move(untrusted);  // after the check: it validates what was read
    return {std::move(merged), std::nullopt};
  } catch (const std::exception& e) {
    return {std::nullopt, config_error(std::string("cannot load configuration: ") + e.what())};
  }
}

}  // namespace drover
