#include "harness/acp.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "drover/session.h"
#include "harness/acp_fields.h"
#include "harness/acp_terminal.h"
#include "harness/acp_updates.h"
#include "harness/child_common.h"
#include "parsers/json_limits.h"
#include "parsers/output_parser.h"
#include "parsers/utf8.h"
#include "src/config/args_template.h"
#include "src/core/errors.h"
#include "src/loop/loop.h"
#include "src/loop/process.h"
#include "src/config/redact.h"
#include "src/core/base64.h"
#include "src/rpc/jsonrpc.h"
#include "src/transport/attachments.h"
#include "src/transport/run_control.h"
#include "src/transport/run_handle.h"
#include "staging/attachments.h"
#include "staging/session_lock.h"

#ifndef DROVER_VERSION
#define DROVER_VERSION "0"
#endif

namespace drover {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kProtocolVersion = 1;
constexpr uintmax_t kMaxServedFileBytes = 64ull << 20;  // fs/read_text_file answers in memory

std::string rpc_error_text(const rpc::RpcError& e) {
  std::string text = e.message.empty() ? "error " + std::to_string(e.code) : e.message;
  if (!e.data.is_null()) {
    std::string data = e.data.is_string() ? e.data.get<std::string>()
                                          : e.data.dump(-1, ' ', false, json::error_handler_t::replace);
    if (data.size() > 300) data = data.substr(0, 300) + "…";
    text += " (" + data + ")";
  }
  return parsers::valid_utf8(text) + " [" + std::to_string(e.code) + "]";
}

using acp_fields::member;
using acp_fields::string_at;

// Every "{model}" string in `meta` becomes the model and every "{system}" the system prompt;
// members that would be one of them without a value are dropped. `system_used`: a "{system}"
// was filled.
json substitute_model(const json& meta, const std::string& model, const std::string* system,
                      bool& system_used) {
  if (meta.is_string()) return meta;
  if (meta.is_array()) {
    json out = json::array();
    for (const auto& v : meta) out.push_back(substitute_model(v, model, system, system_used));
    return out;
  }
  if (!meta.is_object()) return meta;
  json out = json::object();
  for (const auto& [key, value] : meta.items()) {
    if (value.is_string() && value.get<std::string>() == "{model}") {
      if (!model.empty()) out[key] = model;
    } else if (value.is_string() && value.get<std::string>() == "{system}") {
      if (system) {
        out[key] = *system;
        system_used = true;
      }
    } else {
      out[key] = substitute_model(value, model, system, system_used);
    }
  }
  return out;
}

// The session's model selector: the select option of category "model" (the one with id "model"
// first, as acpx does), or nullptr.
const json* model_config_option(const json& session_result) {
  const json* options = member(session_result, "configOptions");
  if (!options || !options->is_array()) return nullptr;
  const json* found = nullptr;
  for (const auto& o : *options) {
    if (string_at(o, "category") != "model" && string_at(o, "id") != "model") continue;
    if (string_at(o, "type") != "select" && !string_at(o, "type").empty()) continue;
    if (string_at(o, "id") == "model") return &o;
    if (!found) found = &o;
  }
  return found;
}

// Attachments (README "ACP attachments"): each is read into memory up to this size, to go as an
// image or embedded resource block; a prompt embeds at most kMaxEmbeddedBytes of them in all
// (the rest go as resource_links to the staged copies).
constexpr uint64_t kMaxLoadedAttachmentBytes = 10ull << 20;
constexpr uint64_t kMaxEmbeddedBytes = 20ull << 20;

// A file:// URI of an absolute path, with what a URI cannot hold percent-encoded.
std::string file_uri(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string uri = "file://";
  for (unsigned char c : path) {
    const bool plain = std::isalnum(c) || std::strchr("/-._~!$&'()*+,;=:@", c) != nullptr;
    if (plain && c != 0) {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 15];
    }
  }
  return uri;
}

}  // namespace

StagingOptions acp_staging_options(const Route& route, const std::string& workspace,
                                   const std::string& clean_cwd) {
  StagingOptions options = staging_options_for(route, workspace);
  if (!options.keep) options.into = clean_cwd;
  options.copy = true;
  options.load_max_bytes = kMaxLoadedAttachmentBytes;
  // fileInput.categories narrows references as it narrows files.
  options.remote_categories = options.categories;
  if (options.remote_categories.empty())
    options.remote_categories = {AttachmentCategory::image, AttachmentCategory::document,
                                 AttachmentCategory::text, AttachmentCategory::other};
  return options;
}

AcpPrompt acp_prompt_blocks(const std::string& text, const std::vector<StagedAttachment>& files,
                            const AcpPromptCapabilities& caps) {
  AcpPrompt prompt;
  prompt.blocks = json::array({{{"type", "text"}, {"text", text}}});
  uint64_t embedded = 0;
  for (const auto& file : files) {
    json link = {{"type", "resource_link"}, {"name", file.name}};
    if (!file.mime.empty()) link["mimeType"] = file.mime;
    if (file.url) {
      // A remote reference is passed on, never fetched.
      link["uri"] = *file.url;
      prompt.blocks.push_back(std::move(link));
      prompt.deliveries.emplace_back("link");
      continue;
    }
    const std::string uri = file_uri(file.path);
    const bool loaded = file.content && file.content->size() <= kMaxLoadedAttachmentBytes &&
                        embedded + file.content->size() <= kMaxEmbeddedBytes;
    // The image types the models behind every agent take as an image.
    const bool image_type = file.mime == "image/png" || file.mime == "image/jpeg" ||
                            file.mime == "image/gif" || file.mime == "image/webp";
    json block;
    std::string delivery;
    if (loaded && caps.image && file.category == AttachmentCategory::image && image_type) {
      block = {{"type", "image"}, {"mimeType", file.mime}, {"data", base64_encode(*file.content)}};
      delivery = "image";
    } else if (loaded && caps.embedded_context && file.category == AttachmentCategory::text &&
               parsers::valid_utf8(*file.content) == *file.content) {
      block = {{"type", "resource"},
               {"resource", {{"uri", uri}, {"mimeType", file.mime}, {"text", *file.content}}}};
      delivery = "resource";
    } else if (loaded && caps.embedded_context && file.category == AttachmentCategory::document) {
      block = {{"type", "resource"},
               {"resource",
                {{"uri", uri}, {"mimeType", file.mime}, {"blob", base64_encode(*file.content)}}}};
      delivery = "resource";
    }
    if (!delivery.empty()) {
      embedded += file.content->size();
    } else {
      // Any other file, or one over the limits: the agent reads the staged copy itself.
      link["uri"] = uri;
      link["size"] = file.bytes;
      block = std::move(link);
      delivery = "link";
    }
    prompt.blocks.push_back(std::move(block));
    prompt.deliveries.push_back(std::move(delivery));
  }
  return prompt;
}

namespace {

bool within(const fs::path& path, const std::vector<fs::path>& roots) {
  for (const auto& root : roots) {
    auto rel = path.lexically_relative(root);
    if (!rel.empty() && *rel.begin() != "..") return true;
  }
  return false;
}

}  // namespace

/// One agent process, its JSON-RPC connection and its session. Owns itself: it deletes itself
/// after delivering its last callback (the process's completion).
class AcpAgent {
 public:
  struct Turn {
    EventHandler on_event;
    std::optional<parsers::NoiseFilter> noise;
    std::string text;  // as the noise filter let it through
    std::string thinking;
    std::optional<Usage> usage;          // the prompt result's, else from usage_update
    std::optional<Usage> update_usage;   // the last one an update carried (_meta.usage, acp.usage)
    std::optional<double> update_cost;   // usage_update's cumulative cost
    std::optional<std::string> stop_reason;
    std::optional<Error> error;
    std::vector<PermissionDecision> permissions;
    std::map<std::string, std::string> tool_kinds;  // toolCallId -> kind
    std::map<std::string, ToolCall> tool_calls;     // toolCallId -> the call merged so far
    bool answered = false;  // the prompt result (or error) came
    bool cancel_sent = false;
    StopCause cancel_cause = StopCause::none;  // a deadline or Ctrl-C cancelled this turn
    std::optional<double> first_delta_ms;
    uint64_t started_ns = 0;
    std::vector<AttachmentReport> attachments;  // how the prompt's attachments went
  };

  /// `one_shot`: one prompt, then the agent is shut down, and the whole run has one deadline.
  /// Otherwise (a Session) the agent stays for more prompts and each prompt has its own.
  AcpAgent(Loop& loop, const Route& route, RunRequest request, bool one_shot = true)
      : one_shot_(one_shot),
        loop_(loop),
        route_(route),
        spec_(route.account_spec->transport.acp()),
        request_(std::move(request)),
        secrets_(route_secrets(route)),
        start_timer_(loop),
        idle_timer_(loop),
        total_timer_(loop),
        phase_timer_(loop),
        close_timer_(loop) {}

  ~AcpAgent() {
    if (stop_hook_) loop_.remove_stop_hook(stop_hook_);
  }

  /// The route's model, or the request's override.
  std::string wanted_model() const { return request_.model.value_or(route_.model); }

  // ---- start ------------------------------------------------------------------------------

  /// Spawns the agent and runs the handshake up to a ready session; then `ready` runs (with an
  /// error, the agent is being shut down and `finished` follows).
  void start(std::function<void()> ready, std::function<void(Result&&)> finished) {
    ready_ = std::move(ready);
    finished_ = std::move(finished);
    started_ns_ = uv_hrtime();
    // A route that cannot enforce the policy is refused before anything is made or spawned
    // (model discovery sends no prompt, so nothing can run a tool there).
    policy_ = gate_permission_policy(route_, request_);
    if (policy_.refusal && !discovery_only_) return fail_before_spawn(std::move(*policy_.refusal));
    const ContextMode mode = request_.context_mode.value_or(spec_.context_mode);
    auto [directory, directory_error] = prepare_child_directory(request_.cwd, spec_.cwd, mode);
    if (!directory) return fail_before_spawn(std::move(*directory_error));
    workspace_ = directory->workspace;
    cwd_ = directory->cwd;
    temp_dir_ = std::move(directory->temp_dir);
    // A Ctrl-C from here on stops the run: the staging below, or the agent.
    stop_hook_ = loop_.add_stop_hook([this](StopCause cause) { interrupt(cause); });
    // A pooled agent's runs bring their own attachments (begin_run).
    if (request_.attachments.empty() || pooled_) return launch(mode);

    // The attachments are staged first: a bad one fails the run before anything is spawned.
    // In clean mode they go under the fresh cwd; otherwise the agent is given their directory.
    if (!control_) control_ = std::make_shared<StageControl>();
    StagingOptions options =
        acp_staging_options(route_, workspace_, mode == ContextMode::clean ? cwd_ : "");
    const bool into_cwd = !options.into.empty();
    staging_ = true;
    stage_for_run(loop_, control_, request_, std::move(options),
                  [this, mode, into_cwd](std::optional<StagedAttachments> staged,
                                         std::optional<Error> error) {
                    staging_ = false;
                    // A Ctrl-C that came after the staging had finished.
                    if (!error && stop_cause_ != StopCause::none)
                      error = Error::make(ErrorCode::aborted, "the run was cancelled");
                    if (error) return fail_before_spawn(std::move(*error));
                    staged_ = std::move(staged);
                    if (staged_ && !into_cwd && !staged_->attachments_dir.empty())
                      attachment_dirs_ = {staged_->attachments_dir};
                    launch(mode);
                  });
  }

