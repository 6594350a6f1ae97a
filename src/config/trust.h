// Trust in workspace files (README "Trusting a workspace file"). A repository's ./drover.json
// can name commands for drover to run, so one that can run anything is read only after the user
// reviewed it and ran `drover trust`, which records the file's path and SHA-256 in
// <config dir>/trusted.json. Any change to the file makes it untrusted again. Files given with
// --config or $DROVER_CONFIG, the global config and the user's presets are the user's own choice
// and need no trust. The public part is drover/trust.h.
#pragma once

#include <map>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drover/config.h"
#include "drover/trust.h"

namespace drover {

/// Config files (a repository's among them) are at most this long.
inline constexpr std::uintmax_t kMaxConfigFileBytes = 4u << 20;

/// Reads a configuration or trust file whole: a regular file (after symlinks) of at most
/// kMaxConfigFileBytes. A FIFO would block drover, a device (`/dev/zero`) would never end.
/// nullopt on success, else the problem naming the file.
std::optional<std::string> read_config_file(const std::string& file, std::string& text);

/// The path a file is trusted under: its directory made absolute with symlinks resolved, then
/// its own name. The last component is kept as found, so a symlink named drover.json in another
/// directory (where its relative commands would resolve) is not the file it points to.
std::string trust_key(const std::string& file);

/// Replaces the store atomically: a new file (mode 0600) in the same directory renamed over the
/// old one; the directory is created (mode 0700) when missing. nullopt on success, else the
/// problem (no temporary file is left behind).
std::optional<std::string> write_trust_store(const std::string& path, const TrustStore& store);

/// The first part of a workspace config document that can run something or send a credential
/// somewhere (a command, argv, environment, an ACP agent and its MCP servers, a discovery
/// command, an API endpoint, or anything unknown), as a JSON path; nullopt when the document only
/// chooses among routes that exist anyway: defaultRoute, routing, description, and accounts that
/// start from a preset and change nothing but their models, transport id, watchdog and output
/// cap.
std::optional<std::string> executable_content(const nlohmann::ordered_json& doc);

/// How load_config treats the workspace file it found.
struct WorkspaceVerdict {
  enum class Trust {
    trusted,    ///< recorded by `drover trust` with this content: read like the global file
    data_only,  ///< nothing executable, not trusted: read, but the global file's settings win
    untrusted,  ///< executable and not trusted (or changed since): left out
  } trust = Trust::trusted;
  std::string key;     ///< trust_key of the file
  UntrustedSource ignored;  ///< when untrusted
  std::string notice;       ///< when untrusted: the line telling the user why and what to do
};

/// Decides about workspace file `file` whose content is `text`, parsed into `doc`. `reserved`
/// are the provider ids of presets (which the file may never redefine, so a route naming one
/// does not depend on it).
WorkspaceVerdict judge_workspace_file(const ConfigLookup& lookup, const std::string& file,
                                      const std::string& text, const nlohmann::ordered_json& doc,
                                      const std::set<std::string>& reserved);

/// `path` as one shell word (single-quoted when it has anything but safe characters), for the
/// `drover trust PATH` commands messages suggest.
std::string shell_word(const std::string& path);

}  // namespace drover
