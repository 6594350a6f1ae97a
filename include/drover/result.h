// The one result model every transport produces, and the events that precede it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace drover {

/// Stable error codes. Their spelling (`to_string`) is part of the JSON result and is pinned.
enum class ErrorCode {
  validation_error,        ///< bad input: argv, prompt, request rejected as malformed
  config_error,            ///< bad or missing configuration
  not_found,               ///< the harness command is not installed / not on PATH
  unsupported_capability,  ///< the route cannot do what was asked
  timeout,                 ///< a watchdog fired (start, idle or total)
  aborted,                 ///< cancelled by the caller (Ctrl-C, SIGTERM, API cancel)
  temporary_unavailable,   ///< transient failure worth retrying (5xx, noise-only turn, reset)
  rate_limit,              ///< the provider said slow down
  quota_exhausted,         ///< billing / quota exhausted
  auth_error,              ///< credentials missing or rejected
  harness_error,           ///< the harness failed in a way none of the above describes
  fanout_limit,            ///< the client-side concurrency / call ceiling refused the call
  context_overflow,        ///< the prompt does not fit the model's context window
  permission_denied,       ///< every permission request of the turn was denied
};

/// "validation_error", ... exactly as serialized.
std::string_view to_string(ErrorCode code) noexcept;
/// Parses the serialized spelling; nullopt when unknown.
std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept;
/// Whether a failure with this code is worth retrying by default.
bool default_retryable(ErrorCode code) noexcept;

/// Longest error message kept, in bytes (like a run's evidence): harnesses and providers may put
/// megabytes into one error string.
inline constexpr std::size_t kMaxErrorMessageBytes = 4096;
/// `message` cut to its first kMaxErrorMessageBytes (at a UTF-8 character boundary), followed by
/// " … [N more bytes cut]" when anything was cut.
std::string bounded_error_message(std::string message);
/// Process exit code for a failed run with this code (README "Exit codes").
int exit_code_for(ErrorCode code) noexcept;
/// The name of signal `signum` for messages: "SIGKILL", "SIGTERM", ..., or "signal N" when it has
/// no name.
std::string signal_name(int signum);

struct Error {
  ErrorCode code = ErrorCode::harness_error;
  std::string message;  ///< human readable; never contains a secret
  bool retryable = false;
  std::optional<int64_t> retry_after_ms;  ///< from Retry-After and the like, when known

  static Error make(ErrorCode code, std::string message) {
    return Error{code, bounded_error_message(std::move(message)), default_retryable(code),
                 std::nullopt};
  }
};

/// Token accounting as the harness or provider reported it. Every field is optional: nothing is
/// ever estimated, and a Result without any reported usage has no Usage at all.
struct Usage {
  std::optional<int64_t> input_tokens;
  std::optional<int64_t> output_tokens;
  std::optional<int64_t> total_tokens;
  std::optional<int64_t> cache_read_tokens;
  std::optional<int64_t> cache_write_tokens;
  std::optional<int64_t> reasoning_tokens;
  std::optional<double> cost_usd;
  int64_t calls = 0;  ///< real model calls this usage covers (0 when unknown)

  bool empty() const noexcept;
  /// Adds another report into this one (sums present fields).
  void add(const Usage& other);
};

/// Which watchdog stopped the process, or why it was stopped.
enum class StopCause { none, start_timeout, idle_timeout, total_timeout, cancelled, shutdown };
std::string_view to_string(StopCause cause) noexcept;

/// What the OS told us about one child process. Raw facts only: no interpretation.
struct ProcessInfo {
  int64_t pid = 0;
  std::optional<int> exit_code;    ///< set when the process exited normally
  std::optional<int> term_signal;  ///< set when a signal ended it
  StopCause stopped_by = StopCause::none;
  std::optional<int> stop_signal_sent;  ///< last signal drover sent to the group (SIGTERM/SIGKILL)
  double wall_ms = 0;
  std::optional<double> first_byte_ms;  ///< time from spawn to the first byte on stdout or stderr
  std::optional<double> cpu_user_ms;
  std::optional<double> cpu_system_ms;
  std::optional<int64_t> peak_rss_kb;
  bool output_held_open = false;  ///< pipes stayed open after exit (a descendant kept them)
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  bool stdout_truncated = false;  ///< more than the cap arrived; only the tail is kept
  bool stderr_truncated = false;
  /// Last lines of output (at most 20 lines / 4 KiB), kept as evidence when a watchdog fired
  /// or the process failed.
  std::string evidence;
};

