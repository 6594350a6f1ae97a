// Trust in workspace files (README "Trusting a workspace file"). A repository's ./drover.json can
// name commands for drover to run, so one that can run anything is read only after the user
// reviewed it and trusted it (`drover trust`), which records the file's path and SHA-256 in
// <config dir>/trusted.json. Any change to the file makes it untrusted again.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "drover/config.h"

namespace drover {

/// <config dir>/trusted.json of `lookup`; empty when neither $XDG_CONFIG_HOME nor $HOME is known
/// (then nothing can be trusted).
std::string trust_store_path(const ConfigLookup& lookup);

/// The workspace file of `lookup`: <workspace_dir>/drover.json (whether or not it exists).
std::string workspace_config_path(const ConfigLookup& lookup);

/// Trusted files: trust key (the file's absolute path, its directory's symlinks resolved) ->
/// SHA-256 (hex) of the content reviewed.
using TrustStore = std::map<std::string, std::string>;

/// Reads the store at `path`; a missing file is an empty store. nullopt, with `problem` naming the
/// file and what is wrong, when it cannot be read or is not a trust store.
std::optional<TrustStore> read_trust_store(const std::string& path, std::string& problem);

/// Records `file`'s current content as trusted in the store at `store_path` (created, mode 0600 in
/// a 0700 directory, when missing; replaced atomically, no temporary file left behind on failure).
/// nullopt on success, with `key` the path recorded and `digest` its SHA-256; otherwise the
/// problem, naming the file.
std::optional<std::string> trust_file(const std::string& store_path, const std::string& file,
                                      std::string& key, std::string& digest);

/// Forgets `file` in the store at `store_path`. nullopt on success, with `key` the path looked up
/// and `removed` whether it was trusted; otherwise the problem.
std::optional<std::string> untrust_file(const std::string& store_path, const std::string& file,
                                        std::string& key, bool& removed);

/// "trusted" when `path` still has the content `digest` was taken of, else "changed", "missing"
/// or "unreadable".
std::string trusted_file_state(const std::string& path, const std::string& digest);

}  // namespace drover
