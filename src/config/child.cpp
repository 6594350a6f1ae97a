// Config sections: the settings every harness process has, print mode and ACP alike
// (environment, cwd, context mode, watchdog, output cap, noise filter).
#include "parsers/noise_filter.h"
#include "src/config/env_value.h"
#include "src/config/sections.h"

namespace drover::cfg {

void parse_watchdog(Ctx& ctx, const ojson& v, const std::string& path, WatchdogSpec& w) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"startTimeout", "idleTimeout", "timeout", "killGrace", "drainAfterExit",
                  "resume"});
  ctx.timeout_member(v, path, "startTimeout", w.start_timeout_ms);
  ctx.timeout_member(v, path, "idleTimeout", w.idle_timeout_ms);
  ctx.timeout_member(v, path, "timeout", w.total_timeout_ms);
  if (auto ms = ctx.seconds_member(v, path, "killGrace", true)) w.grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "drainAfterExit", true)) w.drain_ms = *ms;
  if (auto it = v.find("resume"); it != v.end()) {
    const std::string rpath = child(path, "resume");
    if (!ctx.object(*it, rpath)) return;
    ctx.check_keys(*it, rpath, {"startTimeout", "idleTimeout", "timeout"});
    WatchdogSpec::Resume r;
    r.start_timeout_ms = ctx.seconds_member(*it, rpath, "startTimeout", false);
    r.idle_timeout_ms = ctx.seconds_member(*it, rpath, "idleTimeout", false);
    r.total_timeout_ms = ctx.seconds_member(*it, rpath, "timeout", false);
    w.resume = r;
  }
}


void parse_noise_markers(Ctx& ctx, const ojson& v, const std::string& path, NoiseSpec& noise) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"builtin", "lines", "prefixes", "regexes", "afterNoise", "blocks"});
  if (auto b = ctx.bool_member(v, path, "builtin")) noise.builtin_markers = *b;
  noise.markers.lines = string_list(ctx, v, path, "lines");
  noise.markers.prefixes = string_list(ctx, v, path, "prefixes");
  noise.markers.regexes = string_list(ctx, v, path, "regexes");
  noise.markers.after_noise = string_list(ctx, v, path, "afterNoise");
  if (auto it = v.find("blocks"); it != v.end()) {
    const std::string bpath = child(path, "blocks");
    if (!it->is_array()) {
      ctx.expected(bpath, "an array of [open, close] pairs", *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson& pair = (*it)[i];
        if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string() &&
            !pair[0].get<std::string>().empty() && !pair[1].get<std::string>().empty())
          noise.markers.blocks.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
        else
          ctx.expected(child(bpath, i), "a pair [open tag, close tag] of non-empty strings", pair);
      }
    }
  }
  if (auto problem = parsers::validate(noise.markers)) ctx.error(path, *problem);
}


// An object of environment variables (env, cleanEnv, envWhen[i].env). Values are checked for
// the ${NAME} syntax here, expanded when a run builds the environment. `system_file`: the
// transport offers {system_file} (print mode).
void parse_env_map(Ctx& ctx, const ojson& obj, const std::string& epath,
                   std::map<std::string, std::string>& target, bool system_file) {
  for (const auto& [name, value] : obj.items()) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      ctx.error(child(epath, name), "invalid environment variable name " + quote(name));
    } else if (!value.is_string()) {
      ctx.expected(child(epath, name), "a string", value);
    } else if (value.get<std::string>().find('\0') != std::string::npos) {
      ctx.error(child(epath, name), kNulInArgv);
    } else if (auto problem = env_value_problem(value.get<std::string>())) {
      ctx.error(child(epath, name), *problem);
    } else if (!system_file && env_value_uses_system_file(value.get<std::string>())) {
      ctx.error(child(epath, name),
                "{system_file} is not available here (print-mode routes only: an ACP agent "
                "takes the system prompt through acp.args {system}, acp.sessionMeta or "
                "acp.systemPrompt)");
    } else {
      target[name] = value.get<std::string>();
    }
  }
}

