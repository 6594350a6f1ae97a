// drover's command line: a thin layer over the library (src/run.h, src/drover/*.h).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include "drover/client.h"
#include "drover/config.h"
#include "src/loop.h"
#include "src/run.h"

namespace {

using drover::Error;
using drover::ErrorCode;

constexpr int kExitUsage = 2;

// nlohmann throws on invalid UTF-8 by default; harness output may contain any bytes.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_stdout(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "drover: %s\n", message.c_str());
  return kExitUsage;
}

std::optional<int64_t> seconds_to_ms(const std::optional<double>& seconds) {
  if (!seconds) return std::nullopt;
  return static_cast<int64_t>(*seconds * 1000.0);
}

// Loads configuration by the README's lookup rules, with --config first.
std::optional<drover::Config> load(const std::string& config_path, int& exit_code) {
  auto lookup = drover::ConfigLookup::from_environment();
  if (!config_path.empty()) lookup.explicit_path = config_path;
  auto [config, error] = drover::load_config(lookup);
  if (!config) {
    std::fprintf(stderr, "drover: %s\n", error ? error->message.c_str() : "cannot load config");
    exit_code = error ? drover::exit_code_for(error->code) : kExitUsage;
    return std::nullopt;
  }
  return std::move(config);
}

struct RunOptions {
  std::string route;
  std::string model;
  std::string config;
  std::string cwd;
  std::string system;
  std::string resume;
  std::optional<double> timeout, idle_timeout, start_timeout;
  std::string output = "text";
  std::vector<std::string> prompt_words;
};

