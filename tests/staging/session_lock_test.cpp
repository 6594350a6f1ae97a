// The session lock refuses directories and files another user could have planted, removes its
// file when released, and gives up waiting when the run's timeout passes.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "src/loop/loop.h"
#include "staging/session_lock.h"
#include "support/drover_cli.h"

namespace drover::test {
namespace {

namespace fs = std::filesystem;

// Points XDG_RUNTIME_DIR at a private scratch directory for the test's lifetime.
class LockDirs {
 public:
  LockDirs() {
    const char* old = std::getenv("XDG_RUNTIME_DIR");
    if (old) old_ = old;
    ::setenv("XDG_RUNTIME_DIR", dir_.path().c_str(), 1);
  }
  ~LockDirs() {
    if (old_) ::setenv("XDG_RUNTIME_DIR", old_->c_str(), 1);
    else ::unsetenv("XDG_RUNTIME_DIR");
  }
  std::string base() const { return dir_.path() + "/drover-" + std::to_string(::getuid()); }
  std::string sessions() const { return base() + "/sessions"; }
  /// Makes both directories as drover would (0700).
  void make() const {
    ::mkdir(base().c_str(), 0700);
    ::mkdir(sessions().c_str(), 0700);
  }
  const ScratchDir& scratch() const { return dir_; }

