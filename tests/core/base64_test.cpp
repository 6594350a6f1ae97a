#include "src/core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace drover {
namespace {

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, RoundTripsEveryByteValueAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n <= bytes.size(); ++n) {
    const std::string part = bytes.substr(0, n);
    const std::string encoded = base64_encode(part);
    EXPECT_EQ(base64_decode(encoded), part) << n;
    EXPECT_EQ(base64_decoded_size(encoded), part.size()) << n;
  }
}

TEST(Base64, DecodesWithoutPaddingAndAcrossLineBreaks) {
  EXPECT_EQ(base64_decode("Zm9vYg"), "foob");
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy"), "foobar");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Zg==Zg"));   // data after padding
  EXPECT_FALSE(base64_decode("Zg==="));    // too much padding
  EXPECT_FALSE(base64_decode("Z"));        // six leftover bits
  EXPECT_FALSE(base64_decode("Zh=="));     // non-zero padding bits
  EXPECT_FALSE(base64_decode("Zm9v-_"));   // the URL-safe alphabet is not this one
}

}  // namespace
}  // namespace drover