int command_run(const RunOptions& opts) {
  drover::RunRequest request;
  if (opts.prompt_words.size() == 1 && opts.prompt_words[0] == "-") {
    request.prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    for (size_t i = 0; i < opts.prompt_words.size(); ++i)
      request.prompt += (i ? " " : "") + opts.prompt_words[i];
  }
  if (request.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    return fail_usage("run: the prompt is empty (give it as an argument, or '-' to read stdin)");
  for (const auto& [name, value] : {std::pair{"--timeout", opts.timeout},
                                    {"--idle-timeout", opts.idle_timeout},
                                    {"--start-timeout", opts.start_timeout}}) {
    if (value && !(*value > 0))
      return fail_usage(std::string("run: ") + name + " must be a positive number of seconds");
  }

  int exit_code = 0;
  auto config = load(opts.config, exit_code);
  if (!config) return exit_code;
  if (config->providers.empty()) {
    std::fprintf(stderr,
                 "drover: no routes configured: pass --config FILE, set DROVER_CONFIG, or "
                 "create ./drover.json (see examples/drover.json)\n");
    return kExitUsage;
  }

  request.route = opts.route;
  if (!opts.model.empty()) request.model = opts.model;
  if (!opts.cwd.empty()) request.cwd = opts.cwd;
  if (!opts.system.empty()) request.system_prompt = opts.system;
  if (!opts.resume.empty()) request.session_id = opts.resume;
  request.timeout_ms = seconds_to_ms(opts.timeout);
  request.idle_timeout_ms = seconds_to_ms(opts.idle_timeout);
  request.start_timeout_ms = seconds_to_ms(opts.start_timeout);

  const bool jsonl = opts.output == "jsonl";
  drover::Loop loop;
  int interrupted_by = 0;
  loop.watch_termination_signals([&](int signum) {
    if (interrupted_by == 0) {
      interrupted_by = signum;
      loop.stop_all(drover::StopCause::cancelled);
    } else {
      loop.kill_all();  // a second signal: no more grace
    }
  });

  drover::EventHandler on_event;
  if (jsonl) {
    on_event = [](const drover::Event& event) { write_stdout(dump(to_json(event)) + "\n"); };
  }
  drover::Result result;
  drover::start_run(loop, *config, request, on_event,
                    [&result](drover::Result&& r) { result = std::move(r); });
  loop.run();

  if (interrupted_by != 0 && !result.error)
    result.error = Error::make(ErrorCode::aborted, "interrupted");
  if (interrupted_by != 0 && result.error && result.error->code == ErrorCode::aborted)
    result.error->message = std::string("interrupted by ") +
                            (interrupted_by == SIGINT ? "SIGINT" : interrupted_by == SIGTERM
                                                                       ? "SIGTERM"
                                                                       : "SIGHUP");

  if (opts.output == "json") {
    write_stdout(dump(to_json(result)) + "\n");
  } else if (jsonl) {
    auto line = to_json(result);
    line["type"] = "result";
    write_stdout(dump(line) + "\n");
  } else {
    for (const auto& warning : result.warnings)
      std::fprintf(stderr, "drover: warning: %s\n", warning.c_str());
    if (result.ok()) {
      std::string text = result.text;
      if (text.empty() || text.back() != '\n') text += '\n';
      write_stdout(text);
    }
  }
  if (result.error && opts.output == "text")
    std::fprintf(stderr, "drover: %s: %s\n", std::string(to_string(result.error->code)).c_str(),
                 result.error->message.c_str());
  else if (result.error)
    std::fprintf(stderr, "drover: %s\n", result.error->message.c_str());

  if (interrupted_by == SIGTERM) return 143;
  if (interrupted_by != 0) return 128 + interrupted_by;
  return result.exit_code();
}

int command_routes(const std::string& config_path, bool as_json) {
  int exit_code = 0;
  auto config = load(config_path, exit_code);
  if (!config) return exit_code;
  auto routes = config->routes();
  std::optional<drover::Route> def;
  if (!routes.empty()) def = config->resolve("").first;
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : routes) {
      const auto& t = r.account_spec->transport;
      nlohmann::json env_names = nlohmann::json::array();
      for (const auto& [name, value] : t.cli.env) env_names.push_back(name);  // never values
      out.push_back({{"id", r.id},
                     {"provider", r.provider},
                     {"transport", r.transport},
                     {"kind", t.kind},
                     {"account", r.account},
                     {"model", r.model},
                     {"command", t.command},
                     {"env", env_names},
                     {"default", def && def->id == r.id}});
    }
    write_stdout(dump(out) + "\n");
    return 0;
  }
  if (routes.empty()) {
    std::fprintf(stderr, "drover: no routes configured\n");
    return 0;
  }
  for (const auto& r : routes) {
    const auto& t = r.account_spec->transport;
    write_stdout((def && def->id == r.id ? "* " : "  ") + r.id + "  (" + t.kind + ": " +
                 t.command + ")\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write to a dead harness's stdin must come back as EPIPE, not kill drover.
  std::signal(SIGPIPE, SIG_IGN);
  uv_disable_stdio_inheritance();

  auto logger = spdlog::stderr_color_mt("drover");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("drover: %l: %v");
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{"drover: run coding-agent harnesses headlessly, one result model for all"};
  app.set_version_flag("--version", std::string(DROVER_VERSION));
  app.require_subcommand(1);
  std::string log_level;
  app.add_option("--log-level", log_level, "trace, debug, info, warn (default), error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Send one prompt through a route and print the result");
  run_cmd->add_option("--route,-r", run.route, "Route id (full or a prefix); default route if omitted");
  run_cmd->add_option("--model,-m", run.model, "Model to ask for (overrides the route's)");
  run_cmd->add_option("--config,-c", run.config, "Config file (else $DROVER_CONFIG, ./drover.json, $XDG_CONFIG_HOME/drover/config.json)");
  run_cmd->add_option("--cwd", run.cwd, "Working directory for the harness");
  run_cmd->add_option("--system", run.system, "System prompt (for routes whose template has {system})");
  run_cmd->add_option("--resume", run.resume, "Resume this harness session id");
  run_cmd->add_option("--timeout", run.timeout, "Total deadline in seconds");
  run_cmd->add_option("--idle-timeout", run.idle_timeout, "Seconds without output before stopping");
  run_cmd->add_option("--start-timeout", run.start_timeout, "Seconds to the first output byte");
  run_cmd->add_option("--output,-o", run.output, "text (answer), json (result object), jsonl (events, then result)")
      ->check(CLI::IsMember({"text", "json", "jsonl"}));
  run_cmd->add_option("prompt", run.prompt_words, "The prompt, or - to read it from stdin")
      ->required();

  std::string routes_config;
  bool routes_json = false;
  auto* routes_cmd = app.add_subcommand("routes", "List configured routes (never secrets)");
  routes_cmd->add_option("--config,-c", routes_config, "Config file");
  routes_cmd->add_flag("--json", routes_json, "Print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!log_level.empty()) spdlog::set_level(spdlog::level::from_str(log_level));

  if (run_cmd->parsed()) return command_run(run);
  if (routes_cmd->parsed()) return command_routes(routes_config, routes_json);
  return kExitUsage;
}