 private:
  /// The route's args for this run: the groups whose conditions hold, expanded, a group using a
  /// placeholder without a value ({model}, {system}, {session_id}) dropped whole.
  std::vector<std::string> acp_args(const RunFacts& facts) {
    std::vector<std::vector<std::string>> groups;
    std::optional<size_t> last_group;
    for (size_t i = 0; i < spec_.args.size(); ++i) {
      if (i < spec_.args_when.size() &&
          !std::all_of(spec_.args_when[i].begin(), spec_.args_when[i].end(),
                       [&](const std::string& c) { return condition_holds(c, facts); }))
        continue;
      const size_t group = i < spec_.args_group.size() ? spec_.args_group[i] : i;
      if (!last_group || *last_group != group) groups.emplace_back();
      last_group = group;
      groups.back().push_back(spec_.args[i]);
    }
    TemplateValues values;
    const std::string model = model_for_args();
    if (!model.empty()) values.model = model;
    values.system = request_.system_prompt;
    values.session_id = request_.session_id;
    if (values.system)
      for (const auto& group : groups)
        if (template_uses({group}, "system") &&
            !expand_args(std::vector<std::vector<std::string>>{group}, values).empty())
          system_in_args_ = true;
    return expand_args(groups, values);
  }

  /// {model} in args: the requested model, through the route's aliases.
  std::string model_for_args() const {
    const std::string model = wanted_model();
    if (model.empty()) return model;
    auto alias = spec_.model_aliases.find(model);
    return alias == spec_.model_aliases.end() ? model : alias->second;
  }

  /// Spawns the agent (start() has made its directory and staged the attachments) and begins
  /// the handshake.
  void launch(ContextMode mode) {
    std::map<std::string, std::string> env;
    add_expanded_env(env, spec_.env);
    if (mode == ContextMode::clean) add_expanded_env(env, spec_.clean_env);
    RunFacts facts;
    facts.context = mode;
    facts.resuming = request_.session_id.has_value();
    facts.attachments = !request_.attachments.empty();
    facts.policy = policy_.policy;
    SpawnOptions spawn;
    spawn.env = build_child_environment(env, spec_.clear_env);
    facts.env_has = env_lookup(spawn.env);
    if (!spec_.env_when.empty()) {
      apply_env_when(env, spec_.env_when, facts);
      spawn.env = build_child_environment(env, spec_.clear_env);
    }
    const std::string& command = route_.account_spec->transport.command;
    spawn.file = resolve_command(command, spawn.env, workspace_);
    if (spawn.file.empty())
      return fail_before_spawn(Error::make(
          ErrorCode::not_found, "command '" + command + "' for route " + route_.id +
                                    " was not found or is not executable (PATH searched)"));
    spawn.args = {command};
    for (auto& arg : acp_args(facts)) spawn.args.push_back(std::move(arg));
    spawn.cwd = cwd_;
    if (spec_.terminal.enabled) start_terminals(spawn.env);
    spawn.interactive_stdin = true;
    spawn.owner_stops = true;  // Ctrl-C goes through session/cancel first (stop hook below)
    spawn.watchdog.grace_ms = spec_.watchdog.grace_ms;
    spawn.watchdog.drain_ms = spec_.watchdog.drain_ms;
    spawn.max_output_bytes = spec_.max_output_bytes;
    spawn.stdout_kept_bytes = kParsedStdoutKeptBytes;
    watchdog_ = apply_request_timeouts(spec_.watchdog.for_run(request_.session_id.has_value()),
                                       request_);
    command_name_ = fs::path(command).filename().string();

    if (request_.transcript_path) {
      // A Session's later agents add to the transcript its first one began.
      transcript_.open(*request_.transcript_path,
                       std::ios::binary | (one_shot_ ? std::ios::trunc : std::ios::app));
      if (!transcript_)
        return fail_before_spawn(Error::make(
            ErrorCode::validation_error, "cannot write the transcript " + *request_.transcript_path));
    }

    connection_ = std::make_unique<rpc::Connection>(
        [this](std::string_view line) {
          return process_ != nullptr && process_->write_stdin(std::string(line));
        },
        handlers(), static_cast<std::size_t>(std::max<uint64_t>(spec_.max_output_bytes, 1)));

    ProcessCallbacks callbacks;
    callbacks.on_stdout = [this](std::string_view chunk) {
      arm_idle();
      connection_->feed(chunk);
    };
    callbacks.on_complete = [this](ProcessOutcome&& outcome) { process_finished(std::move(outcome)); };
    Error spawn_error;
    process_ = Process::start(loop_, std::move(spawn), std::move(callbacks), spawn_error);
    if (process_ == nullptr) return fail_before_spawn(std::move(spawn_error));
    // A one-shot run's cancel or pause: session/cancel, then the bounded shutdown (as Ctrl-C).
    if (control_) control_->set_stage([this](StageControl::Stop) { interrupt(StopCause::cancelled); });

    if (watchdog_.total_timeout_ms && one_shot_)
      total_timer_.start(*watchdog_.total_timeout_ms, [this] { interrupt(StopCause::total_timeout); });
    if (watchdog_.start_timeout_ms)
      start_timer_.start(*watchdog_.start_timeout_ms, [this] { interrupt(StopCause::start_timeout); });
    arm_idle();
    initialize();
  }

 public:
  // ---- prompt -----------------------------------------------------------------------------

  /// Sends the request's prompt. `done` runs once the turn is over: the prompt result plus the
  /// late-updates window. With `done` empty (a one-shot run) the agent is shut down as soon as
  /// the result is in, and updates still arriving until it exits belong to the turn.
  /// `staged`: the prompt's attachments (a one-shot run's own when null); a Session keeps them
  /// until the turn's Result is delivered, and their directory is one of the session's fs roots
  /// while the turn runs.
  void prompt(const std::string& text, const StagedAttachments* staged, EventHandler on_event,
              std::function<void()> done) {
    turn_ = std::make_unique<Turn>();
    turn_->on_event = std::move(on_event);
    turn_->started_ns = uv_hrtime();
    if (spec_.noise.suppress) turn_->noise.emplace(markers_for(spec_.noise));
    turn_done_ = std::move(done);
    if (!one_shot_ && !pooled_ && watchdog_.total_timeout_ms)
      total_timer_.start(*watchdog_.total_timeout_ms, [this] { interrupt(StopCause::total_timeout); });
    arm_idle();
    if (staged == nullptr && staged_) staged = &*staged_;
    AcpPrompt blocks = acp_prompt_blocks(
        text, staged ? staged->files : std::vector<StagedAttachment>{},
        {has_capability({"promptCapabilities", "image"}),
         has_capability({"promptCapabilities", "embeddedContext"})});
    deliver_system_prompt(blocks.blocks);
    if (staged) {
      turn_->attachments = staged->reports(blocks.deliveries);
      if (staged->kept_at) warn("attachments kept in " + *staged->kept_at);
      if (!one_shot_ && !staged->attachments_dir.empty()) turn_dirs_ = {staged->attachments_dir};
    }
    connection_->request(
        "session/prompt", {{"sessionId", session_id_}, {"prompt", std::move(blocks.blocks)}},
        [this](json result, std::optional<rpc::RpcError> error) {
          // The process ended first: process_finished says how.
          if (!turn_ || (error && error->code == rpc::code::connection_closed)) return;
          turn_->answered = true;
          if (error) {
            turn_->error = Error::make(classify_failure_message(error->message),
                                       command_name_ + " failed the prompt: " + rpc_error_text(*error));
          } else {
            if (auto reason = string_at(result, "stopReason"); !reason.empty())
              turn_->stop_reason = reason;
            if (auto report = prompt_result_usage(result, spec_.usage_result)) {
              turn_->usage = report->usage;
              emit(Event::make_usage(turn_->usage, std::move(report->raw)));
            } else if (const json* usage = member(result, "usage")) {
              emit(Event::make_usage(std::nullopt, *usage));  // nothing in it was a count
            }
          }
          idle_timer_.stop();
          if (one_shot_) return shutdown(false);
          total_timer_.stop();
          if (shutting_down_) return;  // closing: process_finished ends the turn
          // Some agents send their last updates after the result: read on a little.
          phase_timer_.start(turn_->cancel_sent ? 0 : spec_.late_updates_ms, [this] { end_turn(); });
        });
  }

  /// The request's system prompt, the first prompt of a new session: already delivered through
  /// args or sessionMeta, else as a leading text block (systemPrompt "leadingBlock"), else a
  /// warning that it was not sent.
  void deliver_system_prompt(json& blocks) {
    if (!request_.system_prompt || system_delivered_ || system_in_args_) return;
    system_delivered_ = true;  // once per session
    if (!new_session_) {
      warn("the system prompt was not sent: " + command_name_ +
           " continues a session that already has one");
      return;
    }
    if (spec_.system_prompt == AcpSpec::SystemPrompt::leading_block) {
      blocks.insert(blocks.begin(), json{{"type", "text"}, {"text", *request_.system_prompt}});
      return;
    }
    warn("the system prompt was not sent: route " + route_.id +
         " has no way to pass it to " + command_name_ +
         " (acp.systemPrompt \"leadingBlock\", {system} in acp.args or \"{system}\" in "
         "acp.sessionMeta)");
  }

  // ---- stopping ---------------------------------------------------------------------------

  /// A deadline or Ctrl-C: cancel the turn in flight (session/cancel, pending permissions
  /// answered "cancelled"), wait a bounded time for the agent to say so, then stop the group.
  void interrupt(StopCause cause) {
    if (shutting_down_) return;
    if (staging_) {
      // Nothing is spawned yet: the staging is abandoned (it removes what it copied).
      if (stop_cause_ == StopCause::none) stop_cause_ = cause;
      control_->cancel();
      return;
    }
    start_timer_.stop();
    idle_timer_.stop();
    total_timer_.stop();
    const bool turn_running = turn_ && turn_done_pending() && !turn_->answered;
    if (turn_running) {
      if (turn_->cancel_sent) return;
      turn_->cancel_cause = cause;
      turn_->cancel_sent = true;
      if (terminals_) terminals_->kill_all();
      // Permission requests are answered at once, so none is pending here.
      connection_->notify("session/cancel", {{"sessionId", session_id_}});
      // No `cancelled` answer within the grace: stop the group.
      phase_timer_.start(spec_.cancel_grace_ms, [this, cause] {
        if (stop_cause_ == StopCause::none) stop_cause_ = cause;
        shutdown(true);
      });
      return;
    }
    if (turn_ && turn_->answered && one_shot_) return;  // the run is ending anyway
    // The handshake, or a Session between prompts (Ctrl-C): stop the agent.
    if (stop_cause_ == StopCause::none) stop_cause_ = cause;
    shutdown(true);
  }

