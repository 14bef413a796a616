// The SDK's response helpers, as plugins use them.
#include <gtest/gtest.h>

#include <tributary/sdk.hpp>

using tributary::sdk::http_response;

TEST(SdkResponse, RetryAfterInSecondsOrAsAnHttpDate) {
  http_response r;
  r.received_ms = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT
  r.headers = {{"retry-after", "30"}};
  EXPECT_EQ(r.retry_after_ms(), 30000);
  r.headers = {{"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}};
  EXPECT_EQ(r.retry_after_ms(), 30000);
  r.headers = {{"Retry-After", "Sun, 06 Nov 1994 08:49:00 GMT"}};  // already past
  EXPECT_EQ(r.retry_after_ms(), 0);
  r.headers = {{"Retry-After", "tomorrow-ish"}};
  EXPECT_EQ(r.retry_after_ms(), 0);
  EXPECT_EQ(http_response::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(http_response::parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"), int64_t(1835438400000));
  EXPECT_FALSE(http_response::parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
}