/// One try at answering the request (the router may try several routes or credentials).
struct Attempt {
  std::string route;
  std::string transport;  ///< "cli", "acp", "api"
  double duration_ms = 0;
  std::optional<Error> error;
  std::optional<ProcessInfo> process;
};

struct Timings {
  std::string started_at;  ///< RFC 3339, UTC
  double wall_ms = 0;
  std::optional<double> first_delta_ms;  ///< time to the first answer byte / delta
};

/// How one permission request of an ACP agent was answered.
struct PermissionDecision {
  std::string tool_call_id;
  std::string title;
  std::string kind;        ///< the tool kind the agent gave (read, execute, …), may be empty
  std::string decision;    ///< "allowed", "denied" or "cancelled"
  std::string option_id;   ///< the option picked (empty when cancelled or none fitted)
  std::string rule;        ///< what decided: the policy name or "rule:<kind>", or "cancel"
};

/// How the run's permission policy was enforced (print mode and ACP).
struct PolicyReport {
  std::string requested;    ///< approve-all, approve-reads, deny-all
  std::string enforcement;  ///< agent-asks, mapped, none
  std::string mechanism;    ///< the harness's own mechanism, or why nothing enforced it
};

/// The outcome of one request, whichever transport answered it.
/// One attachment of a run as it was delivered (README "Attachments").
struct AttachmentReport {
  std::string name;      ///< the name the harness or model saw (sanitized)
  std::string source;    ///< as given: the path, the URL, "data:" for a data URL, "-" for stdin
  std::string category;  ///< image, document, text, other
  std::string mime;      ///< e.g. image/png
  int64_t bytes = 0;     ///< size of the content (0 for a remote reference)
  /// How it reached the model: args (argv of a print-mode harness), prompt (a mention of the
  /// staged path in the prompt), image / document (a content block with the bytes), text (inline
  /// as text), resource (an ACP embedded resource), link (a reference: an ACP resource_link or a
  /// remote URL passed on).
  std::string delivery;
  std::optional<std::string> kept_at;  ///< staged copy kept for debugging (`keep: true`)
};

struct Result {
  std::string text;
  std::optional<std::string> thinking;
  std::optional<Usage> usage;
  std::string route;
  std::string model;
  std::optional<std::string> stop_reason;
  std::optional<std::string> session_id;
  std::vector<std::string> warnings;
  std::vector<Attempt> attempts;
  Timings timings;
  std::optional<ProcessInfo> process;  ///< the last attempt's process, when one ran
  std::vector<PermissionDecision> permissions;  ///< ACP: every permission request answered
  std::optional<PolicyReport> policy;  ///< harness routes: how the permission policy was enforced
  std::vector<AttachmentReport> attachments;  ///< every attachment of the run, in request order
  std::optional<Error> error;

  bool ok() const noexcept { return !error.has_value(); }
  /// Exit status the CLI uses for this result: 0 on success, else `exit_code_for(error->code)`.
  int exit_code() const noexcept;
};

/// One tool call as the transport saw it: ACP tool_call / tool_call_update merged by id, a tool call
/// an API model asked for, or the tool items of a print-mode harness's JSON stream. Each tool event
/// carries the call's whole state so far (a later event for the same id replaces an earlier one).
struct ToolCall {
  std::string id;
  std::string name;    ///< the tool's name or title as given (may be empty)
  std::string kind;    ///< read, edit, delete, move, search, execute, think, fetch or other
  std::string status;  ///< pending, in_progress, completed or failed
  nlohmann::json arguments;  ///< the input the tool was given (null when unknown)
  nlohmann::json result;     ///< its output: text, JSON, or null while there is none
};