  /// A turn was started and has not ended (one-shot turns end with the process).
  bool turn_done_pending() const { return one_shot_ || static_cast<bool>(turn_done_); }

  /// A Session's caller stops the turn in flight: session/cancel (the agent stays for the next
  /// prompt; one that does not answer within the cancel grace is stopped). A turn already
  /// answered and reading late updates ends now.
  void stop_turn() {
    if (!turn_ || !turn_done_) return;
    if (turn_->answered) {
      if (!shutting_down_) phase_timer_.start(0, [this] { end_turn(); });
      return;
    }
    interrupt(StopCause::cancelled);
  }

  /// The RunControl of a one-shot run: its stops go to this agent while it is alive.
  void set_control(std::shared_ptr<StageControl> control) { control_ = std::move(control); }

  // ---- pooled runs (harness/acp_pool.h) ---------------------------------------------------

  /// A pooled agent: start() ends with initialize's answer (no session is made) and `ready`
  /// runs; each run then gets a session of its own through begin_run(), one at a time.
  void for_pool() { pooled_ = true; }

  /// Runs `request` on this idle pooled agent in a fresh session: session/new in `cwd`, model
  /// selection and the policy's mode as a one-shot run makes them, then the prompt with
  /// `staged` (the caller's until `done`). The request's total timeout covers the whole run,
  /// its start timeout the session's setup, its idle timeout the turn. `done` runs once: when
  /// the turn is over (the agent is idle again) or when the agent is gone, with `died` set when
  /// it ended by itself (no watchdog, cancel or shutdown of drover's). `control`'s stops go to
  /// the run: during the turn they cancel the turn only; during the setup they stop the agent.
  void begin_run(RunRequest request, std::string cwd, const StagedAttachments* staged,
                 EventHandler on_event, std::shared_ptr<StageControl> control,
                 std::function<void(Result&&, bool died)> done) {
    request_ = std::move(request);
    cwd_ = std::move(cwd);
    run_staged_ = staged;
    run_events_ = std::move(on_event);
    run_done_ = std::move(done);
    control_ = std::move(control);
    session_id_.clear();
    session_closed_ = false;
    session_result_ = json();
    model_.clear();
    session_cost_ = 0;
    policy_mode_set_ = false;
    title_set_ = false;
    config_options_set_ = 0;
    system_delivered_ = false;
    attachment_dirs_.clear();
    // Attachments staged outside the session's cwd (workspace mode) are the session's too.
    if (staged && !staged->attachments_dir.empty() &&
        !within(fs::path(staged->attachments_dir), {fs::path(cwd_)}))
      attachment_dirs_ = {staged->attachments_dir};
    watchdog_ = apply_request_timeouts(spec_.watchdog.for_run(false), request_);
    if (watchdog_.total_timeout_ms)
      total_timer_.start(*watchdog_.total_timeout_ms, [this] { interrupt(StopCause::total_timeout); });
    if (watchdog_.start_timeout_ms)
      start_timer_.start(*watchdog_.start_timeout_ms, [this] { interrupt(StopCause::start_timeout); });
    open_session(false);
    control_->set_stage([this](StageControl::Stop) {
      if (turn_ && turn_done_) return stop_turn();
      interrupt(StopCause::cancelled);
    });
  }

 private:
  // ---- handshake --------------------------------------------------------------------------

  void initialize() {
    json params = {{"protocolVersion", kProtocolVersion},
                   {"clientCapabilities",
                    {{"fs", {{"readTextFile", spec_.fs_read}, {"writeTextFile", spec_.fs_write}}},
                     {"terminal", terminals_ != nullptr},
                     {"session", {{"configOptions", {{"boolean", json::object()}}}}}}},
                   {"clientInfo", {{"name", "drover"}, {"title", "drover"}, {"version", DROVER_VERSION}}}};
    if (spec_.elicitation) params["clientCapabilities"]["elicitation"] = {{"form", json::object()}};
    connection_->request("initialize", std::move(params),
                         [this](json result, std::optional<rpc::RpcError> error) {
                           if (error) return handshake_failed("initialize", *error);
                           // Kept for a control agent too (drover sessions): its requests may
                           // need to authenticate.
                           if (const json* caps = member(result, "agentCapabilities"))
                             agent_caps_ = *caps;
                           if (const json* methods = member(result, "authMethods"))
                             auth_methods_ = *methods;
                           if (probe_only_) return probed(result);
                           const json* version = member(result, "protocolVersion");
                           if (!version || !version->is_number_integer() ||
                               version->get<int64_t>() != kProtocolVersion)
                             return fail(Error::make(
                                 ErrorCode::unsupported_capability,
                                 command_name_ + " speaks ACP protocol version " +
                                     (version ? version->dump() : std::string("(none)")) +
                                     "; drover speaks " + std::to_string(kProtocolVersion)));
                           if (pooled_) return probed(std::move(result));
                           open_session(false);
                         });
  }

  bool has_capability(std::initializer_list<const char*> path) const {
    const json* at = &agent_caps_;
    for (const char* key : path) {
      at = member(*at, key);
      if (at == nullptr) return false;
    }
    return !at->is_boolean() || at->get<bool>();
  }

