// The `session/update` notifications of ACP agents, read into what drover's one event stream
// needs. Pure: no I/O, tested on recorded agent output.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/parser_spec.h"
#include "drover/result.h"

namespace drover {

struct AcpUpdate {
  /// `state`: current_mode_update, session_info_update, available_commands_update (read,
  /// nothing to surface); `config`: config_option_update (`data` holds it).
  enum class Kind { message, thought, tool, usage, plan, config, state, other };
  Kind kind = Kind::other;
  std::string name;          ///< the sessionUpdate discriminator as sent
  std::string text;          ///< message / thought: the text of a text content block
  std::string tool_call_id;  ///< tool: the call it is about
  std::string tool_kind;     ///< tool: read, edit, execute, … when given
  std::optional<double> cost_usd;  ///< usage: cumulative cost, when reported in USD
  std::optional<Usage> usage;      ///< usage: the report normalized (the cost, when in USD)
  nlohmann::json data;       ///< tool / usage / plan / config: the update as sent
  std::vector<PlanEntry> plan;  ///< plan: its entries (objects without content skipped)
};

/// Reads one `update` object (the `params.update` of a session/update). Chunks whose content is
/// not a text block (images, resources) carry no text. Invalid UTF-8 is replaced.
AcpUpdate read_session_update(const nlohmann::json& update);

/// Folds one tool_call / tool_call_update (or the `toolCall` of a permission request) into the
/// call's state so far: fields the update leaves out keep their value. `title` is the name,
/// `rawInput` the arguments, `rawOutput` the result (else the text of its `content` blocks, else
/// the content as sent). A call never given a kind is `other`, one never given a status `pending`.
void merge_tool_update(ToolCall& call, const nlohmann::json& update);

/// The options of a session/request_permission, as offered (entries that are not objects skipped).
std::vector<PermissionOption> permission_options(const nlohmann::json& options);

/// A usage report found in an ACP message, normalized, and the value it was read from.
struct AcpUsageReport {
  Usage usage;
  nlohmann::json raw;
};

/// The usage a session/prompt result reports: what `selector` (the route's acp.usage.result)
/// picks, else `usage`, else `_meta.usage`, else `_meta.quota.token_count` (Gemini CLI,
/// claude-agent-acp, codex-acp). nullopt when none of them holds a count.
std::optional<AcpUsageReport> prompt_result_usage(const nlohmann::json& result,
                                                  const std::optional<Selector>& selector);

/// The usage a session/update's `update` carries outside usage_update: what `selector` (the
/// route's acp.usage.update) picks, else `_meta.usage` (agents put the turn's usage on their
/// last agent_message_chunk). nullopt when there is none.
std::optional<AcpUsageReport> update_usage(const nlohmann::json& update,
                                           const std::optional<Selector>& selector);

/// How an `elicitation/create` is answered headless: the response and the warning naming what
/// was asked (its message, its mode, the fields of a form or the URL's host).
struct ElicitationAnswer {
  nlohmann::json response;
  std::string warning;
};
ElicitationAnswer answer_elicitation(const nlohmann::json& params, bool cancel,
                                     const std::string& agent);

/// The evidence of a failed ACP run: the last lines of stderr, then the last JSON-RPC messages
/// exchanged (`messages`: raw lines, oldest first, each tagged "<-" from the agent or "->" to
/// it), each with secret-named members redacted and cut to 300 bytes; 4 KiB in all.
std::string acp_failure_evidence(const std::string& stderr_tail,
                                 const std::vector<std::pair<bool, std::string>>& messages);

}  // namespace drover
