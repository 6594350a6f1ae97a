// The `session/update` notifications of ACP agents, read into what drover's one event stream
// needs. Pure: no I/O, tested on recorded agent output.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace drover {

struct AcpUpdate {
  enum class Kind { message, thought, tool, usage, other };
  Kind kind = Kind::other;
  std::string name;          ///< the sessionUpdate discriminator as sent
  std::string text;          ///< message / thought: the text of a text content block
  std::string tool_call_id;  ///< tool: the call it is about
  std::string tool_kind;     ///< tool: read, edit, execute, … when given
  std::optional<double> cost_usd;  ///< usage: cumulative cost, when reported in USD
  nlohmann::json data;       ///< tool / usage: the update as sent
};

/// Reads one `update` object (the `params.update` of a session/update). Chunks whose content is
/// not a text block (images, resources) carry no text. Invalid UTF-8 is replaced.
AcpUpdate read_session_update(const nlohmann::json& update);

}  // namespace drover