  void open_session(bool after_auth) {
    std::string method = "session/new";
    json params = {{"cwd", cwd_}, {"mcpServers", spec_.mcp_servers}};
    if (request_.session_id) {
      if (has_capability({"sessionCapabilities", "resume"})) {
        method = "session/resume";
      } else if (has_capability({"loadSession"})) {
        method = "session/load";
        replaying_ = true;  // the agent replays the conversation first: not this turn's answer
      } else {
        warn(command_name_ + " cannot resume sessions (it advertises neither session/resume nor "
                             "session/load); started a new session instead of " +
             *request_.session_id);
      }
      if (method != "session/new") params["sessionId"] = *request_.session_id;
    }
    // The route's extra directories and the staged attachments' directory, for an agent that
    // confines its own file access.
    if (has_capability({"sessionCapabilities", "additionalDirectories"})) {
      std::vector<std::string> dirs;
      const std::vector<std::string>* lists[] = {&spec_.extra_dirs, &attachment_dirs_};
      for (const auto* list : lists)
        for (const auto& dir : *list)
          if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end() && dir != cwd_)
            dirs.push_back(dir);
      if (!dirs.empty()) params["additionalDirectories"] = std::move(dirs);
    }
    if (method == "session/new" && !spec_.session_meta.is_null()) {
      bool system_used = false;
      json meta = substitute_model(spec_.session_meta, model_for_args(),
                                   request_.system_prompt ? &*request_.system_prompt : nullptr,
                                   system_used);
      if (system_used) system_delivered_ = true;
      if (!meta.empty()) params["_meta"] = std::move(meta);
    }
    new_session_ = method == "session/new";
    connection_->request(method, std::move(params), [this, method, after_auth](
                                                        json result, std::optional<rpc::RpcError> error) {
      replaying_ = false;
      if (error && error->code == rpc::code::auth_required && !after_auth)
        return authenticate([this] { open_session(true); });
      if (error && method != "session/new" && error->code == rpc::code::method_not_found) {
        warn(command_name_ + " rejected " + method + " as unknown although it advertises it; "
                                                     "started a new session instead");
        request_.session_id.reset();
        return open_session(after_auth);
      }
      if (error) {
        if (method != "session/new" && error->code != rpc::code::connection_closed)
          return fail(Error::make(ErrorCode::harness_error,
                                  command_name_ + " could not resume session " +
                                      request_.session_id.value_or("") + ": " + rpc_error_text(*error)));
        return handshake_failed(method, *error);
      }
      session_id_ = method == "session/new" ? string_at(result, "sessionId") : *request_.session_id;
      if (session_id_.empty())
        return fail(Error::make(ErrorCode::harness_error,
                                command_name_ + " answered " + method + " without a sessionId"));
      session_result_ = result;
      select_model();
    });
  }

  /// The agent asked for authentication (-32000): authenticate with the route's method, then
  /// `retry` (once). Without a method to use, the run fails with auth_error naming the methods
  /// the agent offers.
  void authenticate(std::function<void()> retry) {
    std::string problem;
    std::optional<std::string> method = acp_auth_method(spec_.auth_method, auth_methods_, problem);
    if (!method)
      return fail(Error::make(ErrorCode::auth_error, command_name_ + " requires authentication " +
                                                         problem));
    connection_->request("authenticate", {{"methodId", *method}},
                         [this, method = *method, retry = std::move(retry)](
                             json, std::optional<rpc::RpcError> error) {
                           if (error && error->code == rpc::code::connection_closed) return;
                           if (error)
                             return fail(Error::make(ErrorCode::auth_error,
                                                     command_name_ + " authentication with " +
                                                         method + " failed: " +
                                                         rpc_error_text(*error)));
                           authenticated_ = true;
                           retry();
                         });
  }

  void select_model() {
    AcpModelReport offered = models_from_session(session_result_);
    model_ = offered.current.value_or("");
    auto mode = spec_.model_selection;
    if (wanted_model().empty() || mode == AcpSpec::ModelSelection::none) return session_ready();
    // The requested name may be an alias, an advertised id or an advertised model's name.
    const AcpModelMatch match = match_acp_model(wanted_model(), offered.models, spec_.model_aliases);
    const std::string model = match.id;
    const bool advertised =
        std::any_of(offered.models.begin(), offered.models.end(),
                    [&](const AcpModelReport::Model& m) { return m.id == model; });
    if (!offered.models.empty() && !advertised) {
      std::string list;
      for (const auto& m : offered.models) list += (list.empty() ? "" : ", ") + m.id;
      if (spec_.strict_models)
        return fail(Error::make(ErrorCode::validation_error,
                                "model " + model + " is not offered by " + command_name_ +
                                    " (offered: " + list + ")"));
      warn("model " + model + " is not among the models " + command_name_ + " advertises (" + list +
           "); asking for it anyway");
    }
    if (mode == AcpSpec::ModelSelection::meta) {
      model_ = model;
      return session_ready();
    }
    const json* option = model_config_option(session_result_);
    if (option && mode != AcpSpec::ModelSelection::set_model) {
      connection_->request("session/set_config_option",
                           {{"sessionId", session_id_}, {"configId", string_at(*option, "id")},
                            {"value", model}},
                           [this, model](json, std::optional<rpc::RpcError> error) {
                             if (error && error->code == rpc::code::connection_closed) return;
                             if (error)
                               return fail(Error::make(ErrorCode::unsupported_capability,
                                                       command_name_ + " refused model " + model +
                                                           ": " + rpc_error_text(*error)));
                             model_ = model;
                             session_ready();
                           });
      return;
    }
    if (member(session_result_, "models") || mode == AcpSpec::ModelSelection::set_model) {
      connection_->request("session/set_model", {{"sessionId", session_id_}, {"modelId", model}},
                           [this, model](json, std::optional<rpc::RpcError> error) {
                             if (error && error->code == rpc::code::connection_closed) return;
                             if (error && error->code == rpc::code::method_not_found) {
                               warn(command_name_ + " does not support session/set_model: model " +
                                    model + " was not selected");
                             } else if (error) {
                               return fail(Error::make(ErrorCode::unsupported_capability,
                                                       command_name_ + " refused model " + model +
                                                           ": " + rpc_error_text(*error)));
                             } else {
                               model_ = model;
                             }
                             session_ready();
                           });
      return;
    }
    fail(Error::make(ErrorCode::unsupported_capability,
                     command_name_ + " offers no way to choose a model (no model config option, no "
                                     "session/set_model); cannot run model " + model));
  }

  void session_ready() {
    // The route's configOptions, in order, once per session: an option the agent refuses or
    // does not have fails the run rather than running without it.
    if (config_options_set_ < spec_.config_options.size() && !discovery_only_) {
      const auto& [id, value] = spec_.config_options[config_options_set_++];
      // A boolean goes as {type: "boolean", value} beside configId (schema: the params' own
      // variant), a select's value id as plain value.
      json params = {{"sessionId", session_id_}, {"configId", id}, {"value", value}};
      if (value.is_boolean()) params["type"] = "boolean";
      connection_->request(
          "session/set_config_option", std::move(params),
          [this, id = id](json result, std::optional<rpc::RpcError> error) {
            if (error && error->code == rpc::code::connection_closed) return;
            if (error)
              return fail(Error::make(ErrorCode::unsupported_capability,
                                      command_name_ + " refused config option " + id + ": " +
                                          rpc_error_text(*error)));
            if (const json* options = member(result, "configOptions"); options && options->is_array()) {
              session_result_["configOptions"] = *options;
              if (auto current = models_from_session(session_result_).current) model_ = *current;
            }
            session_ready();
          });
      return;
    }
    // The policy's session mode (policyModes), once per agent, before the session counts as
    // ready: a mode the agent refuses fails the run rather than leaving it unrestricted.
    if (auto mode = spec_.policy_modes.find(policy_.policy);
        mode != spec_.policy_modes.end() && !policy_mode_set_ && !discovery_only_) {
      policy_mode_set_ = true;
      connection_->request(
          "session/set_mode", {{"sessionId", session_id_}, {"modeId", mode->second}},
          [this, mode_id = mode->second](json, std::optional<rpc::RpcError> error) {
            if (error && error->code == rpc::code::connection_closed) return;
            if (error)
              return fail(Error::make(
                  ErrorCode::unsupported_capability,
                  command_name_ + " refused session mode " + mode_id + " for the " +
                      std::string(to_string(policy_.policy)) + " permission policy: " +
                      rpc_error_text(*error)));
            session_ready();
          });
      return;
    }
    // The caller's session title (unstable session/set_title), where the agent takes one. Only
    // a courtesy: a refusal is logged, never fails the run.
    if (request_.session_title && !title_set_ && !discovery_only_ &&
        has_capability({"sessionCapabilities", "title"})) {
      title_set_ = true;
      connection_->request(
          "session/set_title", {{"sessionId", session_id_}, {"title", *request_.session_title}},
          [this](json, std::optional<rpc::RpcError> error) {
            if (error && error->code == rpc::code::connection_closed) return;
            if (error)
              spdlog::debug("{}: session/set_title refused: {}", command_name_,
                            rpc_error_text(*error));
            session_ready();
          });
      return;
    }
    start_timer_.stop();  // the start timeout covers the handshake only
    if (!one_shot_) idle_timer_.stop();
    if (pooled_) {
      if (!run_done_) return;
      return prompt(request_.prompt, run_staged_, run_events_,
                    [this] { finish_run(take_turn_result()); });
    }
    if (ready_) {
      auto ready = std::move(ready_);
      ready();
    }
  }

  /// A pooled run's turn is over (or the agent is gone): its Result goes to the pool.
  void finish_run(Result result) {
    close_pooled_session();
    total_timer_.stop();
    start_timer_.stop();
    if (control_) control_->set_stage(nullptr);
    control_.reset();
    run_staged_ = nullptr;
    run_events_ = nullptr;
    attachment_dirs_.clear();
    const bool gone = process_ == nullptr;
    if (gone && outcome_) {
      result.process = outcome_->info;
      result.process->evidence = result.error ? evidence() : std::string();
      secrets_.redact(result);
    }
    auto done = std::move(run_done_);
    run_done_ = nullptr;
    done(std::move(result), gone && died_);
  }

  void probed(json result) {
    initialize_result_ = std::move(result);
    start_timer_.stop();
    if (ready_) {
      auto ready = std::move(ready_);
      ready();
    }
  }

  void handshake_failed(const std::string& method, const rpc::RpcError& error) {
    if (error.code == rpc::code::connection_closed) return;  // process_finished explains it
    ErrorCode code = error.code == rpc::code::auth_required ? ErrorCode::auth_error
                                                             : classify_failure_message(error.message);
    fail(Error::make(code, command_name_ + " failed " + method + ": " + rpc_error_text(error)));
  }

  // ---- messages from the agent ------------------------------------------------------------

  rpc::Connection::Handlers handlers() {
    rpc::Connection::Handlers h;
    h.on_notification = [this](const std::string& method, json& params) {
      if (method == "session/update") return on_update(params);
      spdlog::debug("{}: ignored notification {}", command_name_, method);
    };
    h.on_request = [this](const json& id, const std::string& method, json& params) {
      return on_request(id, method, params);
    };
    h.on_invalid = [this](std::string_view line, const std::string& problem) {
      std::string shown = parsers::valid_utf8(std::string(line.substr(0, 200)));
      warn(command_name_ + " wrote a line that is not an ACP message (" + problem + "): " + shown);
    };
    h.on_message = [this](bool outgoing, std::string_view line) {
      remember(outgoing, line);
      if (transcript_.is_open()) record(outgoing, line);
    };
    return h;
  }

  void on_update(json& params) {
    if (replaying_ || !turn_) return;
    if (string_at(params, "sessionId") != session_id_) return;
    const json* update = member(params, "update");
    if (!update) return;
    AcpUpdate u = read_session_update(*update);
    if (auto report = update_usage(*update, spec_.usage_update)) {
      turn_->update_usage = report->usage;
      emit(Event::make_usage(report->usage, std::move(report->raw)));
    }
    switch (u.kind) {
      case AcpUpdate::Kind::message:
        return emit_delta(turn_->noise ? turn_->noise->feed(u.text) : std::move(u.text));
      case AcpUpdate::Kind::thought:
        if (u.text.empty()) return;
        turn_->thinking += u.text;
        return emit(Event::make_text(Event::Kind::thinking, std::move(u.text)));
      case AcpUpdate::Kind::tool: {
        if (!u.tool_kind.empty()) turn_->tool_kinds[u.tool_call_id] = u.tool_kind;
        ToolCall& call = turn_->tool_calls[u.tool_call_id];
        merge_tool_update(call, u.data);
        return emit(Event::make_tool(call, std::move(u.data)));
      }
      case AcpUpdate::Kind::usage:
        if (u.cost_usd) turn_->update_cost = u.cost_usd;
        return emit(Event::make_usage(std::move(u.usage), std::move(u.data)));
      case AcpUpdate::Kind::plan:
        return emit(Event::make_plan(std::move(u.plan), std::move(u.data)));
      case AcpUpdate::Kind::config:
        // The agent changed its options (the model among them): the result names the model
        // in use.
        if (const json* options = member(u.data, "configOptions"); options && options->is_array()) {
          session_result_["configOptions"] = *options;
          if (auto current = models_from_session(session_result_).current) model_ = *current;
        }
        return;
      case AcpUpdate::Kind::state:
        return;
      case AcpUpdate::Kind::other:
        spdlog::debug("{}: unknown session update {}", command_name_, u.name);
        return;
    }
  }

  bool on_request(const json& id, const std::string& method, json& params) {
    if (method == "session/request_permission") {
      on_permission(id, params);
      return true;
    }
    if (method == "fs/read_text_file" && spec_.fs_read) {
      serve_read(id, params);
      return true;
    }
    if (method == "fs/write_text_file" && spec_.fs_write) {
      serve_write(id, params);
      return true;
    }
    if (method == "elicitation/create") {
      ElicitationAnswer answer = answer_elicitation(
          params, spec_.elicitation == AcpSpec::Elicitation::cancel, command_name_);
      warn(std::move(answer.warning));
      connection_->respond(id, std::move(answer.response));
      return true;
    }
    if (terminals_ && method.rfind("terminal/", 0) == 0 &&
        terminals_->serve(id, method, params, terminal_scope()))
      return true;
    spdlog::debug("{}: unknown request {} answered -32601", command_name_, method);
    return false;
  }

  void on_permission(const json& id, const json& params) {
    const json* tool = member(params, "toolCall");
    PermissionDecision decision;
    if (tool) {
      decision.tool_call_id = string_at(*tool, "toolCallId");
      decision.title = parsers::valid_utf8(string_at(*tool, "title"));
      decision.kind = string_at(*tool, "kind");
    }
    if (decision.kind.empty() && turn_) {
      auto it = turn_->tool_kinds.find(decision.tool_call_id);
      if (it != turn_->tool_kinds.end()) decision.kind = it->second;
    }
    if (!turn_ || turn_->cancel_sent) {
      decision.decision = "cancelled";
      decision.rule = "cancel";
      connection_->respond(id, {{"outcome", {{"outcome", "cancelled"}}}});
    } else {
      const json* options = member(params, "options");
      PermissionChoice choice =
          choose_permission(spec_, request_.permissions.value_or(spec_.permissions), decision.kind,
                            options ? *options : json::array());
      decision.rule = choice.rule;
      decision.option_id = choice.option_id;
      decision.decision = choice.allowed && !choice.option_id.empty() ? "allowed" : "denied";
      if (choice.option_id.empty())
        connection_->respond(id, {{"outcome", {{"outcome", "cancelled"}}}});
      else
        connection_->respond(id, {{"outcome", {{"outcome", "selected"}, {"optionId", choice.option_id}}}});
    }
    if (!turn_) return;
    PermissionEvent event;
    static_cast<PermissionDecision&>(event) = decision;
    if (const json* options = member(params, "options")) event.options = permission_options(*options);
    emit(Event::make_permission(std::move(event), params));
    turn_->permissions.push_back(std::move(decision));
  }

  // ---- terminal/* (harness/acp_terminal.h) -------------------------------------------------

  void start_terminals(const std::vector<std::string>& env) {
    AcpTerminals::Hooks hooks;
    hooks.respond = [this](const json& id, json result) { connection_->respond(id, std::move(result)); };
    hooks.fail = [this](const json& id, int code, const std::string& message) {
      connection_->respond_error(id, {code, message, nullptr});
    };
    hooks.warn = [this](std::string message) { warn(std::move(message)); };
    hooks.decided = [this](PermissionDecision decision, const json& params) {
      if (!turn_) return;
      PermissionEvent event;
      static_cast<PermissionDecision&>(event) = decision;
      emit(Event::make_permission(std::move(event), params));
      turn_->permissions.push_back(std::move(decision));
    };
    terminals_ = std::make_unique<AcpTerminals>(loop_, spec_, env, std::move(hooks));
  }

  AcpTerminals::Scope terminal_scope() const {
    AcpTerminals::Scope scope;
    scope.session_id = session_id_;
    scope.cwd = cwd_;
    scope.roots = fs_roots();
    scope.policy = request_.permissions.value_or(spec_.permissions);
    scope.accepting = turn_ && !turn_->answered && !turn_->cancel_sent && !shutting_down_ &&
                      stop_cause_ == StopCause::none;
    return scope;
  }

  std::vector<fs::path> fs_roots() const {
    std::vector<fs::path> roots;
    auto add = [&roots](const std::string& dir) {
      std::error_code ec;
      fs::path canonical = fs::weakly_canonical(dir, ec);
      if (!ec) roots.push_back(std::move(canonical));
    };
    add(cwd_);
    for (const auto& dir : spec_.extra_dirs) add(dir);
    for (const auto& dir : attachment_dirs_) add(dir);
    for (const auto& dir : turn_dirs_) add(dir);
    return roots;
  }

  // The path the agent named, resolved (symlinks included) and checked against the session's
  // directories; nullopt after answering the request with an error.
  std::optional<fs::path> confined_path(const json& id, const json& params) {
    std::string raw = string_at(params, "path");
    if (raw.empty() || raw[0] != '/') {
      connection_->respond_error(id, {rpc::code::invalid_params, "path must be absolute", nullptr});
      return std::nullopt;
    }
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(raw, ec);
    if (ec || !within(resolved, fs_roots())) {
      warn("refused " + command_name_ + " access to " + parsers::valid_utf8(raw) +
           ": outside the session's directories");
      connection_->respond_error(
          id, {rpc::code::invalid_params, "path is outside the session's directories", nullptr});
      return std::nullopt;
    }
    return resolved;
  }

  // Only regular files: opening a FIFO or a device would block the loop.
  bool regular_or_missing(const json& id, const fs::path& path, bool must_exist) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found && !must_exist) return true;
    if (status.type() == fs::file_type::not_found) {
      connection_->respond_error(id, {rpc::code::resource_not_found, "file not found", nullptr});
      return false;
    }
    if (status.type() != fs::file_type::regular) {
      connection_->respond_error(id, {rpc::code::invalid_params, "not a regular file", nullptr});
      return false;
    }
    if (must_exist && fs::file_size(path, ec) > kMaxServedFileBytes) {
      connection_->respond_error(id, {rpc::code::invalid_params, "file too large", nullptr});
      return false;
    }
    return true;
  }

  void serve_read(const json& id, const json& params) {
    auto path = confined_path(id, params);
    if (!path || !regular_or_missing(id, *path, true)) return;
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      connection_->respond_error(id, {rpc::code::resource_not_found, "file not found", nullptr});
      return;
    }
    std::ostringstream content;
    content << in.rdbuf();
    std::string text = content.str();
    const json* line = member(params, "line");
    const json* limit = member(params, "limit");
    if ((line && line->is_number_integer()) || (limit && limit->is_number_integer())) {
      int64_t first = line && line->is_number_integer() ? std::max<int64_t>(line->get<int64_t>(), 1) : 1;
      int64_t count = limit && limit->is_number_integer() ? limit->get<int64_t>() : INT64_MAX;
      std::string out;
      std::istringstream lines(text);
      int64_t n = 0;
      for (std::string l; count > 0 && std::getline(lines, l);) {
        if (++n < first) continue;
        out += l;
        if (!lines.eof()) out += '\n';
        --count;
      }
      text = std::move(out);
    }
    connection_->respond(id, {{"content", parsers::valid_utf8(text)}});
  }

  void serve_write(const json& id, const json& params) {
    auto path = confined_path(id, params);
    if (!path || !regular_or_missing(id, *path, false)) return;
    std::ofstream out(*path, std::ios::binary | std::ios::trunc);
    out << string_at(params, "content");
    if (!out) {
      connection_->respond_error(id, {rpc::code::internal_error, "cannot write the file", nullptr});
      return;
    }
    connection_->respond(id, json::object());
  }

  // ---- events ------------------------------------------------------------------------------

  void emit_delta(std::string text) {
    if (text.empty()) return;
    if (!turn_->first_delta_ms)
      turn_->first_delta_ms = static_cast<double>(uv_hrtime() - turn_->started_ns) / 1e6;
    turn_->text += text;
    emit(Event::make_text(Event::Kind::delta, std::move(text)));
  }

  void emit(Event event) {
    if (!turn_ || !turn_->on_event) return;
    secrets_.redact(event);
    guarded("the event handler", [&] { turn_->on_event(event); });
  }

  void warn(std::string message) {
    message = secrets_.redact(std::move(message));
    spdlog::debug("{}", message);
    if (turn_ && turn_->on_event) emit(Event::make_text(Event::Kind::warning, message));
    warnings_.push_back(std::move(message));
  }

  /// Keeps the last few messages for the failure evidence (acp_failure_evidence).
  void remember(bool outgoing, std::string_view line) {
    constexpr size_t kKept = 8, kLineBytes = 64u << 10;
    if (last_messages_.size() == kKept) last_messages_.pop_front();
    // A longer message cannot be redacted without reading it whole: only its size is kept.
    last_messages_.emplace_back(!outgoing, line.size() <= kLineBytes
                                               ? std::string(line)
                                               : "(a message of " + std::to_string(line.size()) +
                                                     " bytes)");
  }

  /// The evidence of a failed run: stderr's tail and the last messages (not stdout's tail,
  /// which is JSON-RPC and may be a long listing).
  std::string evidence() const {
    return acp_failure_evidence(
        outcome_ ? outcome_->stderr_tail : std::string(),
        std::vector<std::pair<bool, std::string>>(last_messages_.begin(), last_messages_.end()));
  }

  void record(bool outgoing, std::string_view line) {
    json entry = {{"dir", outgoing ? "out" : "in"},
                  {"tMs", static_cast<double>((uv_hrtime() - started_ns_) / 1000) / 1000.0}};
    json parsed = parsers::parse_untrusted(line);
    if (parsed.is_discarded())
      entry["raw"] = parsers::valid_utf8(std::string(line));
    else
      entry["msg"] = redact_secrets(std::move(parsed));
    secrets_.redact(entry);  // the route's secret values, wherever they turn up
    transcript_ << entry.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    transcript_.flush();
  }

  void arm_idle() {
    // A Session's agent may sit idle between prompts: its idle watchdog runs during turns only.
    const bool in_turn = turn_ && !turn_->answered;
    if (watchdog_.idle_timeout_ms && stop_cause_ == StopCause::none && !shutting_down_ &&
        (one_shot_ ? !(turn_ && turn_->answered) : in_turn))
      idle_timer_.start(*watchdog_.idle_timeout_ms, [this] { interrupt(StopCause::idle_timeout); });
  }

  // ---- the end ------------------------------------------------------------------------------

  void end_turn() {
    if (!turn_) return;
    // The turn's commands end with it; its Result waits until none is left running.
    if (terminals_ && !terminals_->idle()) {
      if (!turn_done_ || ending_turn_) return;
      ending_turn_ = true;
      return terminals_->release_all([this] {
        ending_turn_ = false;
        end_turn();
      });
    }
    if (terminals_) terminals_->release_all();
    if (turn_->noise) emit_delta(turn_->noise->finish());  // what the filter still held back
    if (!turn_done_) return;
    auto done = std::move(turn_done_);
    turn_done_ = nullptr;
    done();
  }

  void fail(Error error) {
    if (!error_) error_ = std::move(error);
    shutdown(true);
  }

  void fail_before_spawn(Error error) {
    temp_dir_.reset();
    Result result;
    result.error = std::move(error);
    result.policy = policy_.report;
    secrets_.redact(result);
    auto finished = std::move(finished_);
    Loop& loop = loop_;
    delete this;
    // Nothing started: the failure still arrives from the loop, never from inside start().
    auto shared = std::make_shared<Result>(std::move(result));
    loop.post([finished = std::move(finished), shared] { finished(std::move(*shared)); });
  }

 public:
  /// Close stdin, give the agent exit_grace to leave, then SIGTERM its group (SIGKILL after the
  /// grace). `now`: skip the wait (errors, deadlines).
  void shutdown(bool now) {
    if (shutting_down_ || process_ == nullptr) return;
    if (!now && !closing_session_) {
      closing_session_ = true;
      if (close_session([this] { shutdown(false); })) return;
    }
    shutting_down_ = true;
    cancel_pending_requests();
    start_timer_.stop();
    idle_timer_.stop();
    total_timer_.stop();
    if (terminals_) terminals_->kill_all();
    process_->close_stdin();
    if (now && stop_cause_ != StopCause::none) {
      process_->stop(stop_cause_);
      return;
    }
    phase_timer_.start(now ? 0 : spec_.exit_grace_ms, [this] {
      if (process_) process_->stop(StopCause::none);
    });
  }

  /// Sends `method` to the agent for a caller of its own (`drover sessions`); an auth_required
  /// answer is retried once after authenticate, as session/new is. `done` runs once with the
  /// result or the error (also when the agent goes before answering).
  void call(const std::string& method, json params,
            std::function<void(json, std::optional<Error>)> done, bool after_auth = false) {
    if (!connection_ || !alive()) {
      auto shared = std::make_shared<std::function<void(json, std::optional<Error>)>>(std::move(done));
      loop_.post([shared, name = command_name_] {
        (*shared)(json(), Error::make(ErrorCode::harness_error, name + " is shutting down"));
      });
      return;
    }
    json retry_params = params;
    connection_->request(method, std::move(params), [this, method, after_auth, done = std::move(done),
                                                     retry_params = std::move(retry_params)](
                                                        json result,
                                                        std::optional<rpc::RpcError> error) mutable {
      if (error && error->code == rpc::code::auth_required && !after_auth && !authenticated_) {
        auto shared = std::make_shared<std::function<void(json, std::optional<Error>)>>(std::move(done));
        return authenticate([this, method, shared, retry_params = std::move(retry_params)]() mutable {
          call(method, std::move(retry_params), std::move(*shared), true);
        });
      }
      if (!error) return done(std::move(result), std::nullopt);
      ErrorCode code = ErrorCode::harness_error;
      if (error->code == rpc::code::method_not_found) code = ErrorCode::unsupported_capability;
      if (error->code == rpc::code::auth_required) code = ErrorCode::auth_error;
      done(json(), Error::make(code, command_name_ + " failed " + method + ": " +
                                         (error->code == rpc::code::connection_closed
                                              ? parsers::valid_utf8(error->message)
                                              : rpc_error_text(*error))));
    });
  }

  /// Keeps the session's lock until the agent is gone.
  void hold(SessionLock lock) { session_lock_.emplace(std::move(lock)); }
  const std::string& session_id() const { return session_id_; }
  const json& session_result() const { return session_result_; }
  /// Where a prompt's attachments are staged: relative paths resolve against the workspace; in
  /// clean mode they go under the agent's fresh cwd (empty otherwise).
  const std::string& workspace() const { return workspace_; }
  std::string clean_cwd() const { return temp_dir_ ? cwd_ : std::string(); }

 private:
  /// The open session's session/close, when the agent advertises it, then `next` once it is
  /// answered (whatever the answer) or after the cancel grace. False, and nothing sent, when
  /// there is no session to close.
  bool close_session(std::function<void()> next) {
    if (session_id_.empty() || session_closed_ || !connection_ || connection_->closed() ||
        !has_capability({"sessionCapabilities", "close"}))
      return false;
    session_closed_ = true;
    auto once = std::make_shared<std::function<void()>>(std::move(next));
    auto run = [once] {
      if (!*once) return;
      auto f = std::move(*once);
      *once = nullptr;
      f();
    };
    connection_->request("session/close", {{"sessionId", session_id_}},
                         [this, run](json, std::optional<rpc::RpcError> error) {
                           if (error && error->code == rpc::code::connection_closed) return;
                           // Closing a session the agent no longer knows is no failure.
                           if (error && error->code != rpc::code::resource_not_found)
                             warn(command_name_ + " failed session/close: " + rpc_error_text(*error));
                           close_timer_.stop();
                           run();
                         });
    close_timer_.start(spec_.cancel_grace_ms, run);
    return true;
  }

  /// A pooled run's session is closed as the run ends (the agent stays): nobody waits for the
  /// answer.
  void close_pooled_session() {
    if (session_id_.empty() || session_closed_ || !alive() ||
        !has_capability({"sessionCapabilities", "close"}))
      return;
    session_closed_ = true;
    connection_->request("session/close", {{"sessionId", session_id_}}, nullptr);
  }

  /// drover gives up on every request of its own still waiting for an answer: each gets a
  /// `$/cancel_request`, and an answer that still comes is dropped without a word.
  void cancel_pending_requests() {
    if (!connection_ || connection_->closed()) return;
    for (int64_t id : connection_->pending_ids()) {
      connection_->abandon(id);
      connection_->notify("$/cancel_request", {{"requestId", id}});
    }
  }

  void process_finished(ProcessOutcome&& outcome) {
    process_ = nullptr;
    if (terminals_ && !terminals_->idle()) {
      // The agent is gone: its commands go too, and the run ends once none is left.
      auto kept = std::make_shared<ProcessOutcome>(std::move(outcome));
      return terminals_->release_all([this, kept] { process_finished(std::move(*kept)); });
    }
    const std::string excerpt = failure_excerpt(outcome.stderr_tail, "");
    std::string how = outcome.info.term_signal
                          ? "was killed by " + signal_name(*outcome.info.term_signal)
                          : "exited with code " + std::to_string(outcome.info.exit_code.value_or(-1));
    const bool answered = turn_ && turn_->answered;
    connection_->close(command_name_ + " " + how);
    if (outcome.error && !error_) error_ = outcome.error;  // one of its callbacks threw
    if (!error_ && !answered && stop_cause_ == StopCause::none && !shutting_down_) {
      died_ = outcome.info.stopped_by == StopCause::none;  // not killed by drover (kill_all)
      error_ = Error::make(classify_failure_message(excerpt),
                           command_name_ + " " + how + " before answering" +
                               (excerpt.empty() ? "" : ": " + excerpt));
    }
    for (auto& w : outcome.warnings) warnings_.push_back(std::move(w));
    outcome_ = std::move(outcome);
    staged_.reset();
    temp_dir_.reset();
    if (transcript_.is_open()) transcript_.close();
    end_turn();
    if (run_done_) finish_run(build_result());  // a pooled run still setting up its session
    Result result = build_result();
    if (control_) control_->set_stage(nullptr);  // the agent is gone
    auto finished = std::move(finished_);
    delete this;
    finished(std::move(result));
  }

  Result build_result();

 public:
  /// The Result of the turn that just ended (its text, usage, permissions, error); the agent is
  /// ready for the next prompt. Also used for the last turn when the process is gone.
  Result take_turn_result();
  bool alive() const { return process_ != nullptr && !shutting_down_; }
  /// Model discovery: no prompt follows, so a policy the route cannot enforce is no reason to
  /// refuse the handshake.
  void for_discovery() { discovery_only_ = true; }
  /// `drover check`: the handshake ends with initialize's answer, which `ready` then finds in
  /// initialize_result().
  void for_probe() {
    discovery_only_ = true;
    probe_only_ = true;
  }
  const json& initialize_result() const { return initialize_result_; }

 private:

  const bool one_shot_;
  bool pooled_ = false;
  bool died_ = false;  // the process ended by itself, before answering
  // The pooled run in progress (begin_run): its attachments, events and completion.
  const StagedAttachments* run_staged_ = nullptr;
  EventHandler run_events_;
  std::function<void(Result&&, bool)> run_done_;
  bool discovery_only_ = false;
  bool probe_only_ = false;
  json initialize_result_;
  PolicyGate policy_;
  bool policy_mode_set_ = false;  // policyModes: session/set_mode was sent
  bool title_set_ = false;        // session/set_title was sent
  size_t config_options_set_ = 0;  // configOptions sent so far in this session
  bool system_delivered_ = false;  // the system prompt went (args, sessionMeta, a prompt) or was warned about
  bool system_in_args_ = false;    // the agent was spawned with it ({system} in args)
  bool new_session_ = true;        // the session came from session/new (not resume or load)
  std::deque<std::pair<bool, std::string>> last_messages_;  // for the failure evidence
  Loop& loop_;
  Route route_;
  const AcpSpec& spec_;
  RunRequest request_;
  Secrets secrets_;  // the route's: kept out of results, warnings, logs and the transcript
  WatchdogSpec watchdog_;
  std::string command_name_;
  std::string workspace_, cwd_;
  std::optional<TempDir> temp_dir_;
  bool staging_ = false;                      // a one-shot run's attachments are being staged
  std::optional<StagedAttachments> staged_;   // a one-shot run's attachments
  std::vector<std::string> attachment_dirs_;  // theirs, outside the cwd (workspace mode)
  std::vector<std::string> turn_dirs_;        // a Session prompt's, while its turn runs
  std::optional<SessionLock> session_lock_;
  std::ofstream transcript_;
  std::unique_ptr<rpc::Connection> connection_;
  Process* process_ = nullptr;
  std::unique_ptr<AcpTerminals> terminals_;  // terminal/*, when the route enables it
  bool ending_turn_ = false;  // end_turn waits for the turn's commands to be gone
  uint64_t stop_hook_ = 0;
  uint64_t started_ns_ = 0;
  LoopTimer start_timer_, idle_timer_, total_timer_, phase_timer_;
  LoopTimer close_timer_;  // the wait for session/close's answer

  json agent_caps_ = json::object();
  json auth_methods_;
  bool authenticated_ = false;    // authenticate succeeded once
  bool session_closed_ = false;   // session/close was sent for session_id_
  bool closing_session_ = false;  // a graceful shutdown has had its session/close
  std::string session_id_;
  json session_result_;
  std::string model_;
  bool replaying_ = false;
  double session_cost_ = 0;  // the session's running cost before the current turn

  std::unique_ptr<Turn> turn_;
  std::function<void()> turn_done_;
  bool shutting_down_ = false;
  StopCause stop_cause_ = StopCause::none;
  std::optional<Error> error_;
  std::vector<std::string> warnings_;
  std::optional<ProcessOutcome> outcome_;
  std::function<void()> ready_;
  std::function<void(Result&&)> finished_;
  std::shared_ptr<StageControl> control_;  // one-shot runs
};