void parse_child_settings(Ctx& ctx, const ojson& v, const std::string& path, ChildSettings out) {
  for (auto [key, target] : {std::pair{"env", &out.env}, std::pair{"cleanEnv", &out.clean_env}}) {
    auto it = v.find(key);
    if (it == v.end()) continue;
    const std::string epath = child(path, key);
    if (!ctx.object(*it, epath)) continue;
    parse_env_map(ctx, *it, epath, *target, out.system_file);
  }
  if (auto mode = ctx.string_member(v, path, "contextMode", false, false)) {
    if (auto parsed = context_mode_from_string(*mode))
      out.context_mode = *parsed;
    else
      ctx.expected(child(path, "contextMode"), "one of workspace, clean", v.at("contextMode"));
  }
  if (auto it = v.find("clearEnv"); it != v.end()) {
    const std::string cpath = child(path, "clearEnv");
    if (!it->is_array()) {
      ctx.expected(cpath, "an array of environment variable names", *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson& name = (*it)[i];
        if (!name.is_string() || name.get<std::string>().empty() ||
            name.get<std::string>().find('=') != std::string::npos) {
          ctx.expected(child(cpath, i), "an environment variable name", name);
        } else {
          out.clear_env.push_back(name.get<std::string>());
        }
      }
    }
  }
  if (auto cwd = ctx.string_member(v, path, "cwd", false, true)) {
    // Relative to the config file, so a checked-in drover.json works from any directory.
    std::error_code ec;
    fs::path abs = fs::absolute(ctx.base_dir / *cwd, ec);
    if (ec) abs = ctx.base_dir / *cwd;
    out.cwd = abs.lexically_normal().string();
  }
  if (auto n = ctx.positive_int_member(v, path, "maxOutputBytes"))
    out.max_output_bytes = static_cast<uint64_t>(*n);
  if (auto it = v.find("watchdog"); it != v.end())
    parse_watchdog(ctx, *it, child(path, "watchdog"), out.watchdog);
  if (auto b = ctx.bool_member(v, path, "suppressHarnessNoise")) out.noise.suppress = *b;
  if (auto b = ctx.bool_member(v, path, "failOnHarnessOnlyTurn"))
    out.noise.fail_on_noise_only = *b;
  if (auto it = v.find("noiseMarkers"); it != v.end())
    parse_noise_markers(ctx, *it, child(path, "noiseMarkers"), out.noise);
}


// envWhen: [{"when": conditions, "env": {NAME: value}}], variables set only when every
// condition holds (the conditions of conditional argv groups).
void parse_env_when(Ctx& ctx, const ojson& v, const std::string& path,
                    std::vector<ConditionalEnv>& out, bool system_file) {
  auto it = v.find("envWhen");
  if (it == v.end()) return;
  const std::string wpath = child(path, "envWhen");
  if (!it->is_array()) {
    ctx.expected(wpath, "an array of {\"when\": conditions, \"env\": {…}} objects", *it);
    return;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const ojson& entry = (*it)[i];
    const std::string epath = child(wpath, i);
    if (!ctx.object(entry, epath)) continue;
    ctx.check_keys(entry, epath, {"when", "env"});
    ConditionalEnv conditional;
    if (auto w = entry.find("when"); w != entry.end())
      conditional.when = parse_when(ctx, *w, child(epath, "when"));
    else
      ctx.missing(epath, "when", "the conditions under which the variables are set");
    if (auto e = entry.find("env"); e != entry.end()) {
      if (ctx.object(*e, child(epath, "env")))
        parse_env_map(ctx, *e, child(epath, "env"), conditional.env, system_file);
    } else {
      ctx.missing(epath, "env", "the variables to set");
    }
    out.push_back(std::move(conditional));
  }
}

}  // namespace drover::cfg
