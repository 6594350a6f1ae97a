// A conversation with one long-lived ACP agent: the handshake happens once, then prompts run one
// at a time, in the order they were sent.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drover/request.h"
#include "drover/config.h"
#include "drover/result.h"

namespace drover {

struct SessionOptions {
  std::string route;  ///< an ACP route (full or partial id); empty: the default route
  std::optional<std::string> model;
  std::optional<std::string> cwd;
  std::optional<std::string> resume_id;  ///< continue this agent session
  std::optional<ContextMode> context_mode;
  std::optional<PermissionPolicy> permissions;
  std::optional<std::string> transcript_path;
  std::optional<int64_t> timeout_ms;  ///< per prompt (default: the route's); 0: no limit
};

/// Keeps one agent process alive across prompts. A prompt sent while another runs is queued and
/// runs after it. If the agent exits between prompts, the next prompt starts it again and resumes
/// the same session (when the agent can). Not thread-safe: use it from one thread. The Config
/// must outlive the Session.
class Session {
 public:
  Session(const Config& config, SessionOptions options);
  /// Closes the agent: session/close where the agent advertises it (its answer awaited up to the
  /// route's cancelGrace), stdin closed, then its process group stopped.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Sends a prompt and returns its Result once the turn is over (starting the agent first when
  /// needed). Earlier queued prompts run first.
  Result prompt(const std::string& text, const EventHandler& on_event = {},
                const std::vector<Attachment>& files = {});
  /// Queues a prompt; `on_done` gets its Result from the loop, during a later prompt() or
  /// wait(), never from inside submit(). The handle's cancel() withdraws a queued prompt (Result
  /// `aborted`) or cancels the running turn only (session/cancel: the agent stays for the next
  /// prompt); pause() does the same keeping the answer so far (no error, stopReason "paused").
  RunHandle submit(std::string text, EventHandler on_event, DoneHandler on_done,
                   std::vector<Attachment> files = {});
  /// submit() without the handle.
  void send(std::string text, EventHandler on_event, std::function<void(Result)> on_done,
            std::vector<Attachment> files = {});
  /// Runs until every queued prompt has its Result.
  void wait();
  /// The agent's session id (empty before the first handshake).
  const std::string& session_id() const;
  /// Stops the agent as the destructor does. Idempotent; later prompts start it again.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drover