Result AcpAgent::build_result() {
  const bool had_turn = turn_ != nullptr;
  Result result = take_turn_result();
  if (outcome_) result.process = outcome_->info;
  if (!result.error && !had_turn)
    result.error = Error::make(ErrorCode::harness_error, command_name_ + " ended before the prompt");
  // Stopping the agent after its answer is the normal end, not evidence of a failure.
  if (result.process) result.process->evidence = result.error ? evidence() : std::string();
  secrets_.redact(result);
  return result;
}

Result AcpAgent::take_turn_result() {
  Result result;
  result.warnings = std::move(warnings_);
  warnings_.clear();
  if (policy_.warning) result.warnings.push_back(*policy_.warning);
  result.policy = policy_.report;
  result.session_id = session_id_.empty() ? std::nullopt : std::optional<std::string>(session_id_);
  if (!model_.empty()) result.model = model_;
  std::unique_ptr<Turn> owned = std::move(turn_);
  turn_dirs_.clear();
  Turn* t = owned.get();
  if (t) {
    if (t->first_delta_ms) result.timings.first_delta_ms = t->first_delta_ms;
    result.text = t->text;
    if (!t->thinking.empty()) result.thinking = t->thinking;
    result.stop_reason = t->stop_reason;
    result.usage = t->usage ? t->usage : t->update_usage;
    // usage_update's cost is the session's running total: the turn's share is the difference
    // to the total before it, known only when the session began in this process.
    if (t->update_cost && !request_.session_id) {
      if (!result.usage) result.usage = Usage{};
      if (!result.usage->cost_usd) result.usage->cost_usd = *t->update_cost - session_cost_;
    }
    if (t->update_cost) session_cost_ = *t->update_cost;
    if (result.usage && result.usage->calls == 0) result.usage->calls = 1;
    result.permissions = t->permissions;
    result.attachments = std::move(t->attachments);
    if (t->noise && t->noise->removed_anything())
      result.warnings.push_back("removed " + std::to_string(t->noise->removed_count()) +
                                " line(s) of harness noise");
  }
  const StopCause cause = t && t->cancel_cause != StopCause::none ? t->cancel_cause : stop_cause_;
  result.error = stop_cause_error(cause, command_name_, watchdog_,
                                  "did not finish the ACP handshake within the start timeout",
                                  "sent nothing for the idle timeout");
  if (!result.error && error_ && (!t || !t->answered)) result.error = error_;
  if (!result.error && t && t->error) result.error = std::move(t->error);
  if (!result.error && t) {
    const auto& reason = t->stop_reason;
    const bool all_denied =
        !t->permissions.empty() &&
        std::all_of(t->permissions.begin(), t->permissions.end(),
                    [](const PermissionDecision& d) { return d.decision != "allowed"; });
    if (reason == "cancelled") {
      result.error = Error::make(ErrorCode::aborted, command_name_ + " cancelled the turn");
    } else if (reason == "refusal") {
      result.error = Error::make(ErrorCode::harness_error, command_name_ + ": the model refused");
    } else if (all_denied) {
      result.error = Error::make(ErrorCode::permission_denied,
                                 "every permission request of the turn was denied (" +
                                     std::to_string(t->permissions.size()) + ")");
    } else if (t->noise && t->noise->only_noise() && spec_.noise.fail_on_noise_only) {
      result.error = Error::make(ErrorCode::temporary_unavailable,
                                 command_name_ + " answered with harness noise only");
    } else {
      result.error = empty_answer_error(result.text, command_name_ + " ended the turn without an answer");
    }
    if (reason == "max_tokens") result.warnings.push_back("the answer was cut at the token limit");
  }
  secrets_.redact(result);
  return result;
}

