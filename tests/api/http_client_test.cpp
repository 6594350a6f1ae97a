// The HTTP client's guard: an owner's callback that throws ends its transfer, which says why.
#include "src/api/http_client.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "src/loop/loop.h"
#include "support/gateway.h"

namespace drover::test {
namespace {

TEST(HttpClient, AThrowingBodyCallbackEndsTheTransferWithItsError) {
  MockGateway gateway;
  ASSERT_TRUE(gateway.ok());
  Loop loop;
  Error error;
  api::HttpClient* http = api::HttpClient::for_loop(loop, error);
  ASSERT_NE(http, nullptr) << error.message;
  api::HttpRequest request;
  request.method = "GET";
  request.url = gateway.url() + "/v1/models";
  request.total_timeout_ms = 30000;
  int bodies = 0;
  int done = 0;
  std::optional<api::HttpOutcome> outcome;
  api::HttpCallbacks callbacks;
  callbacks.on_body = [&](std::string_view) {
    ++bodies;
    throw std::runtime_error("decoder broke");
  };
  callbacks.on_done = [&](api::HttpOutcome&& o) {
    ++done;
    outcome = std::move(o);
  };
  ASSERT_NE(http->start(std::move(request), std::move(callbacks), error), 0u) << error.message;
  loop.run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(bodies, 1);
  ASSERT_TRUE(outcome);
  ASSERT_TRUE(outcome->callback_error);
  EXPECT_EQ(*outcome->callback_error, "the HTTP body callback threw: decoder broke");
  EXPECT_FALSE(outcome->cancelled);
}

}  // namespace
}  // namespace drover::test
