// drover's command line: a thin layer over the library's public API (drover/*.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include "drover/check.h"
#include "drover/cleanup.h"
#include "drover/client.h"
#include "drover/config.h"
#include "drover/models.h"
#include "drover/output.h"
#include "drover/presets.h"
#include "drover/trust.h"

// src/cli/batch.cpp: `drover batch`, `drover batch report`, `drover batch merge`.
namespace drover_cli {
struct BatchCommand;
BatchCommand* add_batch_command(CLI::App& app);
bool batch_command_parsed(const BatchCommand& command);
int run_batch_command(BatchCommand& command,
                      std::optional<drover::Config> (*load)(const std::string&, int&),
                      std::optional<int64_t> (*timeout_flag)(const std::string&, std::string&));

// src/cli/sessions.cpp: `drover sessions`, `drover sessions delete`.
struct SessionsCommand;
SessionsCommand* add_sessions_command(CLI::App& app);
bool sessions_command_parsed(const SessionsCommand& command);
int run_sessions_command(SessionsCommand& command,
                         std::optional<drover::Config> (*load)(const std::string&, int&));
}  // namespace drover_cli

namespace {

using drover::Error;
using drover::ErrorCode;

constexpr int kExitUsage = 2;

// nlohmann throws on invalid UTF-8 by default; harness output may contain any bytes.
std::string dump(const nlohmann::json& j) { return drover::dump_json_line(j); }

// stdout, flushed after each write. After a failure nothing more is written: the reader is gone
// or the disk is full.
drover::FileOutput standard_output(stdout);

bool write_stdout(const std::string& text) { return standard_output.write(text); }

// One line on stderr for a failed stdout; the exit status a shell expects (141 is what SIGPIPE
// would have given).
int fail_stdout() {
  std::fprintf(stderr, "drover: cannot write to stdout: %s\n", std::strerror(standard_output.error()));
  return standard_output.error() == EPIPE ? 128 + SIGPIPE : 1;
}

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "drover: %s\n", message.c_str());
  return kExitUsage;
}

// A timeout flag: seconds by the config's rules (drover::timeout_seconds_to_ms), or "none" for
// no limit, which RunRequest spells 0. nullopt with `problem` set when the text is neither.
std::optional<int64_t> timeout_flag_ms(const std::string& text, std::string& problem) {
  if (text == "none") return 0;
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(begin, &end);
  std::optional<int64_t> ms;
  if (!text.empty() && end == begin + text.size() && errno == 0)
    ms = drover::timeout_seconds_to_ms(seconds);
  if (!ms)
    problem = "expected a number of seconds > 0 and at most 1e9 (decimals allowed), or none for "
              "no limit; got '" + text + "'";
  return ms;
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
  for (const auto& notice : config->notices) std::fprintf(stderr, "drover: %s\n", notice.c_str());
  return std::move(config);
}

struct RunOptions {
  std::string route;
  std::string model;
  std::string config;
  std::string cwd;
  std::string system;
  std::string resume;
  std::string context;
  bool ephemeral = false, keep_session = false;
  bool approve_all = false, approve_reads = false, deny_all = false;
  std::string transcript;
  std::optional<std::string> timeout, idle_timeout, start_timeout;
  std::string output = "text";
  std::vector<std::string> files;  ///< --file, repeatable: paths, data: and https:// URLs, "-"
  std::string stdin_name;          ///< --name: what `--file -` is called
  std::vector<std::string> prompt_words;
};

// The largest maxFileBytes any route may apply: stdin is read up to it (one byte more says
// "over"), so that the route's own limit decides.
uint64_t largest_file_limit(const drover::Config& config) {
  uint64_t largest = config.staging.max_file_bytes;
  for (const auto& provider : config.providers)
    for (const auto& account : provider.accounts)
      if (const auto* input = drover::file_input_of(account.transport); input && input->max_file_bytes)
        largest = std::max(largest, *input->max_file_bytes);
  return largest;
}

