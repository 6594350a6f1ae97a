#include "harness/child_common.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "parsers/utf8.h"
#include "src/process.h"

namespace drover {

std::string seconds_text(int64_t ms) {
  std::ostringstream out;
  out << static_cast<double>(ms) / 1000.0 << " s";
  return out.str();
}

// The last non-empty lines of a failing process's stderr (or stdout), for the error message.
std::string failure_excerpt(const std::string& stderr_tail, const std::string& stdout_tail) {
  const std::string& source = stderr_tail.find_first_not_of(" \t\r\n") != std::string::npos
                                  ? stderr_tail
                                  : stdout_tail;
  std::string excerpt = tail_lines(source, 5, 1000);
  while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == '\r' ||
                              excerpt.back() == ' '))
    excerpt.pop_back();
  size_t start = excerpt.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : parsers::valid_utf8(excerpt.substr(start));
}

WatchdogSpec apply_request_timeouts(WatchdogSpec watchdog, const RunRequest& request) {
  for (auto [from, to] : {std::pair{&request.timeout_ms, &watchdog.total_timeout_ms},
                          {&request.idle_timeout_ms, &watchdog.idle_timeout_ms},
                          {&request.start_timeout_ms, &watchdog.start_timeout_ms}}) {
    if (*from) *to = **from > 0 ? *from : std::nullopt;
  }
  return watchdog;
}

// The built-in markers (unless switched off) plus the route's own.
parsers::NoiseMarkers markers_for(const NoiseSpec& spec) {
  parsers::NoiseMarkers m = spec.builtin_markers ? parsers::default_noise_markers()
                                                 : parsers::NoiseMarkers{};
  m.lines.insert(m.lines.end(), spec.lines.begin(), spec.lines.end());
  m.prefixes.insert(m.prefixes.end(), spec.prefixes.begin(), spec.prefixes.end());
  m.regexes.insert(m.regexes.end(), spec.regexes.begin(), spec.regexes.end());
  m.after_noise.insert(m.after_noise.end(), spec.after_noise.begin(), spec.after_noise.end());
  m.blocks.insert(m.blocks.end(), spec.blocks.begin(), spec.blocks.end());
  return m;
}

std::pair<std::optional<ChildDirectory>, std::optional<Error>> prepare_child_directory(
    const std::optional<std::string>& request_cwd, const std::optional<std::string>& route_cwd,
    ContextMode mode) {
  std::error_code ec;
  std::string workspace = request_cwd.value_or(route_cwd.value_or(""));
  if (workspace.empty()) workspace = std::filesystem::current_path(ec).string();
  workspace = std::filesystem::absolute(workspace, ec).string();
  if (!std::filesystem::is_directory(workspace, ec))
    return {std::nullopt, Error::make(ErrorCode::config_error,
                                      "working directory " + workspace + " does not exist")};
  ChildDirectory dir;
  dir.workspace = workspace;
  dir.cwd = workspace;
  if (mode == ContextMode::clean) {
    // A fresh empty directory per run, so no project file (CLAUDE.md, AGENTS.md, .git) is in
    // reach.
    Error error;
    dir.temp_dir = TempDir::create("drover-", error);
    if (!dir.temp_dir) return {std::nullopt, std::move(error)};
    dir.cwd = dir.temp_dir->path() + "/work";
    if (::mkdir(dir.cwd.c_str(), 0700) != 0)
      return {std::nullopt, Error::make(ErrorCode::harness_error,
                                        "cannot create the clean working directory " + dir.cwd +
                                            ": " + std::strerror(errno))};
  }
  return {std::move(dir), std::nullopt};
}

}  // namespace drover