AcpModelReport models_from_session(const json& session_result) {
  AcpModelReport report;
  if (const json* chosen = model_config_option(session_result)) {
    report.source = "configOptions";
    if (auto current = string_at(*chosen, "currentValue"); !current.empty())
      report.current = current;
    std::function<void(const json&)> collect = [&](const json& list) {
      if (!list.is_array()) return;
      for (const auto& entry : list) {
        if (const json* group = member(entry, "options")) {
          collect(*group);
        } else if (auto value = string_at(entry, "value"); !value.empty()) {
          report.models.push_back({value, string_at(entry, "name")});
        }
      }
    };
    if (const json* list = member(*chosen, "options")) collect(*list);
    return report;
  }
  if (const json* legacy = member(session_result, "models")) {
    report.source = "models";
    if (auto current = string_at(*legacy, "currentModelId"); !current.empty())
      report.current = current;
    if (const json* list = member(*legacy, "availableModels"); list && list->is_array())
      for (const auto& m : *list)
        if (auto id = string_at(m, "modelId"); !id.empty())
          report.models.push_back({id, string_at(m, "name")});
  }
  return report;
}

PermissionChoice choose_permission(const AcpSpec& spec, PermissionPolicy policy,
                                   const std::string& tool_kind, const json& options) {
  PermissionChoice choice;
  if (auto rule = spec.permission_rules.find(tool_kind); rule != spec.permission_rules.end()) {
    choice.allowed = rule->second;
    choice.rule = "rule:" + tool_kind;
  } else {
    choice.rule = std::string(to_string(policy));
    choice.allowed = policy == PermissionPolicy::approve_all ||
                     (policy == PermissionPolicy::approve_reads &&
                      (tool_kind == "read" || tool_kind == "search"));
  }
  // Options are picked by kind: their ids differ from agent to agent and version to version.
  const std::vector<std::string> wanted =
      choice.allowed ? std::vector<std::string>{"allow_once", "allow_always"}
                     : std::vector<std::string>{"reject_once", "reject_always"};
  for (const auto& kind : wanted) {
    if (!options.is_array()) break;
    for (const auto& o : options) {
      if (string_at(o, "kind") == kind && !string_at(o, "optionId").empty()) {
        choice.option_id = string_at(o, "optionId");
        return choice;
      }
    }
  }
  return choice;
}