// Reads all of stdin, at most `cap` bytes (one more says "over"), for `--file -`.
std::string read_stdin_capped(uint64_t cap) {
  std::string data;
  char buffer[1 << 16];
  while (data.size() <= cap && std::cin.read(buffer, sizeof buffer).gcount() > 0) {
    data.append(buffer, static_cast<size_t>(std::cin.gcount()));
    if (!std::cin) break;
  }
  if (data.size() > cap + 1) data.resize(cap + 1);
  return data;
}

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
  for (const auto& [name, value, target] :
       {std::tuple{"--timeout", &opts.timeout, &request.timeout_ms},
        {"--idle-timeout", &opts.idle_timeout, &request.idle_timeout_ms},
        {"--start-timeout", &opts.start_timeout, &request.start_timeout_ms}}) {
    if (!*value) continue;
    std::string problem;
    *target = timeout_flag_ms(**value, problem);
    if (!*target) return fail_usage(std::string("run: ") + name + ": " + problem);
  }

  const bool prompt_from_stdin = opts.prompt_words.size() == 1 && opts.prompt_words[0] == "-";
  const auto stdin_files = std::count(opts.files.begin(), opts.files.end(), "-");
  if (stdin_files > 1) return fail_usage("run: --file - can be given once (stdin is read once)");
  if (stdin_files == 1 && prompt_from_stdin)
    return fail_usage("run: the prompt and --file - cannot both come from stdin");
  if (!opts.stdin_name.empty() && stdin_files == 0)
    return fail_usage("run: --name names the attachment read from stdin; give --file - with it");
  if (stdin_files == 1 && opts.stdin_name.empty())
    return fail_usage("run: --file - needs --name NAME (the attachment's name, e.g. scan.pdf)");

  int exit_code = 0;
  auto config = load(opts.config, exit_code);
  if (!config) return exit_code;
  drover::remove_stale_staging_dirs(*config);
  for (const auto& file : opts.files) {
    if (file == "-")
      request.attachments.push_back(drover::Attachment::bytes(
          opts.stdin_name, read_stdin_capped(largest_file_limit(*config))));
    else
      request.attachments.emplace_back(file);
  }
  request.route = opts.route;
  const bool has_own_routes = std::any_of(config->providers.begin(), config->providers.end(),
                                          [](const drover::ProviderSpec& p) { return p.preset.empty(); });
  if (!has_own_routes && request.route.empty() && !config->default_route) {
    if (auto dependency = config->untrusted_dependency("")) {
      std::fprintf(stderr, "drover: %s\n", dependency->message.c_str());
      return kExitUsage;
    }
    const bool chosen_file =
        !opts.config.empty() || drover::ConfigLookup::from_environment().env_path;
    if (chosen_file && !config->sources.empty()) {
      std::fprintf(stderr,
                   "drover: %s defines no routes (add a provider to it, or pick a preset with "
                   "--route; drover presets lists them)\n",
                   config->sources.front().c_str());
      return kExitUsage;
    }
    if (auto chosen = drover::zero_config_route(*config)) {
      request.route = chosen->route;
      std::fprintf(stderr, "drover: no configuration; using %s (%s found on PATH)\n",
                   chosen->route.c_str(), chosen->command.c_str());
    } else {
      std::fprintf(stderr,
                   "drover: no configuration and no harness on PATH (looked for claude, codex, pi, "
                   "opencode): pass --config FILE, set DROVER_CONFIG, create ./drover.json (see "
                   "examples/drover.json), or pick a preset with --route\n");
      return kExitUsage;
    }
  }
  if (!opts.model.empty()) request.model = opts.model;
  if (!opts.cwd.empty()) request.cwd = opts.cwd;
  if (!opts.system.empty()) request.system_prompt = opts.system;
  if (!opts.resume.empty()) request.session_id = opts.resume;
  if (!opts.context.empty()) request.context_mode = drover::context_mode_from_string(opts.context);
  if (opts.ephemeral) request.ephemeral = true;
  if (opts.keep_session) request.ephemeral = false;
  if (opts.approve_all) request.permissions = drover::PermissionPolicy::approve_all;
  if (opts.approve_reads) request.permissions = drover::PermissionPolicy::approve_reads;
  if (opts.deny_all) request.permissions = drover::PermissionPolicy::deny_all;
  if (!opts.transcript.empty()) request.transcript_path = opts.transcript;
  request.stream = opts.output == "jsonl";

  const bool jsonl = opts.output == "jsonl";
  drover::Client client(std::move(*config));
  int interrupted_by = 0;
  client.watch_termination_signals([&](int signum) {
    if (interrupted_by == 0) {
      interrupted_by = signum;
      client.cancel_all();
    } else {
      client.kill_all();  // a second signal: no more grace
    }
  });

  // The reader of a stdout pipe went away: nothing more can be delivered.
  client.watch_stdout_reader([&client] {
    standard_output.fail(EPIPE);
    client.cancel_all();
  });

  drover::OutputWriter writer(drover::output_format_from_string(opts.output).value_or(drover::OutputFormat::text),
                              standard_output.sink());
  drover::EventHandler on_event;
  if (jsonl) {
    on_event = [&client, &writer](const drover::Event& event) {
      // The reader went away (EPIPE) or the disk is full: stop the run as Ctrl-C would.
      if (standard_output.error() == 0 && !writer.on_event(event))
        client.cancel_all();
    };
  }
  drover::Result result = client.stream(request, on_event);

  if (interrupted_by != 0 && !result.error)
    result.error = Error::make(ErrorCode::aborted, "interrupted");
  if (interrupted_by != 0 && result.error && result.error->code == ErrorCode::aborted)
    result.error->message = "interrupted by " + drover::signal_name(interrupted_by);
  if (standard_output.error() != 0) return fail_stdout();

  if (writer.format() == drover::OutputFormat::text) {
    for (const auto& warning : result.warnings)
      std::fprintf(stderr, "drover: warning: %s\n", warning.c_str());
  }
  writer.on_result(result);
  if (standard_output.error() != 0) return fail_stdout();
  if (result.error && opts.output == "text")
    std::fprintf(stderr, "drover: %s: %s\n", std::string(to_string(result.error->code)).c_str(),
                 result.error->message.c_str());
  else if (result.error)
    std::fprintf(stderr, "drover: %s\n", result.error->message.c_str());

  if (interrupted_by != 0) return 128 + interrupted_by;
  return result.exit_code();
}

