// Helpers shared by the tests: fixture paths and file reading.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace drover::test {

inline std::string fixture_path(const std::string& relative) {
  return std::string(DROVER_FIXTURES_DIR) + "/" + relative;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string read_fixture(const std::string& relative) {
  return read_file(fixture_path(relative));
}

inline const char* fake_agent() { return DROVER_FAKE_AGENT; }
inline const char* fake_acp_agent() { return DROVER_FAKE_ACP_AGENT; }
inline const char* drover_binary() { return DROVER_BINARY; }

}  // namespace drover::test