 private:
  ScratchDir dir_;
  std::optional<std::string> old_;
};

struct Acquired {
  std::optional<SessionLock> lock;
  std::optional<Error> error;
};

Acquired acquire(const std::string& session, std::optional<int64_t> timeout_ms = std::nullopt) {
  Loop loop;
  Acquired out;
  acquire_session_lock(
      loop, "t:cli:a", session,
      [&](std::optional<SessionLock> l, std::optional<Error> e) {
        if (l) out.lock.emplace(std::move(*l));
        out.error = std::move(e);
      },
      timeout_ms);
  loop.run();
  return out;
}

TEST(SessionLock, TakesAndReleasesTheLockAndRemovesItsFile) {
  LockDirs dirs;
  const std::string path = session_lock_path("t:cli:a", "s1");
  {
    Acquired held = acquire("s1");
    ASSERT_TRUE(held.lock) << (held.error ? held.error->message : "");
    EXPECT_TRUE(fs::exists(path));
    struct stat st;
    ASSERT_EQ(::stat(dirs.sessions().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
  }
  EXPECT_FALSE(fs::exists(path)) << "the lock file was left behind";
  EXPECT_TRUE(fs::is_empty(dirs.sessions()));
}

TEST(SessionLock, RefusesALockDirectoryWithAnotherMode) {
  LockDirs dirs;
  dirs.make();
  ASSERT_EQ(::chmod(dirs.sessions().c_str(), 0777), 0);
  Acquired got = acquire("s1");
  EXPECT_FALSE(got.lock);
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->code, ErrorCode::harness_error);
  EXPECT_NE(got.error->message.find(dirs.sessions()), std::string::npos) << got.error->message;
  EXPECT_NE(got.error->message.find("0777"), std::string::npos) << got.error->message;
  EXPECT_TRUE(fs::is_empty(dirs.sessions()));
}

TEST(SessionLock, RefusesABaseDirectoryWithAnotherMode) {
  LockDirs dirs;
  ASSERT_EQ(::mkdir(dirs.base().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dirs.base().c_str(), 0755), 0);
  Acquired got = acquire("s1");
  EXPECT_FALSE(got.lock);
  ASSERT_TRUE(got.error);
  EXPECT_NE(got.error->message.find("0755"), std::string::npos) << got.error->message;
}

TEST(SessionLock, RefusesALockDirectoryOwnedBySomeoneElse) {
  LockDirs dirs;
  dirs.make();
  const uid_t other = ::getuid() == 65534 ? 65533 : 65534;
  // As root the directory can be given away; otherwise check the function with another uid.
  if (::chown(dirs.sessions().c_str(), other, static_cast<gid_t>(-1)) == 0) {
    Acquired got = acquire("s1");
    EXPECT_FALSE(got.lock);
    ASSERT_TRUE(got.error);
    EXPECT_NE(got.error->message.find("owned by uid " + std::to_string(other)), std::string::npos)
        << got.error->message;
  }
  auto error = check_lock_directory(dirs.base(), other);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("owned by uid"), std::string::npos) << error->message;
  EXPECT_FALSE(check_lock_directory(dirs.base(), ::getuid()));
}

TEST(SessionLock, RefusesASymlinkedLockDirectory) {
  LockDirs dirs;
  ScratchDir elsewhere;  // 0700 and ours, but reached through a link someone planted
  fs::create_directory_symlink(elsewhere.path(), dirs.base());
  Acquired got = acquire("s1");
  EXPECT_FALSE(got.lock);
  ASSERT_TRUE(got.error);
  EXPECT_NE(got.error->message.find("symbolic link"), std::string::npos) << got.error->message;
  EXPECT_TRUE(elsewhere.empty());
}

TEST(SessionLock, DoesNotFollowASymlinkAtTheLockFile) {
  LockDirs dirs;
  dirs.make();
  const std::string target = dirs.scratch().path() + "/victim";
  fs::create_symlink(target, session_lock_path("t:cli:a", "s1"));
  Acquired got = acquire("s1");
  EXPECT_FALSE(got.lock);
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->code, ErrorCode::harness_error);
  EXPECT_NE(got.error->message.find("symbolic link"), std::string::npos) << got.error->message;
  EXPECT_FALSE(fs::exists(target)) << "the lock created the symlink's target";
}

TEST(SessionLock, WaitingGivesUpWhenTheTimeoutPasses) {
  LockDirs dirs;
  Acquired held = acquire("s1");
  ASSERT_TRUE(held.lock);
  Acquired second = acquire("s1", 100);
  EXPECT_FALSE(second.lock);
  ASSERT_TRUE(second.error);
  EXPECT_EQ(second.error->code, ErrorCode::timeout);
  EXPECT_NE(second.error->message.find("session lock"), std::string::npos) << second.error->message;
}

// A waiter that wins the file its holder just removed must take the new file instead, or two
// runs would hold "the" lock at once.
TEST(SessionLock, AWaiterOfARemovedFileTakesTheNewOne) {
  LockDirs dirs;
  Loop loop;
  std::optional<SessionLock> first, second;
  acquire_session_lock(loop, "t:cli:a", "s1", [&](std::optional<SessionLock> l, std::optional<Error>) {
    if (l) first.emplace(std::move(*l));
  });
  loop.run();
  ASSERT_TRUE(first);
  bool second_done = false;
  acquire_session_lock(loop, "t:cli:a", "s1", [&](std::optional<SessionLock> l, std::optional<Error> e) {
    second_done = true;
    EXPECT_FALSE(e) << e->message;
    if (l) second.emplace(std::move(*l));
  });
  LoopTimer release(loop);
  release.start(100, [&] { first.reset(); });  // unlinks, then lets go of the old file
  loop.run();
  ASSERT_TRUE(second_done);
  ASSERT_TRUE(second);
  // The file now at the path is the one the second run holds: nobody else can lock it.
  const std::string path = session_lock_path("t:cli:a", "s1");
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << "the second run holds no file at the lock path";
  EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the lock at the path is free while held";
  ::close(fd);
}

// Even a lock that is free at once, or a refused directory, is answered from the loop.
TEST(SessionLock, TheAnswerAlwaysArrivesFromTheLoop) {
  LockDirs dirs;
  Loop loop;
  bool answered = false;
  std::optional<SessionLock> held;
  acquire_session_lock(loop, "t:cli:a", "s1", [&](std::optional<SessionLock> l, std::optional<Error>) {
    answered = true;
    if (l) held.emplace(std::move(*l));
  });
  EXPECT_FALSE(answered) << "on_ready ran inside acquire_session_lock";
  loop.run();
  EXPECT_TRUE(answered);
  EXPECT_TRUE(held);
}

TEST(SessionLock, CancellingAWaitAnswersAborted) {
  LockDirs dirs;
  Acquired first = acquire("s1");
  ASSERT_TRUE(first.lock);
  Loop loop;
  int answers = 0;
  std::optional<Error> error;
  auto wait = acquire_session_lock(
      loop, "t:cli:a", "s1",
      [&](std::optional<SessionLock> l, std::optional<Error> e) {
        ++answers;
        EXPECT_FALSE(l);
        error = std::move(e);
      },
      20000);
  LoopTimer stop(loop);
  stop.start(100, [&] {
    wait->cancel();
    EXPECT_EQ(answers, 0) << "on_ready ran inside cancel()";
    wait->cancel();  // idempotent
  });
  loop.run();
  EXPECT_EQ(answers, 1);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::aborted) << error->message;
}

}  // namespace
}  // namespace drover::test
