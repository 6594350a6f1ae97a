// What one run is asked to do, the callbacks that receive it, and the handle of a run in
// flight: shared by every way of running a prompt (Client, Session, the transports).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/attachment.h"
#include "drover/config.h"
#include "drover/result.h"

namespace drover {

struct RunRequest {
  std::string prompt;
  std::string route;  ///< full or partial route id; empty: the default route
  std::optional<std::string> model;          ///< overrides the route's model
  std::optional<std::string> system_prompt;
  std::optional<std::string> cwd;            ///< overrides the route's working directory
  std::optional<std::string> session_id;     ///< resume this harness session
  /// ACP routes: the new session's title (session/set_title, where the agent advertises it),
  /// sent before the prompt. An explicit title spares agents that otherwise name a session
  /// with a model turn of their own after its first prompt (codex-acp does).
  std::optional<std::string> session_title;
  /// Staged privately, checked against what the route accepts before anything is spawned or
  /// sent, delivered the route's way, and removed when the run ends (README "Attachments").
  std::vector<Attachment> attachments;
  /// Override the route's watchdogs (milliseconds); 0 switches that watchdog off.
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> idle_timeout_ms;
  std::optional<int64_t> start_timeout_ms;
  std::optional<ContextMode> context_mode;   ///< overrides the route's contextMode
  /// Overrides the route's `ephemeral`: true leaves no session files (no session id in the
  /// result), false keeps the session resumable even in clean mode.
  std::optional<bool> ephemeral;
  /// The permission policy of a harness run (print mode and ACP): overrides the ACP route's
  /// own; unset: that, else approve-reads. A route that cannot enforce it refuses the run.
  std::optional<PermissionPolicy> permissions;
  /// ACP routes: every JSON-RPC message both ways, as NDJSON, to this file (secrets redacted).
  std::optional<std::string> transcript_path;
  /// The answer must be JSON valid against this schema: API routes send it as the provider's
  /// response format (OpenAI json_schema, Gemini responseSchema, Anthropic as instructions).
  std::optional<nlohmann::json> json_schema;
  /// Fan-out limits for this request, field by field over the route's and the client's.
  FanoutLimits fanout;
  /// The caller consumes deltas as they come: print-mode routes with a streaming variant use it.
  bool stream = false;
};

/// Called for every event, in order, on the thread running the request.
using EventHandler = std::function<void(const Event&)>;
/// Called once with a submitted run's Result.
using DoneHandler = std::function<void(Result)>;

/// A submitted run (Client::submit, Session::submit). Copies refer to the same run; dropping
/// every copy does not stop it. Use from the thread that drives the run's loop.
class RunHandle {
 public:
  RunHandle() = default;
  /// Ends the run and discards it: its Result has error `aborted`. Does nothing once done.
  void cancel() const;
  /// Ends the run keeping the answer so far: its Result has the text until then, no error and
  /// `stopReason` "paused". Does nothing once done.
  void pause() const;
  /// Whether the run's Result has been delivered.
  bool done() const noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  struct State;  ///< private (src/transport/run_handle.h)
  explicit RunHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

}  // namespace drover
