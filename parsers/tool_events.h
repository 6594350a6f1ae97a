// Tool calls in the JSON event streams of print-mode harnesses, read into drover's tool events.
// Pure: one parsed JSON line in, events out; no I/O.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/result.h"

namespace drover::parsers {

/// Recognizes the tool items of the recorded harness streams by their shape (whatever preset or
/// parser spec is in use):
///  - claude stream-json: `assistant` content `tool_use` (pending), `user` content `tool_result`
///    (completed, failed when `is_error`), `system/permission_denied` (a permission event, denied
///    by the harness itself);
///  - pi `--mode json`: `tool_execution_start` (in_progress), `tool_execution_end` (completed,
///    failed when `isError`);
///  - opencode `--format json`: `tool_use` with a `part.state` (its status).
/// A result event carries what the start said (name, arguments): calls are merged by id.
class ToolEventReader {
 public:
  /// Appends the events `doc` (one JSON line) stands for, in order; nothing for other lines.
  void read(const nlohmann::json& doc, std::vector<Event>& out);

 private:
  ToolCall& call(const std::string& id);
  void finish(const std::string& id);

  std::map<std::string, ToolCall> open_;  // started, not finished (bounded)
};

/// The ACP tool kind a harness tool name stands for (Bash/bash: execute, Read: read, Edit/Write:
/// edit, Grep/Glob: search, WebFetch: fetch, ...); `other` when unknown.
std::string tool_kind_for(std::string_view name);

}  // namespace drover::parsers
