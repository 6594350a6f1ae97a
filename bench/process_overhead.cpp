// Whole-process overhead: `drover run` wrapping the fake agent versus running the fake agent
// directly with the same arguments, interleaved, median of many runs, in one process so both
// sides see the same machine state. Prints added milliseconds, the ratio and drover's peak RSS.
//
//   drover_process_overhead [--runs N] [--drover PATH] [--agent PATH] [--json] [--attach MIB]
//
// With --attach, a third and fourth side: `drover run --file DOC` (DOC a MIB-sized PDF, staged
// and passed as an argument) and `cp DOC` to a fresh file (what staging costs at the least), so
// the attachment's added cost reads against a plain copy measured in the same run.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Sample {
  double ms;
  long maxrss_kb;
};

// Runs argv with stdout/stderr to /dev/null; returns wall time and the child's peak RSS.
Sample run_once(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  auto start = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  auto end = std::chrono::steady_clock::now();
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s failed (status %d)\n", argv[0].c_str(), status);
    std::exit(1);
  }
  return {std::chrono::duration<double, std::milli>(end - start).count(), usage.ru_maxrss};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 300;
  int attach_mib = 0;
  bool as_json = false;
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe").parent_path();
  std::string drover = (self / ".." / "drover").lexically_normal().string();
  std::string agent = (self / ".." / "fixtures" / "fake_agent").lexically_normal().string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--drover" && i + 1 < argc) drover = argv[++i];
    else if (a == "--agent" && i + 1 < argc) agent = argv[++i];
    else if (a == "--json") as_json = true;
    else if (a == "--attach" && i + 1 < argc) attach_mib = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--drover PATH] [--agent PATH] [--json] [--attach MIB]\n", argv[0]);
      return 2;
    }
  }

  // The same route the README example uses, with an absolute command path.
  std::string config_dir = std::filesystem::temp_directory_path() / "drover-bench-XXXXXX";
  std::vector<char> buf(config_dir.begin(), config_dir.end());
  buf.push_back('\0');
  config_dir = mkdtemp(buf.data());
  std::string config = config_dir + "/drover.json";
  std::ofstream(config) << R"({"providers":{"b":{"accounts":[{"id":"a","transport":{"kind":"cli","command":")"
                        << agent << R"(","cli":{"argsTemplate":["--mode","json","--prompt","{prompt}"],)"
                        << R"("parser":{"kind":"json","textPath":"result","usagePath":"","sessionIdPath":"session_id"}}}},)"
                        << R"({"id":"f","transport":{"kind":"cli","command":")"
                        << agent << R"(","cli":{"argsTemplate":["--mode","json","--prompt","{prompt}","{files}"],)"
                        << R"("fileInput":{"perFileArgs":["--file","{path}"]},)"
                        << R"("parser":{"kind":"json","textPath":"result","usagePath":"","sessionIdPath":"session_id"}}}}]}}})";

  const std::string prompt = "Summarize the attached document in one sentence.";
  std::vector<std::string> direct = {agent, "--mode", "json", "--prompt", prompt};
  std::vector<std::string> wrapped = {drover, "run", "--config", config, "--route", "b:cli:a",
                                      "--output", "json", prompt};
  // The attachment sides: a PDF-looking document, staged by drover, copied by cp.
  const std::string doc = config_dir + "/report.pdf", copy = config_dir + "/copy.pdf";
  if (attach_mib > 0) {
    std::ofstream out(doc, std::ios::binary);
    out << "%PDF-1.4\n";
    std::string block(1 << 20, '\0');
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>((i * 2654435761u) >> 13);
    for (int i = 0; i < attach_mib; ++i) out << block;
  }
  std::vector<std::string> attached = {drover, "run", "--config", config, "--route", "b:cli:f",
                                       "--output", "json", "--file", doc, prompt};
  std::vector<std::string> cp = {"/bin/cp", doc, copy};

  for (int i = 0; i < 10; ++i) {  // warm the page cache and the dynamic loader
    run_once(direct);
    run_once(wrapped);
  }
  std::vector<double> direct_ms, wrapped_ms, attached_ms, cp_ms;
  long drover_rss = 0, attached_rss = 0;
  for (int i = 0; i < runs; ++i) {
    direct_ms.push_back(run_once(direct).ms);
    Sample s = run_once(wrapped);
    wrapped_ms.push_back(s.ms);
    drover_rss = std::max(drover_rss, s.maxrss_kb);
    if (attach_mib > 0) {
      Sample a = run_once(attached);
      attached_ms.push_back(a.ms);
      attached_rss = std::max(attached_rss, a.maxrss_kb);
      std::filesystem::remove(copy);
      cp_ms.push_back(run_once(cp).ms);
      std::filesystem::remove(copy);
    }
  }
  std::filesystem::remove_all(config_dir);

  double d = median(direct_ms), w = median(wrapped_ms);
  if (attach_mib > 0) {
    const double a = median(attached_ms), c = median(cp_ms);
    std::printf("attachment: %d MiB PDF\n", attach_mib);
    std::printf("drover run without it   : median %.3f ms\n", w);
    std::printf("drover run --file       : median %.3f ms (added %.3f ms)\n", a, a - w);
    std::printf("cp of the same file     : median %.3f ms\n", c);
    std::printf("added / cp              : %.2fx\n", (a - w) / c);
    std::printf("drover peak RSS with it : %.1f MB\n", static_cast<double>(attached_rss) / 1024.0);
  }
  if (as_json) {
    std::printf(R"({"runs":%d,"directMedianMs":%.3f,"droverMedianMs":%.3f,"addedMs":%.3f,"ratio":%.3f,"droverPeakRssKb":%ld})"
                "\n",
                runs, d, w, w - d, w / d, drover_rss);
  } else {
    std::printf("runs: %d (interleaved)\n", runs);
    std::printf("fake agent directly : median %.3f ms\n", d);
    std::printf("drover run (wrapped): median %.3f ms\n", w);
    std::printf("added by drover     : %.3f ms (ratio %.2fx)\n", w - d, w / d);
    std::printf("drover peak RSS     : %.1f MB\n", static_cast<double>(drover_rss) / 1024.0);
  }
  return 0;
}
