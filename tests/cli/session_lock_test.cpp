// Session locks end to end: --timeout bounds the wait, lock files do not pile up, and lock
// directories or files another user could have planted are refused.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "src/loop/loop.h"
#include "staging/session_lock.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

using nlohmann::json;

json resume_cli() {
  return {{"argsTemplate", {"--mode", "json", "--session", "{session_id}", "--prompt", "{prompt}"}},
          {"parser", {{"kind", "json"}, {"textPath", "result"}, {"sessionIdPath", "session_id"}}}};
}

std::string lock_dir(const ScratchDir& runtime) {
  return runtime.path() + "/drover-" + std::to_string(::getuid()) + "/sessions";
}

// Makes the lock directories as drover does (0700 each), then gives the inner one `mode`.
void make_lock_dirs(const ScratchDir& runtime, std::filesystem::perms mode) {
  namespace fs = std::filesystem;
  fs::create_directories(lock_dir(runtime));
  fs::permissions(fs::path(lock_dir(runtime)).parent_path(), fs::perms::owner_all);
  fs::permissions(lock_dir(runtime), mode);
}

// Runs `fn` with XDG_RUNTIME_DIR pointing at `runtime`, as the drover under test will see it.
template <typename Fn>
void with_runtime_dir(const ScratchDir& runtime, Fn fn) {
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("XDG_RUNTIME_DIR", runtime.path().c_str(), 1);
  fn();
  if (saved) ::setenv("XDG_RUNTIME_DIR", saved->c_str(), 1);
  else ::unsetenv("XDG_RUNTIME_DIR");
}

// --timeout bounds the wait for a session another run is using.
TEST(CliSessionLock, WaitingForTheSessionCountsAgainstTheTimeout) {
  ScratchDir dir;
  ScratchDir runtime;
  auto config = dir.write("drover.json", fake_agent_config(resume_cli()));
  std::optional<SessionLock> held;
  with_runtime_dir(runtime, [&] {
    Loop loop;
    acquire_session_lock(loop, "t:cli:a", "s1", [&](std::optional<SessionLock> l, std::optional<Error>) {
      if (l) held.emplace(std::move(*l));
    });
    loop.run();
  });
  ASSERT_TRUE(held);
  CliOptions options;
  options.env["XDG_RUNTIME_DIR"] = runtime.path();
  CliRun run = run_drover({"run", "-c", config, "--resume", "s1", "--timeout", "1", "-o", "json", "x"},
                          options);
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;
  ASSERT_FALSE(run.out.empty()) << run.err;
  EXPECT_EQ(run.json()["error"]["code"], "timeout");
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("session lock"), std::string::npos)
      << run.out;
}

TEST(CliSessionLock, AResumedRunLeavesNoLockFileBehind) {
  ScratchDir dir;
  ScratchDir runtime;
  auto config = dir.write("drover.json", fake_agent_config(resume_cli()));
  CliOptions options;
  options.env["XDG_RUNTIME_DIR"] = runtime.path();
  CliRun run = run_drover({"run", "-c", config, "--resume", "s1", "-o", "json", "x"}, options);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(std::filesystem::is_directory(lock_dir(runtime)));
  EXPECT_TRUE(std::filesystem::is_empty(lock_dir(runtime)));
}

TEST(CliSessionLock, ALockDirectoryOthersCanWriteIsRefused) {
  ScratchDir dir;
  ScratchDir runtime;
  auto config = dir.write("drover.json", fake_agent_config(resume_cli()));
  make_lock_dirs(runtime, std::filesystem::perms::all);  // 0777
  CliOptions options;
  options.env["XDG_RUNTIME_DIR"] = runtime.path();
  CliRun run = run_drover({"run", "-c", config, "--resume", "s1", "-o", "json", "x"}, options);
  EXPECT_NE(run.exit_code, 0) << run.out;
  ASSERT_FALSE(run.out.empty()) << run.err;
  EXPECT_EQ(run.json()["error"]["code"], "harness_error");
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find(lock_dir(runtime)),
            std::string::npos)
      << run.out;
  EXPECT_TRUE(std::filesystem::is_empty(lock_dir(runtime)));
}

TEST(CliSessionLock, ASymlinkPlantedAsTheLockFileIsNotFollowed) {
  ScratchDir dir;
  ScratchDir runtime;
  auto config = dir.write("drover.json", fake_agent_config(resume_cli()));
  make_lock_dirs(runtime, std::filesystem::perms::owner_all);
  // Plant a link at the lock file of s1, found the way drover names it.
  std::string lock;
  with_runtime_dir(runtime, [&] { lock = session_lock_path("t:cli:a", "s1"); });
  const std::string victim = dir.path() + "/victim";
  std::filesystem::create_symlink(victim, lock);
  CliOptions options;
  options.env["XDG_RUNTIME_DIR"] = runtime.path();
  CliRun run = run_drover({"run", "-c", config, "--resume", "s1", "-o", "json", "x"}, options);
  EXPECT_NE(run.exit_code, 0) << run.out;
  EXPECT_FALSE(std::filesystem::exists(victim)) << "the run created the symlink's target";
  ASSERT_FALSE(run.out.empty()) << run.err;
  EXPECT_NE(run.json()["error"]["message"].get<std::string>().find("symbolic link"), std::string::npos)
      << run.out;
}

}  // namespace
}  // namespace drover::test
