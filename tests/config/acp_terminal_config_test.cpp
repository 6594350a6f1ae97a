// The ACP route's `terminal` option: off by default, true or an object with limits.
#include <gtest/gtest.h>

#include "drover/config.h"

namespace drover {
namespace {

std::string with_terminal_acp(const std::string& acp_body) {
  return R"({"providers": {"acme": {"accounts": [{"id": "main", "transport": {"kind": "acp",
            "command": "agent", "acp": )" +
         acp_body + "}}]}}}";
}

AcpTerminalSpec terminal_of(const std::string& acp_body) {
  auto [config, error] = parse_config(with_terminal_acp(acp_body), "drover.json");
  EXPECT_FALSE(error) << (error ? error->message : "");
  if (!config) return {};
  return config->providers[0].accounts[0].transport.acp().terminal;
}

std::string error_of(const std::string& acp_body) {
  auto [config, error] = parse_config(with_terminal_acp(acp_body), "drover.json");
  EXPECT_FALSE(config);
  return error ? error->message : "<no error>";
}

TEST(AcpTerminalConfig, OffByDefaultOnWithTrueOrAnObject) {
  EXPECT_FALSE(terminal_of("{}").enabled);
  EXPECT_FALSE(terminal_of(R"({"terminal": false})").enabled);
  AcpTerminalSpec on = terminal_of(R"({"terminal": true})");
  EXPECT_TRUE(on.enabled);
  EXPECT_EQ(on.max_terminals, 8u);
  EXPECT_EQ(on.max_output_bytes, 1u << 20);
  AcpTerminalSpec limits = terminal_of(R"({"terminal": {"maxTerminals": 3, "maxOutputBytes": 4096}})");
  EXPECT_TRUE(limits.enabled);
  EXPECT_EQ(limits.max_terminals, 3u);
  EXPECT_EQ(limits.max_output_bytes, 4096u);
  EXPECT_FALSE(terminal_of(R"({"terminal": {"enabled": false, "maxTerminals": 3}})").enabled);
}

TEST(AcpTerminalConfig, BadValuesNameTheirPlace) {
  const std::string at = "providers.acme.accounts[0].transport.acp.terminal";
  std::string e = error_of(R"({"terminal": "yes"})");
  EXPECT_NE(e.find(at + ": expected true, false or an object"), std::string::npos) << e;
  e = error_of(R"({"terminal": {"maxTerminals": 0}})");
  EXPECT_NE(e.find(at + ".maxTerminals"), std::string::npos) << e;
  e = error_of(R"({"terminal": {"maxTerminals": 65}})");
  EXPECT_NE(e.find("at most 64"), std::string::npos) << e;
  e = error_of(R"({"terminal": {"maxOutputBytes": 100000000}})");
  EXPECT_NE(e.find(at + ".maxOutputBytes"), std::string::npos) << e;
  e = error_of(R"({"terminal": {"maxTerminal": 2}})");
  EXPECT_NE(e.find("did you mean \"maxTerminals\""), std::string::npos) << e;
  e = error_of(R"({"terminal": {"enabled": 1}})");
  EXPECT_NE(e.find(at + ".enabled"), std::string::npos) << e;
}

}  // namespace
}  // namespace drover
