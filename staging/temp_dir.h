// Private temporary directories (mode 0700) removed with everything in them on every path.
#pragma once

#include <optional>
#include <string>

#include "drover/result.h"

namespace drover {

class TempDir {
 public:
  /// Creates `<parent>/<prefix><pid>-XXXXXX` (parent: `$TMPDIR` when empty, TMPDIR defaulting
  /// to /tmp; pid: this process's, so that remove_stale() can tell a leftover from a live one).
  /// On failure returns nullopt and sets `error`.
  static std::optional<TempDir> create(const std::string& prefix, Error& error,
                                       const std::string& parent = "");

  /// Removes what processes killed before they could clean up left behind: the directories
  /// `$TMPDIR/<prefix><pid>-XXXXXX` (exactly that pattern, six letters or digits last) that are
  /// real directories (not symlinks) owned by the current user and whose pid is not running.
  /// A reused pid keeps a leftover until that process ends, which errs on the side of keeping.
  /// Returns how many were removed; never fails (what cannot be read or removed is skipped).
  /// Where temporary directories go when no parent is given: `$TMPDIR`, else /tmp.
  static std::string default_parent();

  /// `parent` as for create().
  static size_t remove_stale(const std::string& prefix, const std::string& parent = "") noexcept;

  /// Takes over an existing directory (one this process just made): removed like one created.
  static TempDir adopt(std::string path) { return TempDir(std::move(path)); }

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const noexcept { return path_; }
  /// Removes the directory tree now. Idempotent.
  void remove() noexcept;
  /// Keeps the directory: it is no longer removed. Returns its path.
  std::string release() noexcept;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace drover
