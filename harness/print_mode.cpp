#include "harness/print_mode.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "harness/child_common.h"
#include "parsers/noise_filter.h"
#include "parsers/output_parser.h"
#include "parsers/utf8.h"
#include "src/config/args_template.h"
#include "src/config/env_value.h"
#include "src/core/errors.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"
#include "src/config/redact.h"
#include "src/transport/attachments.h"
#include "src/transport/run_control.h"
#include "staging/attachments.h"
#include "staging/session_lock.h"
#include "staging/temp_dir.h"

namespace drover {
namespace {


// One print-mode run, alive until its outcome is posted: held by the process callbacks or the
// session-lock wait, whichever stage is live.
struct PrintModeRun {
  Loop* loop = nullptr;
  std::shared_ptr<StageControl> control = std::make_shared<StageControl>();
  Route route;
  RunRequest request;
  EventHandler on_event;
  ResultHandler on_done;
  std::unique_ptr<parsers::OutputParser> parser;
  Process* process = nullptr;  // while it runs: told which output shows the harness at work
  std::optional<TempDir> temp_dir;
  // The run's attachments, staged before anything is spawned; removed (unless kept) before the
  // Result is handed on. In clean mode they are inside temp_dir.
  std::optional<StagedAttachments> staged;
  std::string delivery;  // "args" or "prompt": how the staged files reached the harness
  std::optional<std::string> output_file;
  // {system_file}: the system prompt in a file of the run's temp_dir (removed with it).
  std::optional<std::string> system_file;
  bool system_in_env = false;          // an env value took {system_file}
  std::vector<std::string> warnings;   // found before the spawn, for the result
  std::string command_name;
  WatchdogSpec watchdog;       // the route's, with the request's overrides: what the process ran with
  std::vector<Event> pending;  // scratch buffer for parser output
  std::optional<SessionLock> session_lock;    // held while resuming a session: one run at a time
  std::optional<parsers::NoiseFilter> noise;  // set when the route suppresses harness noise
  std::string filtered_text;                  // the answer as the filter let it through
  Secrets secrets;                            // the route's: kept out of errors and evidence
  bool ephemeral = false;  // the harness was told to keep no session: no id to resume with
  PolicyGate policy;       // the permission policy and how the route enforces it

  void emit(std::vector<Event>& events) {
    for (auto& event : events) {
      if (noise && event.kind == Event::Kind::delta) {
        // Deltas go through the noise filter; what it holds back comes out later (or never).
        event.text = noise->feed(event.text);
        parsers::append_keeping_tail(filtered_text, event.text, max_text_bytes());
        if (event.text.empty()) continue;
      }
      if (!on_event) continue;
      secrets.redact(event);
      guarded("the event handler", [&] { on_event(event); });
    }
    events.clear();
  }

