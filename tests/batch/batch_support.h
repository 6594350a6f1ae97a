// A batch workspace for the tests: documents, a config whose route is the fake agent's batch
// mode (the document staged as `--file PATH`), and the fake's log of start and end times.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/drover_cli.h"

namespace drover::test {

struct BatchLogLine {
  std::string what;  ///< start or end
  int64_t pid = 0;
  int64_t ms = 0;
  std::string id;
};

struct BatchWorkspace {
  ScratchDir dir;
  std::string config_path;
  std::string log_path;

  BatchWorkspace() {
    nlohmann::json doc = nlohmann::json::parse(fake_agent_config(
        {{"argsTemplate", {"--mode", "batch", "--prompt", "{prompt}", "{files}"}},
         {"parser", {{"kind", "text"}}},
         {"fileInput", {{"perFileArgs", {"--file", "{path}"}}}}}));
    doc["staging"] = {{"dir", dir.path() + "/staging"}};
    std::filesystem::create_directories(dir.path() + "/staging");
    config_path = dir.write("drover.json", doc.dump());
    log_path = dir.path() + "/agent.log";
    ::setenv("FAKE_AGENT_BATCH_LOG", log_path.c_str(), 1);
  }
  ~BatchWorkspace() { ::unsetenv("FAKE_AGENT_BATCH_LOG"); }

  /// docs/<name>.txt holding "ID=<name>" and `body`; returns its path relative to the workspace.
  std::string document(const std::string& name, const std::string& body = "hello") const {
    dir.write("docs/" + name + ".txt", "ID=" + name + "\n" + body + "\n");
    return "docs/" + name + ".txt";
  }
  std::string out() const { return dir.path() + "/out.jsonl"; }

  std::vector<BatchLogLine> log() const {
    std::vector<BatchLogLine> lines;
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      BatchLogLine l;
      words >> l.what >> l.pid >> l.ms >> l.id;
      lines.push_back(l);
    }
    return lines;
  }
  int starts(const std::string& id) const {
    int n = 0;
    for (const auto& l : log()) n += l.what == "start" && l.id == id;
    return n;
  }
  /// The most agents running at once, from the log's start and end lines.
  int max_overlap() const {
    std::vector<std::pair<int64_t, int>> edges;  // (ms, +1 start / -1 end); ends sort first
    for (const auto& l : log()) edges.push_back({l.ms, l.what == "start" ? 1 : -1});
    std::sort(edges.begin(), edges.end());
    int now = 0, most = 0;
    for (const auto& [ms, step] : edges) most = std::max(most, now += step);
    return most;
  }
  /// Every line of the output, parsed (a test fails on a line that is not JSON); the last per id.
  std::map<std::string, nlohmann::json> records() const {
    std::map<std::string, nlohmann::json> last;
    std::ifstream in(out());
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      last[j["id"].get<std::string>()] = j;
    }
    return last;
  }
  size_t lines() const {
    std::ifstream in(out());
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
};

}  // namespace drover::test
