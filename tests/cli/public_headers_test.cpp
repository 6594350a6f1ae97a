// The command line (src/cli/) and the benchmarks (bench/) are built on the library's public API
// alone: every project header they include is a public one ("drover/xxx.h"); the rest is the
// standard library and third-party libraries.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace drover::test {
namespace {

// The project's private folders: a header there is not part of the public API however it is
// spelled (quotes or angle brackets).
const std::vector<std::string> kPrivateRoots = {"src/", "harness/", "parsers/", "staging/",
                                                "api/", "rpc/", "gateway/", "fixtures/",
                                                "tests/", "support/"};

// What may still be included privately, per file, until the code using it moves to the public
// API (none left). Every entry must still be needed (see StaleAllowances).
const std::map<std::string, std::set<std::string>> kAllowed = {};

// The headers `text` includes that are not public: quoted ones outside drover/, and any naming a
// private folder.
std::vector<std::string> private_includes(const std::string& text) {
  static const std::regex include(R"(^\s*#\s*include\s*([<"])([^">]+)[">])");
  std::vector<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, include)) continue;
    const std::string path = m[2];
    bool is_private = m[1] == "\"" && path.rfind("drover/", 0) != 0;
    for (const auto& root : kPrivateRoots) is_private = is_private || path.rfind(root, 0) == 0;
    if (path.find("..") != std::string::npos) is_private = true;
    if (is_private) out.push_back(path);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> scan() {
  std::map<std::string, std::vector<std::string>> found;  // file (relative) -> private includes
  const std::filesystem::path root = DROVER_SOURCE_DIR;
  for (const char* dir : {"src/cli", "bench"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".hpp" && ext != ".cc"))
        continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      found[std::filesystem::relative(entry.path(), root).string()] = private_includes(text.str());
    }
  }
  return found;
}

TEST(PublicHeaders, TheCheckSeesPrivateIncludes) {
  const auto found = private_includes(
      "#include <string>\n#include <nlohmann/json.hpp>\n#include \"drover/client.h\"\n"
      "#include \"src/loop.h\"\n  #  include <harness/acp.h>\n#include \"parsers/output_parser.h\"\n"
      "#include \"text.h\"\n#include \"drover/../src/run.h\"\n// #include \"drover/x.h\"\n");
  EXPECT_EQ(found, (std::vector<std::string>{"src/loop.h", "harness/acp.h",
                                             "parsers/output_parser.h", "text.h",
                                             "drover/../src/run.h"}));
}

TEST(PublicHeaders, CliAndBenchmarksIncludeOnlyPublicHeaders) {
  const auto found = scan();
  ASSERT_TRUE(found.count("src/cli/main.cpp")) << "scanned the wrong tree: " << DROVER_SOURCE_DIR;
  ASSERT_TRUE(found.count("bench/parsers_bench.cpp"));
  for (const auto& [file, includes] : found) {
    const auto allowed = kAllowed.count(file) ? kAllowed.at(file) : std::set<std::string>{};
    for (const auto& header : includes)
      EXPECT_TRUE(allowed.count(header))
          << file << " includes \"" << header
          << "\", which is not a public header: use the drover/*.h API (add an entry point there)";
  }
}

TEST(PublicHeaders, StaleAllowances) {
  const auto found = scan();
  for (const auto& [file, headers] : kAllowed) {
    ASSERT_TRUE(found.count(file)) << file << " is allowed private headers but does not exist";
    const auto& includes = found.at(file);
    for (const auto& header : headers)
      EXPECT_NE(std::find(includes.begin(), includes.end(), header), includes.end())
          << file << " no longer includes " << header << ": remove it from kAllowed";
  }
}

}  // namespace
}  // namespace drover::test