// `drover mock-gateway ARGS` is the gateway program next to this one (build/drover-gateway, or
// <prefix>/bin/drover-gateway): exec'ing it keeps cpp-httplib out of drover's own start-up.
int exec_mock_gateway(int argc, char** argv) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string gateway = (self.parent_path() / "drover-gateway").string();
  std::vector<char*> args;
  std::string name = "drover-gateway";
  args.push_back(name.data());
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  // main() marked stdin/stdout/stderr close-on-exec (uv_disable_stdio_inheritance); the gateway
  // must keep them.
  for (int fd = 0; fd <= 2; ++fd) ::fcntl(fd, F_SETFD, 0);
  ::execv(gateway.c_str(), args.data());
  std::fprintf(stderr, "drover: mock-gateway: cannot run %s: %s\n", gateway.c_str(),
               std::strerror(errno));
  return 1;
}

struct ModelsOptions {
  std::string route;
  std::string config;
  bool json = false;
  bool refresh = false;
};

int command_models(const ModelsOptions& opts) {
  int exit_code = 0;
  auto config = load(opts.config, exit_code);
  if (!config) return exit_code;
  // Not a structured binding: lambdas below capture it (clang 14 cannot capture bindings).
  auto resolved = config->resolve(opts.route);
  const std::optional<drover::Route>& route = resolved.first;
  if (!route) {
    std::fprintf(stderr, "drover: %s\n",
                 resolved.second ? resolved.second->message.c_str() : "no route");
    return kExitUsage;
  }
  if (!route->resolution_warning.empty())
    std::fprintf(stderr, "drover: warning: %s\n", route->resolution_warning.c_str());
  drover::DiscoveryOptions discovery;
  discovery.refresh = opts.refresh;
  discovery.cache_dir = drover::default_models_cache_dir();
  drover::ModelsReport listing = drover::discover_route_models(*config, *route, discovery);
  const nlohmann::json report = to_json(listing);
  if (listing.error) exit_code = drover::exit_code_for(listing.error->code);
  if (opts.json) {
    write_stdout(dump(report) + "\n");
  } else {
    for (const auto& m : report["models"]) {
      std::string line = m["id"].get<std::string>();
      if (report.contains("current") && report["current"] == m["id"]) line += "  (current)";
      if (m.contains("contextWindow"))
        line += "  (context " + std::to_string(m["contextWindow"].get<int64_t>()) + ", " +
                m["contextWindowSource"].get<std::string>() + ")";
      write_stdout(line + "\n");
    }
    for (const auto& w : report["warnings"])
      std::fprintf(stderr, "drover: warning: %s\n", w.get<std::string>().c_str());
    if (!report["error"].is_null())
      std::fprintf(stderr, "drover: %s: %s\n", report["error"]["code"].get<std::string>().c_str(),
                   report["error"]["message"].get<std::string>().c_str());
  }
  return exit_code;
}

