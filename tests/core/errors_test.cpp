// Failure messages to error codes (src/core/errors.cpp).
#include "src/core/errors.h"

#include <gtest/gtest.h>

namespace drover {
namespace {

TEST(ErrorMessage, IsCutToFourKiBWithAMarkerSayingHowMuch) {
  Error e = Error::make(ErrorCode::harness_error, std::string(10u << 20, 'x'));
  EXPECT_EQ(e.message, std::string(4096, 'x') + " \u2026 [" + std::to_string((10u << 20) - 4096) +
                           " more bytes cut]");
  // Never inside a character: 4095 ASCII bytes, then a two-byte one across the limit.
  Error utf8 = Error::make(ErrorCode::harness_error, std::string(4095, 'a') + "\xC3\xA9" +
                                                         std::string(100, 'b'));
  EXPECT_EQ(utf8.message.substr(0, 4096), std::string(4095, 'a') + " ");
  EXPECT_EQ(Error::make(ErrorCode::harness_error, "short").message, "short");
}

TEST(ClassifyFailure, ProviderWordingAndStatusCodes) {
  EXPECT_EQ(classify_failure_message("API Error: 429 Rate limit reached"), ErrorCode::rate_limit);
  EXPECT_EQ(classify_failure_message("HTTP 429"), ErrorCode::rate_limit);
  EXPECT_EQ(classify_failure_message("You exceeded your current quota (429)"),
            ErrorCode::quota_exhausted);
  EXPECT_EQ(classify_failure_message("error 401: invalid token"), ErrorCode::auth_error);
  EXPECT_EQ(classify_failure_message("status=403"), ErrorCode::auth_error);
  EXPECT_EQ(classify_failure_message("upstream said 502"), ErrorCode::temporary_unavailable);
  EXPECT_EQ(classify_failure_message("API Error: 529 Overloaded"), ErrorCode::temporary_unavailable);
  EXPECT_EQ(classify_failure_message("500 Internal"), ErrorCode::temporary_unavailable);
  EXPECT_EQ(classify_failure_message("prompt is too long: 210000 tokens"),
            ErrorCode::context_overflow);
  EXPECT_EQ(classify_failure_message("something odd happened"), ErrorCode::harness_error);
}

TEST(ClassifyFailure, DigitsInsideIdsAreNotStatusCodes) {
  // A resume of an unknown session is not worth retrying, whatever digits its id holds.
  EXPECT_EQ(classify_failure_message(
                "No conversation found with session ID: c63da25f-31ea-4a8b-9500-ba150206e64f"),
            ErrorCode::harness_error);
  EXPECT_EQ(classify_failure_message("request req_4290001 failed"), ErrorCode::harness_error);
  EXPECT_EQ(classify_failure_message("build 5031 failed"), ErrorCode::harness_error);
  EXPECT_EQ(classify_failure_message("file x401.txt missing"), ErrorCode::harness_error);
}

}  // namespace
}  // namespace drover
