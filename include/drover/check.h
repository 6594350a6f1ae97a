// `drover check`: which harness commands the configuration and the presets name, whether each
// resolves on PATH, and what version it reports.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"

namespace drover {

/// One harness command (one provider account of kind cli or acp).
struct CheckRow {
  std::string route;    ///< provider:transport:account
  std::string preset;   ///< the preset the route comes from; empty for the user's own
  std::string command;  ///< as configured
  std::string path;     ///< where it resolves on drover's PATH; empty when not found
  /// The first line of `COMMAND --version` (print mode), or the ACP agent's "name version" from
  /// its answer to initialize; empty when unknown.
  std::string version;
  std::string problem;  ///< why the command is not usable (names it); empty when it is
  bool ok() const noexcept { return problem.empty(); }
};

struct CheckReport {
  std::vector<CheckRow> rows;  ///< in the order of Config::routes(), one per provider account
};

/// Checks every harness route of `config` (API routes have no command and are left out; routes
/// of one provider account share a row): the command is looked up on drover's own PATH, then, in
/// parallel, a print-mode command is run with `--version` (5 s at most) and an ACP agent is
/// started as a run would start it and asked `initialize` (15 s at most; some agents have no
/// version flag and would wait on stdin). Blocking: runs its own loop on the calling thread; no
/// process is left behind. Never throws: every failure is the row's `problem`.
CheckReport check_routes(const Config& config);

/// The report as `drover check --json` prints it: an array of {route, preset, command, path,
/// version, ok, problem}, null for an empty path, version or problem.
nlohmann::json to_json(const CheckReport& report);

/// Where `command` resolves the way a shell would, with drover's own PATH: a name with a '/' is
/// taken as it is (relative to the current directory). Empty when it is not found or not
/// executable.
std::string find_command(const std::string& command);

}  // namespace drover