  /// maxOutputBytes: the filtered answer keeps its tail, as the parser's does.
  std::size_t max_text_bytes() const {
    return static_cast<std::size_t>(
        std::max<uint64_t>(route.account_spec->transport.cli().max_output_bytes, 1));
  }
  void complete(ProcessOutcome&& outcome);
  /// Ends the run before anything was spawned; temporary files go first.
  void fail(Error error) {
    Result result;
    release_attachments(result, /*delivered=*/false);
    temp_dir.reset();
    result.error = std::move(error);
    result.policy = policy.report;
    deliver(std::move(result));
  }
  /// Reports the attachments (when the harness got them) and removes their copies, unless
  /// kept: then the result says where they are.
  void release_attachments(Result& result, bool delivered) {
    if (!staged) return;
    if (delivered) result.attachments = staged->reports({}, delivery);
    if (staged->kept_at) result.warnings.push_back("attachments kept in " + *staged->kept_at);
    staged.reset();
  }
  /// Shapes the Result by the stop asked for, then hands it on from the loop (never from inside
  /// start_print_mode or a RunControl call).
  void deliver(Result result) {
    control->shape(result);
    control->complete();
    secrets.redact(result);
    auto shared = std::make_shared<Result>(std::move(result));
    loop->post([done = std::move(on_done), shared] { done(std::move(*shared)); });
  }
  parsers::NoiseMarkers noise_markers() const { return markers_for(route.account_spec->transport.cli().noise); }
  /// The parser spec this run uses (the streaming variant's when streaming).
  const ParserSpec& parser_spec() const {
    const CliSpec& cli = route.account_spec->transport.cli();
    return request.stream && cli.streaming ? cli.streaming->parser : cli.parser;
  }
  ParserSpec::Kind parser_kind() const { return parser_spec().kind; }
  std::optional<Error> classify(const ProcessOutcome& outcome,
                                const parsers::ParsedOutput& parsed) const;
  std::string fallback_excerpt(const ProcessOutcome& outcome) const;
};

// What a failed run's message quotes when the parser selected no error: the harness's own
// structured error on stdout (its last JSON object saying error), else the last lines of stderr
// without the harness's noise (start-up warnings and banners: the route's noise markers), else
// the last lines of stdout.
std::string PrintModeRun::fallback_excerpt(const ProcessOutcome& outcome) const {
  if (parser_kind() != ParserSpec::Kind::text)
    if (auto stated = parsers::structured_error(outcome.stdout_tail)) return *stated;
  const NoiseSpec& noise_spec = route.account_spec->transport.cli().noise;
  if (noise_spec.suppress) {
    std::string stderr_text = parsers::filter_noise(outcome.stderr_tail, noise_markers());
    return failure_excerpt(stderr_text, outcome.stdout_tail);
  }
  return failure_excerpt(outcome.stderr_tail, outcome.stdout_tail);
}

std::optional<Error> PrintModeRun::classify(const ProcessOutcome& outcome,
                                            const parsers::ParsedOutput& parsed) const {
  const ProcessInfo& p = outcome.info;
  if (auto stopped = stop_cause_error(p.stopped_by, command_name, watchdog,
                                      "printed nothing within the start timeout",
                                      "printed nothing for the idle timeout"))
    return stopped;
  const bool process_failed = p.term_signal || (p.exit_code && *p.exit_code != 0);
  if (parsed.error && (parsed.structured || !process_failed)) {
    // The harness's own error payload. When stdout was not the expected JSON at all and the
    // process failed, its stderr (below) says more than "stdout is not JSON".
    std::string message = parsers::valid_utf8(*parsed.error);
    return Error::make(classify_failure_message(message), command_name + ": " + message);
  }
  if (p.term_signal) {
    std::string excerpt = fallback_excerpt(outcome);
    return Error::make(ErrorCode::harness_error,
                       command_name + " was killed by " + signal_name(*p.term_signal) +
                           (excerpt.empty() ? "" : ": " + excerpt));
  }
  if (p.exit_code && *p.exit_code != 0) {
    std::string excerpt = fallback_excerpt(outcome);
    ErrorCode code = classify_failure_message(excerpt);
    return Error::make(code, command_name + " exited with code " + std::to_string(*p.exit_code) +
                                 (excerpt.empty() ? " and printed nothing" : ": " + excerpt));
  }
  return std::nullopt;
}

void PrintModeRun::complete(ProcessOutcome&& outcome) {
  Result result;
  parsers::ParsedOutput parsed = parser->finish(pending);
  emit(pending);

  if (output_file) {
    // The harness writes its final answer to the file; stdout only carries progress.
    std::ifstream in(*output_file, std::ios::binary | std::ios::ate);
    if (in) {
      // Like the parsers, only the last maxOutputBytes of an oversized answer are kept.
      const std::streamoff size = in.tellg();
      const auto cap = static_cast<std::streamoff>(max_text_bytes());
      in.seekg(size > cap ? size - cap : 0);
      std::string text(static_cast<std::size_t>(std::min(size, cap)), '\0');
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
      text.resize(static_cast<std::size_t>(in.gcount()));
      if (size > cap) {
        while (!text.empty() && (static_cast<unsigned char>(text[0]) & 0xC0) == 0x80) text.erase(0, 1);
        result.warnings.push_back("the answer file exceeded " + std::to_string(cap) +
                                  " bytes (maxOutputBytes); only its last " +
                                  std::to_string(text.size()) + " bytes were kept");
      }
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      parsed.text = std::move(text);
    } else if (outcome.info.exit_code == 0 && !parsed.error) {
      parsed.error = "the harness exited without writing its answer to {output_file}";
    }
  }

  bool noise_only = false;
  if (noise) {
    if (output_file) {
      // The answer came from the file, not from the deltas: filter it whole.
      parsed.text = parsers::filter_noise(parsed.text, noise_markers(), &noise_only);
    } else {
      std::vector<Event> tail(1);
      tail[0].kind = Event::Kind::delta;
      tail[0].text = noise->finish();
      parsers::append_keeping_tail(filtered_text, tail[0].text, max_text_bytes());
      parsers::keep_utf8_tail(filtered_text, max_text_bytes());
      if (!tail[0].text.empty() && on_event) on_event(tail[0]);
      noise_only = noise->only_noise();
      parsed.text = std::move(filtered_text);
      if (noise->removed_anything())
        result.warnings.push_back("removed " + std::to_string(noise->removed_count()) +
                                  " line(s) of harness noise");
    }
  }
  if (policy.warning) result.warnings.push_back(*policy.warning);
  for (auto& w : warnings) result.warnings.push_back(std::move(w));
  result.policy = policy.report;
  for (auto& w : outcome.warnings) result.warnings.push_back(std::move(w));
  for (auto& w : parsed.warnings) result.warnings.push_back(std::move(w));
  if (output_file) {
    // The file did not go through a parser; JSON results cannot carry invalid UTF-8.
    std::string valid;
    if (size_t replaced = parsers::append_valid_utf8(valid, parsed.text); replaced > 0) {
      parsed.text = std::move(valid);
      result.warnings.push_back("the answer file contained invalid UTF-8; replaced with U+FFFD");
    }
  }
  result.text = std::move(parsed.text);
  result.usage = std::move(parsed.usage);
  result.session_id = parsed.session_id ? parsed.session_id : request.session_id;
  if (ephemeral) result.session_id.reset();  // nothing was kept that it could resume
  result.stop_reason = std::move(parsed.stop_reason);
  if (parsed.model) result.model = *parsed.model;
  // A callback of the process that threw decides the run, whatever the exit status says.
  result.error = outcome.error ? outcome.error : classify(outcome, parsed);
  if (!result.error && noise_only &&
      route.account_spec->transport.cli().noise.fail_on_noise_only) {
    result.error = Error::make(ErrorCode::temporary_unavailable,
                               command_name + " answered with harness noise only (" +
                                   std::to_string(noise ? noise->removed_count() : 0) +
                                   " line(s): greetings, banners or the like)");
  }
  if (!result.error)
    result.error = empty_answer_error(result.text, command_name + " exited successfully but gave no answer");
  result.process = std::move(outcome.info);
  // The captured tails served classify(); up to maxOutputBytes each, they go before the result
  // is handed on (and serialized).
  std::string().swap(outcome.stdout_tail);
  std::string().swap(outcome.stderr_tail);
  release_attachments(result, /*delivered=*/true);
  temp_dir.reset();  // remove {output_file} before anyone sees the result
  session_lock.reset();
  deliver(std::move(result));
}


// Writes `content` to a new file `path`, readable by this user only.
std::optional<Error> write_private_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  auto failed = [&path](int err) {
    return Error::make(ErrorCode::harness_error,
                       "cannot write the system prompt file " + path + ": " + std::strerror(err));
  };
  if (fd < 0) return failed(errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return failed(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return failed(errno);
  return std::nullopt;
}

// Whether any variable of the route's environment for this run may take {system_file}.
bool env_uses_system_file(const CliSpec& cli, ContextMode context) {
  auto uses = [](const std::map<std::string, std::string>& env) {
    return std::any_of(env.begin(), env.end(),
                       [](const auto& entry) { return env_value_uses_system_file(entry.second); });
  };
  return uses(cli.env) || (context == ContextMode::clean && uses(cli.clean_env)) ||
         std::any_of(cli.env_when.begin(), cli.env_when.end(),
                     [&](const ConditionalEnv& entry) { return uses(entry.env); });
}

}  // namespace

namespace {

void spawn_print_mode(Loop& loop, std::shared_ptr<PrintModeRun> run, SpawnOptions spawn) {
  PrintModeRun* raw = run.get();
  ProcessCallbacks callbacks;
  callbacks.on_stdout = [raw](std::string_view chunk) {
    raw->parser->feed(chunk, raw->pending);
    // Only what the parser counts as the harness at work re-arms the idle watchdog (not its
    // progress notices, unless the route says so; SpawnOptions::stdout_activity_by_owner).
    if (raw->parser->take_activity() && raw->process) raw->process->note_activity();
    raw->emit(raw->pending);
  };
  callbacks.on_complete = [run](ProcessOutcome&& outcome) {
    run->process = nullptr;
    run->control->set_stage(nullptr);  // the process is gone
    run->complete(std::move(outcome));
  };
  Error spawn_error;
  Process* process = Process::start(loop, std::move(spawn), std::move(callbacks), spawn_error);
  if (process == nullptr) return raw->fail(std::move(spawn_error));
  raw->process = process;
  // A cancel or a pause stops the process group (SIGTERM, grace, SIGKILL); complete() reads the
  // answer so far.
  raw->control->set_stage([process](StageControl::Stop) { process->stop(StopCause::cancelled); });
}

}  // namespace

namespace {

// What the process is started with once the attachments are staged.
struct Launch {
  SpawnOptions spawn;  // everything but argv (and stdin, which may mention the attachments)
  std::vector<std::vector<std::string>> args_template;  // the groups this run uses
  TemplateValues values;  // everything but the attachments
};

void launch_print_mode(const std::shared_ptr<PrintModeRun>& run, Launch launch);

void begin_print_mode(Loop& loop, const std::shared_ptr<PrintModeRun>& run, const Route& route,
                      const RunRequest& request, EventHandler on_event, ResultHandler on_done) {
  const TransportSpec& transport = route.account_spec->transport;
  const CliSpec& cli = transport.cli();
  const bool streaming = request.stream && cli.streaming.has_value();

  run->loop = &loop;
  run->route = route;
  run->request = request;
  run->on_event = std::move(on_event);
  run->on_done = std::move(on_done);
  run->command_name = std::filesystem::path(transport.command).filename().string();
  run->secrets = route_secrets(route);

  // A route that cannot enforce the policy is refused before anything is made or spawned.
  run->policy = gate_permission_policy(route, request);
  if (run->policy.refusal) return run->fail(std::move(*run->policy.refusal));
  RunFacts facts;
  facts.policy = run->policy.policy;
  facts.context = request.context_mode.value_or(cli.context_mode);
  auto [directory, directory_error] =
      prepare_child_directory(request.cwd, cli.cwd, facts.context);
  if (!directory) return run->fail(std::move(*directory_error));
  std::string cwd = directory->workspace;
  run->temp_dir = std::move(directory->temp_dir);
  facts.resuming = request.session_id.has_value();
  facts.attachments = !request.attachments.empty();
  // Ephemeral by default only in clean mode (extraction leaves nothing behind); a resumed turn
  // continues a session that exists, so it is never ephemeral.
  facts.ephemeral = !facts.resuming && request.ephemeral.value_or(cli.ephemeral.value_or(
                                           facts.context == ContextMode::clean));
  run->ephemeral = facts.ephemeral;

  // {system_file}: the system prompt goes into a private file (0600) of the run's private
  // directory, removed with it on every path; written only when the route can take it.
  if (request.system_prompt &&
      (template_uses(streaming ? cli.streaming->args_template : cli.args_template,
                     "system_file") ||
       env_uses_system_file(cli, facts.context))) {
    Error error;
    if (!run->temp_dir) run->temp_dir = TempDir::create("drover-", error);
    if (!run->temp_dir) return run->fail(std::move(error));
    const std::string path = run->temp_dir->path() + "/system-prompt.md";
    if (auto failed = write_private_file(path, *request.system_prompt))
      return run->fail(std::move(*failed));
    run->system_file = path;
  }

  SpawnOptions spawn;
  std::map<std::string, std::string> env;
  add_expanded_env(env, cli.env, run->system_file, &run->system_in_env);
  if (facts.context == ContextMode::clean)
    add_expanded_env(env, cli.clean_env, run->system_file, &run->system_in_env);
  spawn.env = build_child_environment(env, cli.clear_env);
  // The command is found from the workspace (a relative command path is the route's).
  spawn.file = resolve_command(transport.command, spawn.env, cwd);
  facts.env_has = env_lookup(spawn.env);
  if (!cli.env_when.empty()) {
    apply_env_when(env, cli.env_when, facts, run->system_file, &run->system_in_env);
    spawn.env = build_child_environment(env, cli.clear_env);
  }
  const auto args_template =
      streaming ? active_groups(cli.streaming->args_template, cli.streaming->args_when, facts)
                : active_groups(cli.args_template, cli.args_when, facts);

  if (request.session_id && !template_uses(args_template, "session_id")) {
    run->fail(Error::make(
        ErrorCode::unsupported_capability,
        "route " + route.id + " cannot resume a session: its argsTemplate has no {session_id}"));
    return;
  }
  // A session id is an argument of its own (claude's --resume even takes an optional value):
  // one starting with '-' would be read as one of the harness's options.
  if (request.session_id && !request.session_id->empty() && request.session_id->front() == '-') {
    run->fail(Error::make(ErrorCode::validation_error,
                          "the session id to resume must not start with '-' (" +
                              transport.command + " would read it as an option)"));
    return;
  }
  // So is the model (`--model {model}`): a model named "--…" from a config or --model would be
  // an option of the harness.
  if (!route.model.empty() && route.model.front() == '-') {
    run->fail(Error::make(ErrorCode::validation_error,
                          "the model must not start with '-' (" + transport.command +
                              " would read it as an option): " + route.model));
    return;
  }

  cwd = directory->cwd;
  spawn.cwd = cwd;
  if (spawn.file.empty()) {
    run->fail(Error::make(
        ErrorCode::not_found, "command '" + transport.command + "' for route " + route.id +
                                  " was not found or is not executable (PATH searched)"));
    return;
  }

  // Which attachments the route takes, and where they go; refused before anything is staged.
  const bool in_prompt =
      cli.file_input && cli.file_input->placement == FileInputSpec::Placement::prompt;
  if (!request.attachments.empty()) {
    if (accepted_attachment_categories(transport).empty())
      return run->fail(Error::make(ErrorCode::unsupported_capability,
                                   "route " + route.id +
                                       " takes no attachments (its transport.cli has no "
                                       "fileInput and its argsTemplate no {files})"));
    // {files} in a group this run does not use (a condition, the other template) would drop
    // the attachments silently.
    if (!in_prompt && !template_uses(args_template, "files"))
      return run->fail(Error::make(
          ErrorCode::unsupported_capability,
          "route " + route.id + " cannot pass attachments to this run: no {files} in the " +
              (streaming ? "streaming.argsTemplate" : "argsTemplate") +
              " groups it uses (their conditions do not hold)"));
  }
  run->delivery = in_prompt ? "prompt" : "args";

  auto launch = std::make_shared<Launch>();
  launch->values.prompt = request.prompt;
  if (!route.model.empty()) launch->values.model = route.model;
  launch->values.system = request.system_prompt;
  launch->values.system_file = run->system_file;
  launch->values.session_id = request.session_id;
  if (cli.file_input) launch->values.per_file_args = cli.file_input->per_file_args;
  if (template_uses(args_template, "output_file")) {
    Error error;
    if (!run->temp_dir) run->temp_dir = TempDir::create("drover-", error);
    if (!run->temp_dir) {
      run->fail(std::move(error));
      return;
    }
    run->output_file = run->temp_dir->path() + "/answer.txt";
    launch->values.output_file = run->output_file;
  }
  launch->args_template = args_template;
  spawn.watchdog = apply_request_timeouts(cli.watchdog.for_run(facts.resuming), request);
  spawn.max_output_bytes = cli.max_output_bytes;
  spawn.stdout_kept_bytes = kParsedStdoutKeptBytes;
  launch->spawn = std::move(spawn);

  // Staging comes first: a refused or broken attachment ends the run before anything runs or
  // waits for the session. Clean mode stages into the fresh directory (relative sources still
  // resolve against the workspace), so the harness is shown no workspace path; kept copies go
  // to a directory of their own, as the fresh one goes with the run.
  StagingOptions options = staging_options_for(route, directory->workspace);
  if (facts.context == ContextMode::clean && !options.keep) options.into = cwd;
  stage_for_run(loop, run->control, request, std::move(options),
                [run, launch](std::optional<StagedAttachments> staged, std::optional<Error> error) {
                  run->control->set_stage(nullptr);
                  if (staged) run->staged = std::move(*staged);
                  if (error) return run->fail(std::move(*error));
                  launch_print_mode(run, std::move(*launch));
                });
}

void launch_print_mode(const std::shared_ptr<PrintModeRun>& run, Launch launch) {
  Loop& loop = *run->loop;
  const Route& route = run->route;
  const RunRequest& request = run->request;
  const TransportSpec& transport = route.account_spec->transport;
  const CliSpec& cli = transport.cli();
  // A stop asked for while nothing was live: nothing is started.
  if (run->control->requested() != StageControl::Stop::none)
    return run->fail(Error::make(ErrorCode::aborted, "the run was stopped before it started"));

  TemplateValues& values = launch.values;
  if (run->staged && !run->staged->files.empty()) {
    for (const auto& file : run->staged->files) {
      // Staging guarantees both; an argument that is neither a path nor a plain name must never
      // reach the harness's option parser.
      if (file.path.empty() || file.path.front() != '/' || file.name.empty() ||
          file.name.front() == '-')
        return run->fail(Error::make(ErrorCode::harness_error,
                                     "attachment " + file.source +
                                         " was not staged as a file the harness can be given"));
      values.files.push_back(TemplateFile{file.path, file.name});
    }
    if (!run->staged->attachments_dir.empty()) values.attachments_dir = run->staged->attachments_dir;
    if (run->delivery == "prompt") {
      const FileInputSpec& in = *cli.file_input;
      for (const auto& file : values.files)
        values.prompt += in.separator + expand_file_token(in.mention_template, file);
      values.files.clear();  // mentioned, not passed: {attachments_dir} still names them
    }
  }
  SpawnOptions& spawn = launch.spawn;
  spawn.args = expand_args(launch.args_template, values);
  if (request.system_prompt && !run->system_in_env) {
    // A group with {system} or {system_file} that is kept (its other values present) carries it.
    const bool in_args = std::any_of(
        launch.args_template.begin(), launch.args_template.end(), [&](const auto& group) {
          return (template_uses({group}, "system") || template_uses({group}, "system_file")) &&
                 !expand_args(std::vector<std::vector<std::string>>{group}, values).empty();
        });
    if (!in_args)
      run->warnings.push_back(
          "the system prompt was not sent: route " + route.id + " has no way to pass it to " +
          run->command_name + " ({system} or {system_file} in the " +
          (request.stream && cli.streaming ? "streaming.argsTemplate" : "argsTemplate") +
          " groups this run uses, or {system_file} in env)");
  }
  spawn.args.insert(spawn.args.begin(), transport.command);
  if (std::any_of(spawn.args.begin(), spawn.args.end(),
                  [](const std::string& arg) { return arg.find('\0') != std::string::npos; })) {
    // execve() would cut the argument at the NUL and the harness would answer half a prompt.
    const bool prompt = values.prompt.find('\0') != std::string::npos;
    run->fail(Error::make(
        ErrorCode::validation_error,
        std::string(prompt ? "the prompt" : "an argument for route " + route.id) +
            " contains a NUL byte, which cannot be passed on a command line" +
            (prompt ? "; use a route with input: \"stdin\" (cli.input) for such prompts" : "")));
    return;
  }
  if (cli.input == CliSpec::Input::stdin_) spawn.stdin_data = values.prompt;
  run->watchdog = spawn.watchdog;

  const ParserSpec& parser_spec = run->parser_spec();
  ParserContext parser_context;
  if (!route.model.empty()) parser_context.model = route.model;  // {model} in selector paths
  run->parser = parsers::make_parser(parser_spec, cli.max_output_bytes, parser_context);
  spawn.stdout_activity_by_owner = parser_spec.kind == ParserSpec::Kind::jsonl &&
                                   parser_spec.progress && !parser_spec.progress_resets_idle;
  if (cli.noise.suppress) run->noise.emplace(markers_for(cli.noise));

  if (!request.session_id) return spawn_print_mode(loop, run, std::move(spawn));
  auto shared_spawn = std::make_shared<SpawnOptions>(std::move(spawn));
  auto wait = acquire_run_lock(
      loop, route, *request.session_id, shared_spawn->watchdog.total_timeout_ms,
      [&loop, run, shared_spawn](std::optional<SessionLock> lock, std::optional<Error> error,
                                 std::optional<int64_t> total_left) {
        run->control->set_stage(nullptr);
        if (error) return run->fail(std::move(*error));
        run->session_lock.emplace(std::move(*lock));
        shared_spawn->watchdog.total_timeout_ms = total_left;
        spawn_print_mode(loop, run, std::move(*shared_spawn));
      });
  run->control->set_stage([wait](StageControl::Stop) { wait->cancel(); });
}

}  // namespace

std::shared_ptr<RunControl> start_print_mode(Loop& loop, const TransportAttempt& attempt,
                                             TransportSink sink) {
  auto run = std::make_shared<PrintModeRun>();
  std::shared_ptr<RunControl> control = run->control;
  begin_print_mode(loop, run, attempt.route, attempt.request, std::move(sink.on_event),
                   [on_done = std::move(sink.on_done)](Result&& result) {
                     TransportOutcome outcome;
                     outcome.calls = result.process ? 1 : 0;
                     outcome.result = std::move(result);
                     on_done(std::move(outcome));
                   });
  return control;
}

}  // namespace drover