std::optional<std::string> acp_auth_method(const std::optional<std::string>& configured,
                                           const json& offered, std::string& problem) {
  constexpr size_t kMaxListed = 8;
  std::vector<std::string> usable;  // ids the client may send to authenticate
  std::string listed;
  size_t count = 0;
  bool has_literal_auto = false;
  if (offered.is_array()) {
    for (const auto& m : offered) {
      const std::string id = parsers::valid_utf8(string_at(m, "id"));
      if (id.empty()) continue;
      const bool terminal = string_at(m, "type") == "terminal";
      if (!terminal) usable.push_back(id);
      if (id == "auto") has_literal_auto = true;
      if (++count > kMaxListed) continue;
      std::string name = parsers::valid_utf8(string_at(m, "name"));
      if (name.size() > 80) name = name.substr(0, 80) + "…";
      listed += (listed.empty() ? "" : ", ") + id.substr(0, 120);
      if (!name.empty() && name != id) listed += " \"" + name + "\"";
      if (terminal) listed += " (terminal login)";
    }
  }
  if (count > kMaxListed) listed += ", and " + std::to_string(count - kMaxListed) + " more";
  const std::string offered_text =
      listed.empty() ? "the agent offers none" : "methods offered: " + listed;
  if (configured && (*configured != "auto" || has_literal_auto)) return *configured;
  if (configured && usable.size() == 1) return usable.front();
  if (configured)
    problem = "(acp.authMethod \"auto\" needs the agent to offer exactly one method it "
              "authenticates itself; " + offered_text + ")";
  else
    problem = "(" + offered_text + "); set the route's acp.authMethod to one of them, or to "
              "\"auto\" for the only one";
  return std::nullopt;
}

json redact_secrets(json value) {
  static const std::vector<std::string> kSecretWords{"key",        "token",  "secret", "password",
                                                     "authorization", "credential", "cookie"};
  auto secret_name = [](std::string name) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::any_of(kSecretWords.begin(), kSecretWords.end(),
                       [&](const std::string& w) { return name.find(w) != std::string::npos; });
  };
  if (value.is_array()) {
    for (auto& v : value) v = redact_secrets(std::move(v));
  } else if (value.is_object()) {
    const bool pair = value.contains("name") && value["name"].is_string() &&
                      value.contains("value") && secret_name(value["name"].get<std::string>());
    for (auto& [key, v] : value.items()) {
      if (v.is_string() && (secret_name(key) || (pair && key == "value")))
        v = "[redacted]";
      else
        v = redact_secrets(std::move(v));
    }
  }
  return value;
}

namespace {

void begin_acp(Loop& loop, const Route& route, const RunRequest& request, EventHandler on_event,
               ResultHandler on_done, std::shared_ptr<StageControl> control) {
  auto start = [&loop, route, on_event, on_done, control](RunRequest request,
                                                           std::optional<SessionLock> lock) {
    auto* agent = new AcpAgent(loop, route, request);
    agent->set_control(control);
    if (lock) agent->hold(std::move(*lock));
    agent->start(
        [agent, request, on_event]() {
          agent->prompt(request.prompt, nullptr, on_event, nullptr);
        },
        on_done);
  };
  if (!request.session_id) return start(request, std::nullopt);
  // The agent gets what the wait for the session left of the total timeout.
  const WatchdogSpec watchdog = apply_request_timeouts(
      route.account_spec->transport.acp().watchdog.for_run(true), request);
  auto wait = acquire_run_lock(
      loop, route, *request.session_id, watchdog.total_timeout_ms,
      [start, request, on_done, control](std::optional<SessionLock> lock, std::optional<Error> error,
                                         std::optional<int64_t> total_left) {
        control->set_stage(nullptr);
        if (!error) {
          RunRequest waited = request;
          if (total_left) waited.timeout_ms = total_left;
          return start(std::move(waited), std::move(lock));
        }
        Result result;
        result.error = std::move(error);
        on_done(std::move(result));
      });
  control->set_stage([wait](StageControl::Stop) { wait->cancel(); });
}

}  // namespace

std::shared_ptr<RunControl> start_acp(Loop& loop, const TransportAttempt& attempt,
                                      TransportSink sink) {
  auto control = std::make_shared<StageControl>();
  begin_acp(loop, attempt.route, attempt.request, std::move(sink.on_event),
            [control, on_done = std::move(sink.on_done)](Result&& result) {
              control->shape(result);
              control->complete();
              TransportOutcome outcome;
              outcome.calls = result.process ? 1 : 0;
              outcome.result = std::move(result);
              on_done(std::move(outcome));
            },
            control);
  return control;
}

void discover_acp_models(Loop& loop, const Route& route, std::function<void(AcpModelReport)> done) {
  RunRequest request;
  request.model = "";  // report what the agent offers; select nothing
  auto* agent = new AcpAgent(loop, route, request);
  agent->for_discovery();
  auto report = std::make_shared<AcpModelReport>();
  auto ready = std::make_shared<bool>(false);
  agent->start(
      [agent, report, ready] {
        *ready = true;
        *report = models_from_session(agent->session_result());
        agent->shutdown(false);
      },
      [report, ready, done = std::move(done)](Result&& result) {
        for (auto& w : result.warnings) report->warnings.push_back(std::move(w));
        // No prompt was sent, so only a failure before the session was ready counts.
        if (!*ready) report->error = std::move(result.error);
        done(std::move(*report));
      });
}

void probe_acp_agent(Loop& loop, const Route& route, int64_t timeout_ms,
                     std::function<void(AcpProbe)> done) {
  RunRequest request;
  request.timeout_ms = timeout_ms;
  auto* agent = new AcpAgent(loop, route, request);
  agent->for_probe();
  auto probe = std::make_shared<AcpProbe>();
  agent->start(
      [agent, probe] {
        probe->answered = true;
        probe->initialize_result = agent->initialize_result();
        agent->shutdown(true);
      },
      [&loop, probe, done = std::move(done)](Result&& result) mutable {
        if (!probe->answered) probe->error = std::move(result.error);
        // Also a failure to spawn, which start() reports before it returns: always posted.
        loop.post([probe, done = std::move(done)] { done(std::move(*probe)); });
      });
}


void start_acp_control_agent(Loop& loop, const Route& route, int64_t timeout_ms,
                             std::function<void(AcpAgent&, const json&)> ready,
                             std::function<void(Result&&)> gone) {
  RunRequest request;
  request.timeout_ms = timeout_ms;
  auto* agent = new AcpAgent(loop, route, request);
  agent->for_probe();
  agent->start([agent, ready = std::move(ready)] { ready(*agent, agent->initialize_result()); },
               [&loop, gone = std::move(gone)](Result&& result) mutable {
                 auto shared = std::make_shared<Result>(std::move(result));
                 loop.post([shared, gone = std::move(gone)] { gone(std::move(*shared)); });
               });
}

void acp_agent_call(AcpAgent& agent, const std::string& method, json params,
                    std::function<void(json, std::optional<Error>)> done) {
  agent.call(method, std::move(params), std::move(done));
}

void start_pooled_acp_agent(Loop& loop, const Route& route, const RunRequest& request,
                            std::function<void(AcpAgent&)> ready,
                            std::function<void(Result&&)> gone) {
  RunRequest first = request;
  first.session_id.reset();
  first.transcript_path.reset();
  auto* agent = new AcpAgent(loop, route, std::move(first), /*one_shot=*/false);
  agent->for_pool();
  agent->start([agent, ready = std::move(ready)] { ready(*agent); }, std::move(gone));
}

