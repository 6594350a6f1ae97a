// The `session/update` notifications of ACP agents, read into what drover's one event stream
// needs. Pure: no I/O, tested on recorded agent output.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/result.h"

namespace drover {

struct AcpUpdate {
  enum class Kind { message, thought, tool, usage, other };
  Kind kind = Kind::other;
  std::string name;          ///< the sessionUpdate discriminator as sent
  std::string text;          ///< message / thought: the text of a text content block
  std::string tool_call_id;  ///< tool: the call it is about
  std::string tool_kind;     ///< tool: read, edit, execute, … when given
  std::optional<double> cost_usd;  ///< usage: cumulative cost, when reported in USD
  std::optional<Usage> usage;      ///< usage: the report normalized (the cost, when in USD)
  nlohmann::json data;       ///< tool / usage: the update as sent
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

}  // namespace drover
