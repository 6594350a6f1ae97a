// Private temporary directories (mode 0700) removed with everything in them on every path.
#pragma once

#include <optional>
#include <string>

#include "drover/result.h"

namespace drover {

class TempDir {
 public:
  /// Creates `$TMPDIR/<prefix>XXXXXX` (TMPDIR defaulting to /tmp). On failure returns nullopt
  /// and sets `error`.
  static std::optional<TempDir> create(const std::string& prefix, Error& error);

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const noexcept { return path_; }
  /// Removes the directory tree now. Idempotent.
  void remove() noexcept;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace drover