/// One option an agent offered in a permission request.
struct PermissionOption {
  std::string option_id;
  std::string name;
  std::string kind;  ///< allow_once, allow_always, reject_once, reject_always
};

/// A permission request of an agent and how it was answered: one event, sent once decided.
struct PermissionEvent : PermissionDecision {
  std::vector<PermissionOption> options;  ///< what the agent offered, in its order
};

/// One entry of an agent's plan (ACP `plan` update): what it means to do, in its order.
struct PlanEntry {
  std::string content;
  std::string priority;  ///< high, medium or low (as sent)
  std::string status;    ///< pending, in_progress or completed (as sent)
};

/// Events streamed while a request runs, in order. The last one a consumer sees is the Result.
/// The same kinds and fields whichever transport answers (print mode, ACP, API).
struct Event {
  /// progress: a harness's notice that it is still at work (a retry after a rate limit, a
  /// step starting): `text` says what, `raw` is the harness's line. Never part of the answer.
  enum class Kind { delta, thinking, tool, permission, usage, warning, plan, progress };
  Kind kind = Kind::delta;
  std::string text;                           ///< delta / thinking text, warning / progress message
  std::optional<ToolCall> tool;               ///< tool
  std::optional<PermissionEvent> permission;  ///< permission
  std::optional<Usage> usage;  ///< usage: normalized; absent when nothing in the report was
  /// plan: the agent's whole plan as it stands (each plan event replaces the one before).
  std::vector<PlanEntry> plan;
  /// tool / permission / usage / plan / progress: the agent's or provider's JSON the event was read from
  /// (null when there was none). Never interpreted by drover beyond the fields above.
  nlohmann::json raw;

  static Event make_text(Kind kind, std::string text) {
    Event e;
    e.kind = kind;
    e.text = std::move(text);
    return e;
  }
  static Event make_tool(ToolCall call, nlohmann::json raw = nullptr) {
    Event e;
    e.kind = Kind::tool;
    e.tool = std::move(call);
    e.raw = std::move(raw);
    return e;
  }
  static Event make_permission(PermissionEvent permission, nlohmann::json raw = nullptr) {
    Event e;
    e.kind = Kind::permission;
    e.permission = std::move(permission);
    e.raw = std::move(raw);
    return e;
  }
  static Event make_usage(std::optional<Usage> usage, nlohmann::json raw = nullptr) {
    Event e;
    e.kind = Kind::usage;
    e.usage = std::move(usage);
    e.raw = std::move(raw);
    return e;
  }
  static Event make_plan(std::vector<PlanEntry> plan, nlohmann::json raw = nullptr) {
    Event e;
    e.kind = Kind::plan;
    e.plan = std::move(plan);
    e.raw = std::move(raw);
    return e;
  }
};
std::string_view to_string(Event::Kind kind) noexcept;

// JSON forms (README "Result JSON"). Keys are camelCase; absent optionals are omitted, except
// `error` and `usage`, which are always present (null when absent).
nlohmann::json to_json(const Usage& usage);
nlohmann::json to_json(const Error& error);
nlohmann::json to_json(const ProcessInfo& info);
nlohmann::json to_json(const Attempt& attempt);
nlohmann::json to_json(const Result& result);
nlohmann::json to_json(const ToolCall& call);
nlohmann::json to_json(const PermissionDecision& decision);
nlohmann::json to_json(const PermissionEvent& permission);
/// `--output jsonl` event lines (README "Commands"): delta/thinking `{"type","text"}`, warning
/// `{"type","message"}`, progress `{"type","message","raw"}`; tool, permission and usage `{"type", <type>: {...}, "raw"}`; plan
/// `{"type":"plan", "plan": {"entries": [{content, priority, status}]}, "raw"}`.
nlohmann::json to_json(const Event& event);

}  // namespace drover