void begin_pooled_acp_run(AcpAgent& agent, RunRequest request, std::string cwd,
                          const StagedAttachments* staged, EventHandler on_event,
                          std::shared_ptr<StageControl> control,
                          std::function<void(Result&&, bool)> done) {
  agent.begin_run(std::move(request), std::move(cwd), staged, std::move(on_event),
                  std::move(control), std::move(done));
}

void shutdown_acp_agent(AcpAgent& agent) { agent.shutdown(false); }

bool acp_agent_alive(const AcpAgent& agent) { return agent.alive(); }

// ---- Session ----------------------------------------------------------------------------------

struct Session::Impl {
  struct Pending {
    uint64_t id = 0;
    std::string text;
    std::vector<Attachment> files;
    EventHandler on_event;
    DoneHandler on_done;
    std::shared_ptr<RunHandle::State> handle;
    std::shared_ptr<StageControl> control;  // the prompt's: withdraws it while queued
    /// The attachments, staged when the prompt's turn comes (for the agent that runs it, whose
    /// cwd holds them in clean mode); removed once its Result is delivered.
    std::optional<StagedAttachments> staged;
    uint64_t staged_for = 0;  // the agent (agent_serial) they were staged for
  };

  const Config& config;
  SessionOptions options;
  Loop loop;
  std::optional<Route> route;
  std::optional<Error> route_error;
  AcpAgent* agent = nullptr;  // owns itself; set to nullptr when it is gone
  uint64_t agent_serial = 0;  // counts the agents started
  bool ready = false;         // the handshake is done
  bool busy = false;          // a handshake or a prompt is in flight
  bool staging = false;       // the front prompt's attachments are being staged
  bool closing = false;
  std::string session_id;
  std::deque<Pending> queue;
  uint64_t next_id = 1;
  size_t posted = 0;  // deliveries posted to the loop and not yet run

  Impl(const Config& c, SessionOptions o) : config(c), options(std::move(o)) {
    // Every agent of the Session adds to one transcript.
    if (options.transcript_path) std::ofstream(*options.transcript_path, std::ios::trunc);
    auto [resolved, error] = config.resolve(options.route);
    if (!resolved) {
      route_error = error;
    } else if (resolved->account_spec->transport.kind != TransportKind::acp) {
      route_error = Error::make(ErrorCode::unsupported_capability,
                                "route " + resolved->id + " is not an ACP route: a Session keeps an "
                                                          "ACP agent alive");
    } else {
      route = *resolved;
    }
    if (options.resume_id) session_id = *options.resume_id;
  }

  /// Hands a prompt its Result (shaped by the stop asked for); its handle is done after this.
  void deliver(Pending& pending, Result result) {
    if (route) result.route = route->id;
    discard(pending.staged);  // the prompt's attachments go before its Result does
    if (pending.control) {
      pending.control->shape(result);
      pending.control->complete();
    }
    if (pending.handle) pending.handle->finish();
    if (pending.on_done)
      guarded("the session's completion handler", [&] { pending.on_done(std::move(result)); });
  }

  /// Delivers from the loop later: for answers decided inside submit() or a RunHandle call.
  void deliver_later(Pending pending, Result result) {
    ++posted;
    pending.control->complete();  // decided: later stops do nothing
    auto shared = std::make_shared<std::pair<Pending, Result>>(std::move(pending), std::move(result));
    loop.post([this, shared] {
      --posted;
      deliver(shared->first, std::move(shared->second));
    });
  }

  RunHandle submit(std::string text, EventHandler on_event, DoneHandler on_done,
                   std::vector<Attachment> files) {
    Pending pending;
    pending.id = next_id++;
    pending.text = std::move(text);
    pending.files = std::move(files);
    pending.on_event = std::move(on_event);
    pending.on_done = std::move(on_done);
    pending.handle = std::make_shared<RunHandle::State>();
    pending.control = std::make_shared<StageControl>();
    const uint64_t id = pending.id;
    pending.control->set_stage([this, id](StageControl::Stop) { withdraw(id); });
    pending.handle->attach(pending.control);
    RunHandle handle(pending.handle);
    queue.push_back(std::move(pending));
    pump();
    return handle;
  }

  /// A queued prompt was cancelled or paused before its turn: it leaves the queue.
  void withdraw(uint64_t id) {
    auto it = std::find_if(queue.begin(), queue.end(), [id](const Pending& p) { return p.id == id; });
    if (it == queue.end()) return;
    Pending pending = std::move(*it);
    queue.erase(it);
    Result r;
    if (!session_id.empty()) r.session_id = session_id;
    r.error = Error::make(ErrorCode::aborted, "the prompt was cancelled before its turn");
    deliver_later(std::move(pending), std::move(r));
  }

  void start_agent() {
    RunRequest request;
    request.model = options.model;
    request.cwd = options.cwd;
    if (!session_id.empty()) request.session_id = session_id;  // continue after a restart too
    request.context_mode = options.context_mode;
    request.permissions = options.permissions;
    request.transcript_path = options.transcript_path;
    request.timeout_ms = options.timeout_ms;
    busy = true;
    ready = false;
    ++agent_serial;
    agent = new AcpAgent(loop, *route, request, /*one_shot=*/false);
    AcpAgent* started = agent;
    agent->start(
        [this, started] {
          ready = true;
          busy = false;
          session_id = started->session_id();
          pump();
        },
        [this](Result&& last) { agent_gone(std::move(last)); });
  }

  void agent_gone(Result last) {
    agent = nullptr;
    const bool handshake_failed = !ready && busy;
    ready = false;
    busy = false;
    if (handshake_failed) {
      // The agent never got ready: every queued prompt fails the same way.
      if (!last.error)
        last.error = Error::make(ErrorCode::harness_error, "the agent ended before its session was ready");
      auto failed = std::move(queue);
      queue.clear();
      for (auto& pending : failed) deliver(pending, last);
      return;
    }
    pump();
  }

  void pump() {
    if (busy || staging || queue.empty()) return;
    if (route_error) {
      // Decided at once (inside submit()): answered from the loop.
      auto failed = std::move(queue);
      queue.clear();
      for (auto& pending : failed) {
        Result r;
        r.error = route_error;
        deliver_later(std::move(pending), std::move(r));
      }
      return;
    }
    if (agent == nullptr) return start_agent();
    if (!ready || !agent->alive()) return;  // agent_gone() pumps again
    Pending& front = queue.front();
    if (!front.files.empty() && front.staged_for != agent_serial) return stage(front);
    busy = true;
    AcpAgent* current = agent;
    const uint64_t id = front.id;
    auto control = front.control;
    current->prompt(front.text, front.staged ? &*front.staged : nullptr, front.on_event,
                    [this, current, id] {
      Result result = current->take_turn_result();
      if (queue.empty() || queue.front().id != id) return;  // close() took the queue and answers it
      Pending pending = std::move(queue.front());
      queue.pop_front();
      busy = false;
      deliver(pending, std::move(result));
      if (agent == current && current->alive()) pump();
    });
    // From here a stop ends this turn only; the agent stays for the next prompt.
    control->set_stage([this, current](StageControl::Stop) {
      if (agent == current) current->stop_turn();
    });
  }

  /// Removes a prompt's staged attachments (the set owns what it made, in the agent's cwd too).
  static void discard(std::optional<StagedAttachments>& staged) { staged.reset(); }

  /// Stages the front prompt's attachments (a stage of its control: a cancel or pause ends it),
  /// then pumps again to send it. A bad attachment fails that prompt only.
  void stage(Pending& front) {
    discard(front.staged);
    RunRequest request;
    request.attachments = front.files;
    const uint64_t id = front.id, serial = agent_serial;
    StagingOptions staging_options =
        acp_staging_options(*route, agent->workspace(), agent->clean_cwd());
    staging = true;
    stage_for_run(loop, front.control, request, std::move(staging_options),
                  [this, id, serial](std::optional<StagedAttachments> staged,
                                     std::optional<Error> error) {
                    staging = false;
                    // close() answers the prompt; a withdrawn one was answered already.
                    if (closing || queue.empty() || queue.front().id != id) return;
                    if (error) {
                      Pending pending = std::move(queue.front());
                      queue.pop_front();
                      Result r;
                      if (!session_id.empty()) r.session_id = session_id;
                      r.error = std::move(error);
                      deliver(pending, std::move(r));
                    } else {
                      queue.front().staged = std::move(staged);
                      queue.front().staged_for = serial;
                    }
                    pump();
                  });
  }

  void close() {
    closing = true;
    // A staging in flight is abandoned (it removes what it copied) before the prompts end.
    if (staging) {
      queue.front().control->cancel();
      loop.run_until([this] { return !staging; });
    }
    // Prompts not answered yet (the one running included) end as aborted once the agent is gone.
    auto unanswered = std::move(queue);
    queue.clear();
    for (auto& pending : unanswered) pending.control->complete();
    if (agent != nullptr) {
      if (agent->alive()) agent->shutdown(false);
      loop.run_until([this] { return agent == nullptr; });
    }
    for (auto& pending : unanswered) {
      Result r;
      r.session_id = session_id.empty() ? std::nullopt : std::optional<std::string>(session_id);
      r.error = Error::make(ErrorCode::aborted, "the session was closed before this prompt ended");
      deliver(pending, std::move(r));
    }
    if (posted > 0) loop.run_until([this] { return posted == 0; });
    closing = false;  // a later prompt starts the session again
  }
};

Session::Session(const Config& config, SessionOptions options)
    : impl_(std::make_unique<Impl>(config, std::move(options))) {}

Session::~Session() { impl_->close(); }

RunHandle Session::submit(std::string text, EventHandler on_event, DoneHandler on_done,
                          std::vector<Attachment> files) {
  return impl_->submit(std::move(text), std::move(on_event), std::move(on_done), std::move(files));
}

void Session::send(std::string text, EventHandler on_event, std::function<void(Result)> on_done,
                   std::vector<Attachment> files) {
  submit(std::move(text), std::move(on_event), std::move(on_done), std::move(files));
}

Result Session::prompt(const std::string& text, const EventHandler& on_event,
                       const std::vector<Attachment>& files) {
  std::optional<Result> out;
  send(text, on_event, [&out](Result r) { out = std::move(r); }, files);
  impl_->loop.run_until([&out] { return out.has_value(); });
  if (!out) {
    out = Result{};
    out->error = Error::make(ErrorCode::harness_error, "the session stopped before answering");
  }
  return std::move(*out);
}

void Session::wait() {
  impl_->loop.run_until(
      [this] { return !impl_->busy && impl_->queue.empty() && impl_->posted == 0; });
}

const std::string& Session::session_id() const { return impl_->session_id; }

void Session::close() { impl_->close(); }

}  // namespace drover
