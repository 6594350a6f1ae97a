// Config section: the print-mode block (`transport.cli`) and its model discovery.
#include <map>

#include "src/config/args_template.h"
#include "src/config/sections.h"

namespace drover::cfg {

void parse_discovery(Ctx& ctx, const ojson& v, const std::string& path, DiscoverySpec& d) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(v, path, {"via", "route", "args", "parser", "ttl"});
  if (auto via = ctx.string_member(v, path, "via", true, false)) {
    static const std::map<std::string, DiscoverySpec::Via> kVia{
        {"static", DiscoverySpec::Via::static_}, {"acp", DiscoverySpec::Via::acp},
        {"command", DiscoverySpec::Via::command}, {"none", DiscoverySpec::Via::none}};
    if (auto found = kVia.find(*via); found != kVia.end())
      d.via = found->second;
    else
      ctx.expected(child(path, "via"), "one of acp, command, static, none", v.at("via"));
  }
  if (auto r = ctx.string_member(v, path, "route", d.via == DiscoverySpec::Via::acp, true))
    d.route = *r;
  d.args = string_list(ctx, v, path, "args");
  if (auto it = v.find("parser"); it != v.end()) {
    const std::string ppath = child(path, "parser");
    if (ctx.object(*it, ppath)) {
      ctx.check_keys(*it, ppath, {"kind", "models", "id", "contextWindow"});
      if (auto k = ctx.string_member(*it, ppath, "kind", false, false)) {
        if (*k == "text") d.kind = ParserSpec::Kind::text;
        else if (*k == "json") d.kind = ParserSpec::Kind::json;
        else if (*k == "jsonl") d.kind = ParserSpec::Kind::jsonl;
        else ctx.expected(child(ppath, "kind"), "one of text, json, jsonl", it->at("kind"));
      }
      if (auto m = ctx.string_member(*it, ppath, "models", false, true)) d.models_path = *m;
      if (auto m = ctx.string_member(*it, ppath, "id", false, true)) d.id_path = *m;
      if (auto m = ctx.string_member(*it, ppath, "contextWindow", false, true))
        d.context_window_path = *m;
    }
  }
  if (auto ms = ctx.seconds_member(v, path, "ttl", true)) d.ttl_ms = *ms;
}


void parse_cli(Ctx& ctx, const ojson& v, const std::string& path, CliSpec& cli) {
  if (!ctx.object(v, path)) return;
  ctx.check_keys(
      v, path,
      {"argsTemplate", "input", "parser", "env", "clearEnv", "cwd", "maxOutputBytes", "watchdog",
       "suppressHarnessNoise", "failOnHarnessOnlyTurn", "noiseMarkers", "streaming",
       "contextMode", "cleanEnv", "ephemeral", "discovery", "envWhen", "fileInput"});
  // nullopt when input itself is invalid: the {prompt} rules depend on it, so they are skipped.
  std::optional<CliSpec::Input> input = CliSpec::Input::arg;
  if (auto s = ctx.string_member(v, path, "input", false, false)) {
    if (*s == "arg") {
      input = CliSpec::Input::arg;
    } else if (*s == "stdin") {
      input = CliSpec::Input::stdin_;
    } else {
      ctx.expected(child(path, "input"), "one of arg, stdin", v.at("input"));
      input.reset();
    }
  } else if (v.contains("input")) {
    input.reset();
  }
  if (input) cli.input = *input;
  if (auto it = v.find("argsTemplate"); it != v.end()) {
    parse_args_template_json(ctx, *it, child(path, "argsTemplate"), input, cli.args_template,
                             cli.args_when);
  } else {
    ctx.missing(path, "argsTemplate", "the argv template");
  }
  if (auto it = v.find("parser"); it != v.end())
    cli.parser = parse_parser(ctx, *it, child(path, "parser"),
                              template_uses(cli.args_template, "output_file"));
  if (auto it = v.find("streaming"); it != v.end()) {
    // {argsTemplate, parser}: the same rules as the block's own, for streaming callers.
    const std::string spath = child(path, "streaming");
    if (ctx.object(*it, spath)) {
      ctx.check_keys(*it, spath, {"argsTemplate", "parser"});
      CliSpec::Streaming streaming;
      if (auto t = it->find("argsTemplate"); t != it->end())
        parse_args_template_json(ctx, *t, child(spath, "argsTemplate"), input,
                                 streaming.args_template, streaming.args_when);
      else
        ctx.missing(spath, "argsTemplate", "the argv template used when streaming");
      if (auto p = it->find("parser"); p != it->end())
        streaming.parser = parse_parser(ctx, *p, child(spath, "parser"),
                                        template_uses(streaming.args_template, "output_file"));
      cli.streaming = std::move(streaming);
    }
  }
  parse_child_settings(ctx, v, path,
                       ChildSettings{cli.env, cli.clean_env, cli.clear_env, cli.cwd,
                                     cli.context_mode, cli.watchdog, cli.max_output_bytes,
                                     cli.noise, /*system_file=*/true});
  parse_env_when(ctx, v, path, cli.env_when, /*system_file=*/true);
  if (auto b = ctx.bool_member(v, path, "ephemeral")) cli.ephemeral = *b;
  if (auto it = v.find("discovery"); it != v.end())
    parse_discovery(ctx, *it, child(path, "discovery"), cli.discovery);
  if (auto it = v.find("fileInput"); it != v.end()) {
    const std::string fpath = child(path, "fileInput");
    FileInputSpec& in = cli.file_input.emplace();
    const size_t before = ctx.errors.size();
    parse_file_input(ctx, *it, fpath, TransportKind::cli, in);
    // Where the files go must exist in the template (placement args) or must not (prompt).
    const bool files = template_uses(cli.args_template, "files") ||
                       (cli.streaming && template_uses(cli.streaming->args_template, "files"));
    if (ctx.errors.size() == before && in.placement == FileInputSpec::Placement::args && !files)
      ctx.error(fpath, "placement \"args\" needs {files} in argsTemplate (or "
                       "streaming.argsTemplate), where the per-file arguments go; or set "
                       "placement to \"prompt\"");
    if (ctx.errors.size() == before && in.placement == FileInputSpec::Placement::prompt && files)
      ctx.error(child(fpath, "placement"),
                "\"prompt\" mentions the files in the prompt, so the argsTemplate's {files} "
                "would stay empty: remove it (use {attachments_dir} to name their directory)");
  }
}

}  // namespace drover::cfg