int command_presets(const std::string& show, bool as_json) {
  std::vector<std::string> errors;
  const auto lookup = drover::ConfigLookup::from_environment();
  auto presets = drover::all_presets(drover::user_presets_dir(lookup), errors);
  for (const auto& e : errors) std::fprintf(stderr, "drover: warning: %s\n", e.c_str());
  if (!show.empty()) {
    for (const auto& p : presets) {
      if (p.name != show) continue;
      write_stdout(p.text.back() == '\n' ? p.text : p.text + "\n");
      return 0;
    }
    std::fprintf(stderr, "drover: presets show: unknown preset '%s' (drover presets lists them)\n",
                 show.c_str());
    return kExitUsage;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : presets)
    out.push_back({{"name", p.name},
                   {"description", drover::preset_description(p)},
                   {"source", p.builtin ? "built-in" : p.origin}});
  if (as_json) {
    write_stdout(dump(out) + "\n");
  } else {
    for (const auto& p : out)
      write_stdout(p["name"].get<std::string>() + "  " + p["description"].get<std::string>() +
                   (p["source"] == "built-in" ? "" : "  [" + p["source"].get<std::string>() + "]") +
                   "\n");
  }
  return 0;
}

// `drover check`: every preset (and configured harness route), whether its command resolves on
// PATH, and its version (drover::check_routes).
int command_check(const std::string& config_path, bool as_json) {
  int exit_code = 0;
  auto config = load(config_path, exit_code);
  if (!config) return exit_code;
  const drover::CheckReport report = drover::check_routes(*config);
  if (as_json) {
    write_stdout(dump(to_json(report)) + "\n");
    return 0;
  }
  for (const auto& row : report.rows)
    write_stdout((row.ok() ? "ok       " : "missing  ") + row.route + "  " +
                 (row.ok() ? row.path + "  " + row.version : row.problem) + "\n");
  return 0;
}

// The variables an API account's keys come from, comma-separated (names, never keys).
std::string api_key_envs(const drover::ApiSpec& api) {
  std::string out;
  for (const auto& c : api.credentials)
    if (c.api_key_env) out += (out.empty() ? "" : ",") + *c.api_key_env;
  return out;
}

int command_routes(const std::string& config_path, bool as_json, bool all) {
  int exit_code = 0;
  auto config = load(config_path, exit_code);
  if (!config) return exit_code;
  auto routes = config->routes();
  if (!all) {
    routes.erase(std::remove_if(routes.begin(), routes.end(),
                                [](const drover::Route& r) { return !r.provider_spec->preset.empty(); }),
                 routes.end());
  }
  std::optional<drover::Route> def;
  if (!routes.empty()) def = config->resolve("").first;
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : routes) {
      const auto& t = r.account_spec->transport;
      nlohmann::json env_names = nlohmann::json::array();
      if (const auto* cli = t.if_cli())
        for (const auto& [name, value] : cli->env) env_names.push_back(name);  // never values
      const drover::ApiSpec no_api;
      const drover::ApiSpec& api = t.if_api() ? *t.if_api() : no_api;
      nlohmann::json attachments = nlohmann::json::array();
      for (auto category : drover::accepted_attachment_categories(t))
        attachments.push_back(drover::to_string(category));
      nlohmann::json fanout = nlohmann::json::object();  // the account's, else the provider's
      if (r.fanout.max_concurrency) fanout["maxConcurrency"] = *r.fanout.max_concurrency;
      if (r.fanout.requests_per_second) fanout["requestsPerSecond"] = *r.fanout.requests_per_second;
      if (r.fanout.max_calls) fanout["maxCalls"] = *r.fanout.max_calls;
      out.push_back({{"id", r.id},
                     {"provider", r.provider},
                     {"transport", r.transport},
                     {"kind", drover::to_string(t.kind)},
                     {"account", r.account},
                     {"model", r.model},
                     {"command", t.command},
                     {"env", env_names},
                     {"apiFormat", api.format},
                     {"baseUrl", drover::redact_url(api.base_url)},
                     {"apiKeyEnv", api_key_envs(api)},
                     {"attachments", attachments},
                     {"fanout", fanout},
                     {"preset", r.provider_spec->preset},
                     {"source", r.provider_spec->source},
                     {"default", def && def->id == r.id}});
    }
    write_stdout(dump(out) + "\n");
    return 0;
  }
  if (routes.empty()) {
    std::fprintf(stderr, "drover: no routes configured (built-in presets: drover presets, or "
                         "drover routes --all)\n");
    return 0;
  }
  for (const auto& r : routes) {
    const auto& t = r.account_spec->transport;
    const std::string target =
        t.kind == drover::TransportKind::api ? t.api().format + " " + (t.api().base_url.empty() ? "default endpoint"
                                                                      : drover::redact_url(t.api().base_url))
                        : t.command;
    write_stdout((def && def->id == r.id ? "* " : "  ") + r.id + "  (" + std::string(drover::to_string(t.kind)) + ": " + target +
                 ")  [" + r.provider_spec->source + "]\n");
  }
  return 0;
}

