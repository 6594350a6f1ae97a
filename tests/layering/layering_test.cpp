// Which layer may include what: the layers below the configuration (parsers, the process
// supervisor and loop, staging) never include the user config header, and the configuration
// (src/config/) never includes the API transport's headers. Checked on the source tree.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace drover {
namespace {

namespace fs = std::filesystem;

// `#include "…"` targets of `file`.
std::vector<std::string> includes_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("#include \"");
    if (at == std::string::npos || line.find_first_not_of(" \t") != at) continue;
    const auto start = at + 10;
    const auto end = line.find('"', start);
    if (end != std::string::npos) out.push_back(line.substr(start, end - start));
  }
  return out;
}

// Source files under `dir` (relative to the source root) whose name starts with `stem` ("" for
// all), each with the includes that start with `forbidden`.
std::vector<std::string> offenders(const std::string& dir, const std::string& stem,
                                   const std::string& forbidden) {
  std::vector<std::string> out;
  const fs::path root = fs::path(DROVER_SOURCE_DIR) / dir;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
    if (name.rfind(stem, 0) != 0) continue;
    for (const auto& target : includes_of(entry.path()))
      if (target.rfind(forbidden, 0) == 0) out.push_back(dir + "/" + name + " includes " + target);
  }
  return out;
}

TEST(Layering, LayersBelowTheConfigurationDoNotIncludeTheConfigHeader) {
  std::vector<std::string> found;
  for (const auto& [dir, stem] : std::vector<std::pair<std::string, std::string>>{
           {"parsers", ""}, {"staging", ""}, {"src", "process."}, {"src", "loop."},
           {"src", "watchdog."}}) {
    auto more = offenders(dir, stem, "drover/config.h");
    found.insert(found.end(), more.begin(), more.end());
  }
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
}

TEST(Layering, TheConfigurationDoesNotIncludeTheApiTransport) {
  const auto found = offenders("src/config", "", "src/api/");
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
}

TEST(Layering, TheConfigHeaderIncludesOnlyInstalledHeaders) {
  // CMakeLists.txt installs src/drover/*.h, parsers/parser_spec.h and src/watchdog.h.
  for (const auto& target : includes_of(fs::path(DROVER_SOURCE_DIR) / "src/drover/config.h"))
    EXPECT_TRUE(target.rfind("drover/", 0) == 0 || target == "parsers/parser_spec.h" ||
                target == "src/watchdog.h")
        << target;
}

}  // namespace
}  // namespace drover
