// The gateway as a program: usage, the listening line, clean stops, many concurrent streams.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "gateway/gateway_harness.h"

namespace drover::test::gateway {
namespace {

json process_chat(const std::string& text, bool stream = false) {
  return {{"model", "m"}, {"stream", stream}, {"messages", {{{"role", "user"}, {"content", text}}}}};
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(GatewayProgram, HelpNamesTheCommandAndItsOptions) {
  auto r = run_gateway_to_exit({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("drover mock-gateway"), std::string::npos) << r.out;
  for (const char* option : {"--host", "--port", "--script", "--log", "--upstream", "--verbose"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
}

TEST(GatewayProgram, PrintsExactlyTheListeningLine) {
  GatewayProcess gw({});
  EXPECT_EQ(gw.url(), "http://127.0.0.1:" + std::to_string(gw.port()));
  EXPECT_GT(gw.port(), 0);
  ASSERT_EQ(post(gw.port(), "/v1/chat/completions", process_chat("x")).status, 200);
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_EQ(gw.stdout_text(), "listening on " + gw.url() + "\n");
}

TEST(GatewayProgram, FixedPortAndPortInUse) {
  const int port = free_port();
  GatewayProcess gw({"--port", std::to_string(port)}, /*add_port=*/false);
  EXPECT_EQ(gw.port(), port);
  EXPECT_EQ(get(port, "/v1/models").status, 200);
  auto clash = run_gateway_to_exit({"--port", std::to_string(port)});
  EXPECT_EQ(clash.code, 1);
  EXPECT_NE(clash.err.find("cannot listen"), std::string::npos) << clash.err;
}

TEST(GatewayProgram, SigtermStopsCleanlyWithAnIdleKeepAliveConnection) {
  GatewayProcess gw({});
  httplib::Client client("127.0.0.1", gw.port());
  client.set_keep_alive(true);
  auto res = client.Post("/v1/chat/completions", process_chat("keep me").dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  auto start = Clock::now();
  EXPECT_EQ(gw.stop(SIGTERM), 0);
  EXPECT_FALSE(gw.was_killed());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
}

TEST(GatewayProgram, SigintStopsCleanlyDuringASlowStream) {
  ScriptedGateway gw(json{{"rules", {{{"respond", {{"chunkDelayMs", 1000}}}}}}});
  std::thread client([&] { post(gw.port(), "/v1/chat/completions", process_chat("slow stream", true)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = Clock::now();
  EXPECT_EQ(gw.process().stop(SIGINT), 0);
  EXPECT_FALSE(gw.process().was_killed());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
  client.join();
}

TEST(GatewayProgram, ServesManyConcurrentStreams) {
  constexpr int kClients = 120;
  // Each stream takes ~6 × 50 ms; served one at a time they would take over 36 s.
  ScriptedGateway gw(json{{"rules", {{{"respond", {{"chunkDelayMs", 50}}}}}}});
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::string prompt = "client " + std::to_string(i);
      auto r = post(gw.port(), "/v1/chat/completions", process_chat(prompt, true));
      std::string text = r.status == 200 ? chat_stream_text(parse_sse(r.body)) : "";
      if (text == "MOCK: " + prompt) {
        ++ok;
      } else {
        failures[i] = "status " + std::to_string(r.status) + " text " + text;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(ok.load(), kClients);
  for (const auto& f : failures)
    if (!f.empty()) ADD_FAILURE() << f;
  EXPECT_LT(seconds, 10.0) << "streams must be served concurrently";
  auto log = gw.log(kClients);
  EXPECT_EQ(log.size(), static_cast<size_t>(kClients));
}

}  // namespace
}  // namespace drover::test::gateway