// `drover trust [FILE]`, `--remove [FILE]`, `--list`: which workspace files may define commands.
int command_trust(const std::string& file_arg, bool remove, bool list) {
  const auto lookup = drover::ConfigLookup::from_environment();
  const std::string store = drover::trust_store_path(lookup);
  if (store.empty())
    return fail_usage("trust: neither XDG_CONFIG_HOME nor HOME is set: nowhere to record trust");
  if (list) {
    std::string problem;
    auto trusted = drover::read_trust_store(store, problem);
    if (!trusted) return fail_usage("trust: " + problem);
    for (const auto& [path, digest] : *trusted)
      write_stdout(drover::trusted_file_state(path, digest) + "  " + path + "\n");
    return 0;
  }
  std::string file = file_arg;
  if (file.empty()) {
    file = drover::workspace_config_path(lookup);
    std::error_code ec;
    if (!remove && !std::filesystem::exists(file, ec))
      return fail_usage("trust: no drover.json in the current directory (give the file: drover "
                        "trust FILE)");
  }
  std::string key;
  if (remove) {
    bool removed = false;
    if (auto problem = drover::untrust_file(store, file, key, removed))
      return fail_usage("trust: " + *problem);
    write_stdout((removed ? "no longer trusted: " : "was not trusted: ") + key + "\n");
    return 0;
  }
  std::string digest;
  if (auto problem = drover::trust_file(store, file, key, digest))
    return fail_usage("trust: " + *problem);
  write_stdout("trusted " + key + " (sha256 " + digest +
               "); any change makes it untrusted again\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Started with stdin, stdout or stderr closed (cron, daemons): put /dev/null there, or the
  // next descriptor opened (a pipe to a harness) would take the number and be mistaken for it.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0 && null_fd != fd) {
      ::dup2(null_fd, fd);
      ::close(null_fd);
    }
  }
  // A write to a dead harness's stdin, or to a closed stdout, must come back as EPIPE, not
  // kill drover.
  std::signal(SIGPIPE, SIG_IGN);
  uv_disable_stdio_inheritance();
  // Temporary directories of drover processes that were killed before they could clean up.
  drover::remove_stale_temp_dirs();

  auto logger = spdlog::stderr_color_mt("drover");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("drover: %l: %v");
  spdlog::set_level(spdlog::level::warn);

  if (argc > 1 && std::string_view(argv[1]) == "mock-gateway") return exec_mock_gateway(argc, argv);

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
  run_cmd->add_option("--context", run.context,
                      "workspace (the harness loads its project context) or clean (a fresh empty "
                      "directory, ambient context skipped); overrides the route's contextMode")
      ->check(CLI::IsMember({"workspace", "clean"}));
  auto* ephemeral_flag = run_cmd->add_flag(
      "--ephemeral", run.ephemeral, "Leave no session files (the result has no session id)");
  run_cmd->add_flag("--keep-session", run.keep_session,
                    "Keep the session resumable (also in clean context)")
      ->excludes(ephemeral_flag);
  auto* approve_all = run_cmd->add_flag("--approve-all", run.approve_all,
                                        "ACP: allow every permission request of the agent");
  auto* approve_reads = run_cmd->add_flag(
      "--approve-reads", run.approve_reads, "ACP: allow reads and searches, deny the rest (default)");
  auto* deny_all = run_cmd->add_flag("--deny-all", run.deny_all, "ACP: deny every permission request");
  approve_all->excludes(approve_reads)->excludes(deny_all);
  approve_reads->excludes(deny_all);
  run_cmd->add_option("--transcript", run.transcript,
                      "ACP: write every JSON-RPC message both ways to this file (NDJSON, secrets "
                      "redacted)");
  run_cmd->add_option("--timeout", run.timeout,
                      "Total deadline in seconds, or none (default: the route's; 3600 for "
                      "harness routes that set none)");
  run_cmd->add_option("--idle-timeout", run.idle_timeout,
                      "Seconds without output before stopping, or none");
  run_cmd->add_option("--start-timeout", run.start_timeout,
                      "Seconds to the first output byte, or none");
  run_cmd->add_option("--output,-o", run.output, "text (answer), json (result object), jsonl (events, then result)")
      ->check(CLI::IsMember({"text", "json", "jsonl"}));
  run_cmd->add_option("--file,-f", run.files,
                      "Attach a file (repeatable): a path, a data: URL, an https:// URL (passed "
                      "as a reference where the route takes one), or - for stdin (with --name)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run_cmd->add_option("--name", run.stdin_name, "The name of the attachment read by --file -");
  run_cmd->add_option("prompt", run.prompt_words, "The prompt, or - to read it from stdin")
      ->required();

  std::string routes_config;
  bool routes_json = false;
  bool routes_all = false;
  auto* routes_cmd = app.add_subcommand("routes", "List configured routes (never secrets)");
  routes_cmd->add_option("--config,-c", routes_config, "Config file");
  routes_cmd->add_flag("--json", routes_json, "Print JSON");
  routes_cmd->add_flag("--all", routes_all, "Include the routes of every preset");

  std::string check_config;
  bool check_json = false;
  auto* check_cmd = app.add_subcommand(
      "check", "Show which harness commands resolve on PATH, with their versions");
  check_cmd->add_option("--config,-c", check_config, "Config file");
  check_cmd->add_flag("--json", check_json, "Print JSON");

  std::string presets_show;
  bool presets_json = false;
  auto* presets_cmd = app.add_subcommand("presets", "List the presets (built-in and yours)");
  presets_cmd->add_flag("--json", presets_json, "Print JSON");
  auto* presets_show_cmd = presets_cmd->add_subcommand("show", "Print one preset's definition");
  presets_show_cmd->add_option("name", presets_show, "Preset name")->required();

  ModelsOptions models;
  auto* models_cmd = app.add_subcommand("models", "List the models a route offers");
  models_cmd->add_option("--route,-r", models.route, "Route id (full or a prefix); default route if omitted");
  models_cmd->add_option("--config,-c", models.config, "Config file");
  models_cmd->add_flag("--json", models.json, "Print JSON");
  models_cmd->add_flag("--refresh", models.refresh, "Ask again instead of using the cached list");

  std::string trust_file;
  bool trust_remove = false;
  bool trust_list = false;
  auto* trust_cmd = app.add_subcommand(
      "trust", "Let a workspace drover.json run the commands it defines (after reviewing it)");
  trust_cmd->add_option("file", trust_file, "The file (default: ./drover.json)");
  auto* trust_remove_flag =
      trust_cmd->add_flag("--remove", trust_remove, "Forget the file (it is ignored again)");
  trust_cmd->add_flag("--list", trust_list, "List the trusted files and whether they changed")
      ->excludes(trust_remove_flag);

  drover_cli::BatchCommand* batch_cmd = drover_cli::add_batch_command(app);
  drover_cli::SessionsCommand* sessions_cmd = drover_cli::add_sessions_command(app);

  // Listed for --help; `drover mock-gateway …` is handled before parsing (see exec_mock_gateway).
  app.add_subcommand("mock-gateway",
                     "Serve the OpenAI, Anthropic and Gemini APIs on loopback for tests and demos "
                     "(drover mock-gateway --help)");

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
  if (routes_cmd->parsed()) return command_routes(routes_config, routes_json, routes_all);
  if (presets_cmd->parsed()) return command_presets(presets_show, presets_json);
  if (check_cmd->parsed()) return command_check(check_config, check_json);
  if (models_cmd->parsed()) return command_models(models);
  if (trust_cmd->parsed()) return command_trust(trust_file, trust_remove, trust_list);
  if (drover_cli::sessions_command_parsed(*sessions_cmd))
    return drover_cli::run_sessions_command(*sessions_cmd, load);
  if (drover_cli::batch_command_parsed(*batch_cmd))
    return drover_cli::run_batch_command(*batch_cmd, load, timeout_flag_ms);
  return kExitUsage;
}
