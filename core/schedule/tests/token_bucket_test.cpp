#include <gtest/gtest.h>

#include "schedule/token_bucket.hpp"

using tributary::token_bucket;

TEST(TokenBucket, SpendsBurstThenRefillsAtRate) {
  token_bucket b(60, 60000, 3, 0);  // 1 per second, burst 3
  EXPECT_TRUE(b.try_take(1, 0));
  EXPECT_TRUE(b.try_take(2, 0));
  EXPECT_FALSE(b.try_take(1, 0));
  EXPECT_NEAR(b.wait_ms(1, 0), 1000, 1);
  EXPECT_FALSE(b.try_take(1, 999));
  EXPECT_TRUE(b.try_take(1, 1000));
  EXPECT_TRUE(b.try_take(3, 10000) );  // refilled to burst, never above it
  EXPECT_FALSE(b.try_take(1, 10000));
}

TEST(TokenBucket, CostAboveBurstNeedsAFullBucket) {
  token_bucket b(10, 1000, 5, 0);
  EXPECT_TRUE(b.try_take(8, 0));  // allowed from full, goes into debt
  EXPECT_FALSE(b.try_take(1, 200));  // 5 - 8 + 2 = -1
  EXPECT_TRUE(b.try_take(1, 400));
}
