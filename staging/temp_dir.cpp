#include "staging/temp_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

namespace drover {
namespace {

// The owner pid of `<prefix><pid>-XXXXXX`, or 0 when `name` is not exactly that.
pid_t owner_pid(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return 0;
  name.remove_prefix(prefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 9 || name.size() != dash + 7) return 0;
  const std::string_view digits = name.substr(0, dash), suffix = name.substr(dash + 1);
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  auto is_alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (digits[0] == '0' || !std::all_of(digits.begin(), digits.end(), is_digit) ||
      !std::all_of(suffix.begin(), suffix.end(), is_alnum))
    return 0;
  return static_cast<pid_t>(std::stol(std::string(digits)));
}

}  // namespace

std::string TempDir::default_parent() {
  const char* base = std::getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

std::optional<TempDir> TempDir::create(const std::string& prefix, Error& error,
                                       const std::string& parent) {
  std::string pattern =
      (parent.empty() ? default_parent() : parent) + "/" + prefix + std::to_string(::getpid()) + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {  // mkdtemp creates it with mode 0700
    error = Error::make(ErrorCode::harness_error,
                        "cannot create a temporary directory " + pattern + ": " +
                            std::strerror(errno));
    return std::nullopt;
  }
  return TempDir(std::string(buffer.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { remove(); }

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

std::string TempDir::release() noexcept {
  std::string path = std::move(path_);
  path_.clear();
  return path;
}

size_t TempDir::remove_stale(const std::string& prefix, const std::string& parent) noexcept {
  size_t removed = 0;
  try {
    const std::string base = parent.empty() ? default_parent() : parent;
    DIR* dir = ::opendir(base.c_str());
    if (dir == nullptr) return 0;
    std::vector<std::string> stale;
    const int dir_fd = ::dirfd(dir);
    while (dirent* entry = ::readdir(dir)) {
      const pid_t pid = owner_pid(entry->d_name, prefix);
      if (pid <= 0 || pid == ::getpid()) continue;
      struct stat st;
      if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
        continue;
      // EPERM: a process of someone else's has that pid now; it is alive.
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
      stale.push_back(base + "/" + entry->d_name);
    }
    ::closedir(dir);
    for (const auto& path : stale) {
      std::error_code ec;
      if (std::filesystem::remove_all(path, ec) > 0 && !ec) ++removed;
    }
  } catch (...) {
    // Best effort: a leftover that cannot be removed now may be removed by the next start.
  }
  return removed;
}

}  // namespace drover
