// A config file nested too deeply is refused before it is built (src/config/document.cpp parse_document).
#include "drover/config.h"

#include <gtest/gtest.h>

namespace drover {
namespace {

TEST(ConfigDepth, ADocumentNestedTooDeeplyIsAConfigErrorNamingTheLimit) {
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    const std::string text =
        R"({"providers": {}, "x": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
    auto [config, error] = parse_config(text, "deep.json");
    EXPECT_FALSE(config);
    ASSERT_TRUE(error) << depth;
    EXPECT_NE(error->message.find("deep.json: the document is nested deeper than 512 levels"),
              std::string::npos)
        << error->message;
  }
}

}  // namespace
}  // namespace drover
