// ACP transport: a long-lived agent speaking the Agent Client Protocol (JSON-RPC 2.0, one message
// per line) on its stdio. One AcpAgent is one agent process with one session; prompts on it run
// one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/request.h"
#include "drover/config.h"
#include "src/transport/transport.h"
#include "staging/attachments.h"

namespace drover {

class Loop;

/// Runs `request` once through the ACP route `route` on `loop`: spawn, initialize, session (new,
/// resume or load), model selection, one prompt, shutdown. `on_done` runs exactly once, after the
/// agent's process group is gone and its temporary files removed; same contract as
/// start_print_mode.
std::shared_ptr<RunControl> start_acp(Loop& loop, const TransportAttempt& attempt,
                                      TransportSink sink);

class AcpAgent;
class StageControl;

/// Pooled agents (harness/acp_pool.h). An agent owns itself and is gone after `gone` has run.
/// Spawns the route's agent as a run of `request` would (its environment, arguments, context
/// mode, policy and working directory; a clean run's agent gets a fresh directory of its own for
/// its life) and sends initialize; `ready` gets the agent, idle, without a session. `gone` runs
/// once, after the process group is gone (also for a failure before the spawn, posted).
void start_pooled_acp_agent(Loop& loop, const Route& route, const RunRequest& request,
                            std::function<void(AcpAgent&)> ready,
                            std::function<void(Result&&)> gone);
/// Runs `request` on an idle pooled agent in a fresh session in `cwd` (session/new, model
/// selection, the policy's mode, the prompt with `staged`, the caller's until `done`). `done`
/// runs once, from the loop: when the turn is over (the agent is idle again) or the agent is
/// gone, `died` telling whether it ended by itself (not stopped by drover). `control`'s stops
/// cancel the turn (the agent stays) or, before the turn, stop the agent.
void begin_pooled_acp_run(AcpAgent& agent, RunRequest request, std::string cwd,
                          const StagedAttachments* staged, EventHandler on_event,
                          std::shared_ptr<StageControl> control,
                          std::function<void(Result&&, bool died)> done);
/// Closes the agent's stdin and stops its group after the route's exit grace.
void shutdown_acp_agent(AcpAgent& agent);
/// Still running and not being shut down.
bool acp_agent_alive(const AcpAgent& agent);

/// What an agent advertises for model selection after session/new.
struct AcpModelReport {
  struct Model {
    std::string id;
    std::string name;
  };
  std::vector<Model> models;
  std::optional<std::string> current;
  std::string source;  ///< "configOptions", "models" (legacy) or "" when none was advertised
  std::vector<std::string> warnings;
  std::optional<Error> error;
};

/// Handshake to session/new, read the advertised models and the current one, close the agent.
void discover_acp_models(Loop& loop, const Route& route, std::function<void(AcpModelReport)> done);

/// What `drover check` learns from an ACP agent: its answer to initialize.
struct AcpProbe {
  bool answered = false;           ///< initialize was answered (whatever the protocol version)
  nlohmann::json initialize_result;  ///< the answer's result (agentInfo names the agent)
  std::optional<Error> error;      ///< why there is no answer (spawn failure, timeout, exit)
};

/// Spawns the ACP route's agent as a run would (environment, arguments, working directory), sends
/// initialize, and stops the agent's process group as soon as the answer is in; no session is
/// made. `timeout_ms` bounds the whole probe (error `timeout`). `done` runs once, posted on the
/// loop (never before this returns), after the process is gone.
void probe_acp_agent(Loop& loop, const Route& route, int64_t timeout_ms,
                     std::function<void(AcpProbe)> done);

/// The models a session/new (or load/resume) result advertises: the `configOptions` select with
/// category "model" (id "model" preferred), else the legacy `models` block.
AcpModelReport models_from_session(const nlohmann::json& session_result);

/// The advertised model a requested name stands for: the route's modelAliases first (`how`
/// "alias", the alias's target, advertised or not), then an advertised id equal to it ("id"),
/// then an advertised model whose name is ("name"), then one whose id is a runtime id
/// (`$runtime|provider|model(provider)`) ending in that model ("runtime"). No match: the name
/// itself and `how` empty.
struct AcpModelMatch {
  std::string id;
  std::string how;
};
AcpModelMatch match_acp_model(const std::string& requested,
                              const std::vector<AcpModelReport::Model>& offered,
                              const std::map<std::string, std::string>& aliases);

/// What a print-mode route discovering through this ACP sidecar can pass on for an advertised
/// model (README "Model discovery"): an alias of the sidecar route naming it, else, for a
/// runtime id (one holding '|'), its name when that is one word, else the model part of the
/// id; else the id itself.
std::string passable_model_id(const AcpModelReport::Model& model,
                              const std::map<std::string, std::string>& aliases);

/// Decides a permission request by policy and rules. Returns the option to select (empty when
/// none fits: the caller answers "cancelled"), whether the request is allowed, and what decided.
struct PermissionChoice {
  bool allowed = false;
  std::string option_id;
  std::string rule;
};
PermissionChoice choose_permission(const AcpSpec& spec, PermissionPolicy policy,
                                   const std::string& tool_kind, const nlohmann::json& options);

/// What the agent takes in a prompt besides text and resource links (initialize's
/// agentCapabilities.promptCapabilities).
struct AcpPromptCapabilities {
  bool image = false;
  bool embedded_context = false;
};
/// A session/prompt's `prompt` array: the text, then one block per staged attachment, and how
/// each went (AttachmentReport::delivery). A remote reference is a resource_link to its URL
/// (`link`). A PNG, JPEG, GIF or WebP image goes as an `image` block (`image`) when the agent
/// takes images; valid UTF-8 text as a text `resource` and a PDF as a blob `resource`
/// (`resource`) when it takes embedded context; anything else, and whatever is over the size
/// limits (10 MiB per attachment, 20 MiB embedded per prompt), as a resource_link to the staged
/// copy with its name, MIME type and size (`link`).
struct AcpPrompt {
  nlohmann::json blocks;
  std::vector<std::string> deliveries;
};
AcpPrompt acp_prompt_blocks(const std::string& text, const std::vector<StagedAttachment>& files,
                            const AcpPromptCapabilities& caps);

/// The staging of an ACP run's attachments: every category, remote https:// references of every
/// category too (they go as resource_links), copies on disk for the links and bytes in memory for
/// the blocks; in clean mode under the run's fresh cwd (`clean_cwd`; empty in workspace mode),
/// unless they are to be kept: the cwd goes with the agent.
StagingOptions acp_staging_options(const Route& route, const std::string& workspace,
                                   const std::string& clean_cwd);

/// The method to authenticate with when an ACP agent asks for it (-32000): the route's
/// acp.authMethod as it is; "auto": the one method the agent offers to `authenticate` (a method
/// of type "terminal" is a login a person runs in a terminal, never sent). nullopt, with
/// `problem` naming the methods offered (ids and names, at most 8), when there is none to use.
std::optional<std::string> acp_auth_method(const std::optional<std::string>& configured,
                                           const nlohmann::json& offered, std::string& problem);

/// `drover sessions`: the route's agent, started as probe_acp_agent starts it and initialized
/// (no session is made), for requests about the sessions it keeps. `ready` gets the agent and
/// initialize's result; the caller sends requests with acp_agent_call() and ends with
/// shutdown_acp_agent(). `timeout_ms` bounds the whole exchange (0: no limit). `gone` runs once,
/// posted, after the process is gone; its Result's error says why it ended early, if it did.
void start_acp_control_agent(Loop& loop, const Route& route, int64_t timeout_ms,
                             std::function<void(AcpAgent&, const nlohmann::json&)> ready,
                             std::function<void(Result&&)> gone);
/// Sends a request to a control agent. An auth_required answer is retried once after
/// authenticate (acp.authMethod, as for session/new). `done` runs once, from the loop, with the
/// result or the error: unsupported_capability for -32601, auth_error, else harness_error. A
/// request still pending when the agent is stopped (its timeout, Ctrl-C) gets a
/// `$/cancel_request` and its `done` never runs: `gone` says why the agent ended.
void acp_agent_call(AcpAgent& agent, const std::string& method, nlohmann::json params,
                    std::function<void(nlohmann::json, std::optional<Error>)> done);

/// `value` with every member whose name looks like a secret (key, token, secret, password,
/// authorization, credential, cookie) replaced by "[redacted]", also in {name, value} pairs.
nlohmann::json redact_secrets(nlohmann::json value);

}  // namespace drover
