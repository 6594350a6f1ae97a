// Config section: the ACP block (`transport.acp`).
#include <map>
#include <set>

#include "src/config/args_template.h"
#include "src/config/sections.h"

namespace drover::cfg {
namespace {

// `terminal`: true or false, or an object (enabled unless it says "enabled": false).
void parse_acp_terminal(Ctx& ctx, const ojson& v, const std::string& path, AcpTerminalSpec& spec) {
  if (v.is_boolean()) {
    spec.enabled = v.get<bool>();
    return;
  }
  if (!v.is_object()) {
    ctx.expected(path, "true, false or an object", v);
    return;
  }
  ctx.check_keys(v, path, {"enabled", "maxTerminals", "maxOutputBytes"});
  spec.enabled = ctx.bool_member(v, path, "enabled").value_or(true);
  constexpr int64_t kMostTerminals = 64;
  constexpr int64_t kMostOutputBytes = 64ll << 20;
  if (auto n = ctx.positive_int_member(v, path, "maxTerminals")) {
    if (*n > kMostTerminals)
      ctx.expected(child(path, "maxTerminals"), "at most " + std::to_string(kMostTerminals),
                   v.at("maxTerminals"));
    else
      spec.max_terminals = static_cast<size_t>(*n);
  }
  if (auto n = ctx.positive_int_member(v, path, "maxOutputBytes")) {
    if (*n > kMostOutputBytes)
      ctx.expected(child(path, "maxOutputBytes"), "at most 67108864 (64 MiB)",
                   v.at("maxOutputBytes"));
    else
      spec.max_output_bytes = static_cast<uint64_t>(*n);
  }
}

}  // namespace

namespace {

// ACP args take the placeholders that have a value when the agent is spawned.
std::optional<std::string> acp_arg_problem(const std::string& token) {
  auto [parsed, problem] = parse_template_token(token);
  if (!parsed) return problem;
  for (const auto& piece : parsed->pieces)
    if (piece.is_placeholder && piece.placeholder != Placeholder::model &&
        piece.placeholder != Placeholder::system && piece.placeholder != Placeholder::session_id)
      return "placeholder {" + std::string(to_string(piece.placeholder)) +
             "} is not available in ACP args (known: model, system, session_id)";
  return std::nullopt;
}

void parse_acp_extras(Ctx& ctx, const ojson& v, const std::string& path, AcpSpec& acp) {
  if (auto m = ctx.string_member(v, path, "systemPrompt", false, false)) {
    if (*m == "leadingBlock")
      acp.system_prompt = AcpSpec::SystemPrompt::leading_block;
    else if (*m == "none")
      acp.system_prompt = AcpSpec::SystemPrompt::none;
    else
      ctx.expected(child(path, "systemPrompt"), "\"leadingBlock\" or \"none\"", v.at("systemPrompt"));
  }
  if (auto it = v.find("usage"); it != v.end()) {
    const std::string upath = child(path, "usage");
    if (ctx.object(*it, upath)) {
      ctx.check_keys(*it, upath, {"result", "update"});
      acp.usage_result = parse_selector(ctx, *it, upath, "result", "resultPath");
      acp.usage_update = parse_selector(ctx, *it, upath, "update", "updatePath");
    }
  }
  if (auto it = v.find("modelAliases"); it != v.end()) {
    const std::string apath = child(path, "modelAliases");
    if (ctx.object(*it, apath)) {
      for (const auto& [alias, id] : it->items()) {
        if (alias.empty())
          ctx.error(apath, "an alias may not be empty");
        else if (!id.is_string() || id.get<std::string>().empty())
          ctx.expected(child(apath, alias), "a model id", id);
        else
          acp.model_aliases[alias] = id.get<std::string>();
      }
    }
  }
  if (auto it = v.find("configOptions"); it != v.end()) {
    const std::string opath = child(path, "configOptions");
    if (ctx.object(*it, opath)) {
      for (const auto& [id, value] : it->items()) {
        if (id.empty())
          ctx.error(opath, "a config option id may not be empty");
        else if (value.is_boolean() || (value.is_string() && !value.get<std::string>().empty()))
          acp.config_options.emplace_back(id, nlohmann::json::parse(value.dump()));
        else
          ctx.expected(child(opath, id), "a value id (string) or a boolean", value);
      }
    }
  }
  if (auto m = ctx.string_member(v, path, "elicitation", false, false)) {
    if (*m == "decline")
      acp.elicitation = AcpSpec::Elicitation::decline;
    else if (*m == "cancel")
      acp.elicitation = AcpSpec::Elicitation::cancel;
    else
      ctx.expected(child(path, "elicitation"), "\"decline\" or \"cancel\"", v.at("elicitation"));
  }
}

}  // namespace

void parse_acp(Ctx& ctx, const ojson& v, const std::string& path, AcpSpec& acp) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path,
                 {"args", "env", "cleanEnv", "clearEnv", "cwd", "contextMode", "watchdog",
                  "maxOutputBytes", "suppressHarnessNoise", "failOnHarnessOnlyTurn",
                  "noiseMarkers", "exitGrace", "cancelGrace", "lateUpdates", "permissions",
                  "permissionRules", "fs", "mcpServers", "authMethod", "sessionMeta",
                  "modelSelection", "strictModels", "envWhen", "policyModes", "fileInput",
                  "systemPrompt", "usage", "modelAliases", "configOptions", "elicitation",
                  "terminal"});
  parse_child_settings(ctx, v, path,
                       ChildSettings{acp.env, acp.clean_env, acp.clear_env, acp.cwd,
                                     acp.context_mode, acp.watchdog, acp.max_output_bytes,
                                     acp.noise});
  parse_env_when(ctx, v, path, acp.env_when, /*system_file=*/false);
  if (auto it = v.find("args"); it != v.end()) {
    const std::string apath = child(path, "args");
    if (!it->is_array()) {
      ctx.expected(apath, "an array of strings", *it);
    } else {
      bool any_when = false;
      std::vector<std::vector<std::string>> whens;
      for (size_t i = 0; i < it->size(); ++i) {
        const ojson* element = &(*it)[i];
        std::string epath = child(apath, i);
        std::vector<std::string> when;
        if (element->is_object()) {
          // {"when": conditions, "args": token or tokens}, as in print-mode argv templates.
          element = conditional_args(ctx, *element, epath, when);
          if (element == nullptr) continue;
          any_when = true;
        }
        const bool list = element != &(*it)[i] && element->is_array();
        if (!list && !element->is_string()) {
          ctx.expected(epath, element == &(*it)[i] ? "a string or {\"when\", \"args\"}"
                                                   : "a string or an array of strings",
                       *element);
          continue;
        }
        for (size_t j = 0; j < (list ? element->size() : 1); ++j) {
          const ojson& token = list ? (*element)[j] : *element;
          if (!token.is_string()) {
            ctx.expected(child(epath, j), "a string", token);
            continue;
          }
          if (token.get<std::string>().find('\0') != std::string::npos) {
            ctx.error(list ? child(epath, j) : epath, kNulInArgv);
            continue;
          }
          if (auto problem = acp_arg_problem(token.get<std::string>()))
            ctx.error(list ? child(epath, j) : epath, *problem);
          acp.args.push_back(token.get<std::string>());
          acp.args_group.push_back(i);
          whens.push_back(when);
        }
      }
      if (any_when) acp.args_when = std::move(whens);
    }
  }
  if (auto ms = ctx.seconds_member(v, path, "exitGrace", true)) acp.exit_grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "cancelGrace", true)) acp.cancel_grace_ms = *ms;
  if (auto ms = ctx.seconds_member(v, path, "lateUpdates", true)) acp.late_updates_ms = *ms;
  if (auto p = ctx.string_member(v, path, "permissions", false, false)) {
    if (auto policy = permission_policy_from_string(*p))
      acp.permissions = *policy;
    else
      ctx.expected(child(path, "permissions"), "one of approve-all, approve-reads, deny-all",
                   v.at("permissions"));
  }
  if (auto it = v.find("permissionRules"); it != v.end()) {
    const std::string rpath = child(path, "permissionRules");
    static const std::set<std::string> kKinds{"read",  "edit",  "delete",      "move",
                                              "search", "execute", "think", "fetch",
                                              "switch_mode", "other"};
    if (ctx.object(*it, rpath)) {
      for (const auto& [kind, rule] : it->items()) {
        if (!kKinds.count(kind))
          ctx.error(child(rpath, kind), "unknown tool kind " + quote(kind) +
                                            " (known: read, edit, delete, move, search, "
                                            "execute, think, fetch, switch_mode, other)");
        else if (rule == "allow" || rule == "deny")
          acp.permission_rules[kind] = rule == "allow";
        else
          ctx.expected(child(rpath, kind), "\"allow\" or \"deny\"", rule);
      }
    }
  }
  if (auto it = v.find("policyModes"); it != v.end()) {
    const std::string mpath = child(path, "policyModes");
    if (ctx.object(*it, mpath)) {
      for (const auto& [name, mode] : it->items()) {
        auto policy = permission_policy_from_string(name);
        if (!policy)
          ctx.error(child(mpath, name), "unknown policy " + quote(name) +
                                            " (known: approve-all, approve-reads, deny-all)");
        else if (!mode.is_string() || mode.get<std::string>().empty())
          ctx.expected(child(mpath, name), "a session mode id", mode);
        else
          acp.policy_modes[*policy] = mode.get<std::string>();
      }
    }
  }
  if (auto it = v.find("fs"); it != v.end()) {
    const std::string fpath = child(path, "fs");
    if (ctx.object(*it, fpath)) {
      ctx.check_keys(*it, fpath, {"read", "write", "extraDirs"});
      if (auto b = ctx.bool_member(*it, fpath, "read")) acp.fs_read = *b;
      if (auto b = ctx.bool_member(*it, fpath, "write")) acp.fs_write = *b;
      for (auto& dir : string_list(ctx, *it, fpath, "extraDirs")) {
        std::error_code ec;
        fs::path abs = fs::absolute(ctx.base_dir / dir, ec);
        acp.extra_dirs.push_back((ec ? ctx.base_dir / dir : abs).lexically_normal().string());
      }
    }
  }
  if (auto it = v.find("terminal"); it != v.end())
    parse_acp_terminal(ctx, *it, child(path, "terminal"), acp.terminal);
  if (auto it = v.find("mcpServers"); it != v.end()) {
    if (it->is_array())
      acp.mcp_servers = nlohmann::json::parse(it->dump());
    else
      ctx.expected(child(path, "mcpServers"), "an array of MCP server objects", *it);
  }
  if (auto m = ctx.string_member(v, path, "authMethod", false, true)) acp.auth_method = *m;
  if (auto it = v.find("sessionMeta"); it != v.end()) {
    if (it->is_object())
      acp.session_meta = nlohmann::json::parse(it->dump());
    else
      ctx.expected(child(path, "sessionMeta"), "an object", *it);
  }
  if (auto m = ctx.string_member(v, path, "modelSelection", false, false)) {
    static const std::map<std::string, AcpSpec::ModelSelection> kModes{
        {"auto", AcpSpec::ModelSelection::auto_},
        {"configOption", AcpSpec::ModelSelection::config_option},
        {"setModel", AcpSpec::ModelSelection::set_model},
        {"meta", AcpSpec::ModelSelection::meta},
        {"none", AcpSpec::ModelSelection::none}};
    if (auto found = kModes.find(*m); found != kModes.end())
      acp.model_selection = found->second;
    else
      ctx.expected(child(path, "modelSelection"), "one of auto, configOption, setModel, meta, none",
                   v.at("modelSelection"));
  }
  if (auto b = ctx.bool_member(v, path, "strictModels")) acp.strict_models = *b;
  if (auto it = v.find("fileInput"); it != v.end())
    parse_file_input(ctx, *it, child(path, "fileInput"), TransportKind::acp,
                     acp.file_input.emplace());
  parse_acp_extras(ctx, v, path, acp);
}

}  // namespace drover::cfg
