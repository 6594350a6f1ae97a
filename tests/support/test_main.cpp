// Test entry point: the same process hygiene as drover's own main().
#include <csignal>

#include <gtest/gtest.h>
#include <uv.h>

int main(int argc, char** argv) {
  // A write to a dead child's stdin must surface as EPIPE, not kill the test program.
  std::signal(SIGPIPE, SIG_IGN);
  uv_disable_stdio_inheritance();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
