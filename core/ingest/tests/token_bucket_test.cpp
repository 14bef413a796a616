#include <gtest/gtest.h>

#include "ingest/limits/rate_budget.hpp"
#include "ingest/limits/token_bucket.hpp"

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

TEST(RateBudget, EveryWindowMustAllowAndEachIsSpent) {
  using tributary::millis;
  using tributary::rate_budget;
  // 30 a minute with a burst of 3, and 5 a "month" (here: a day).
  rate_budget b({{30, millis(60000), 3}, {5, millis(86400000), 5}}, 0);
  EXPECT_TRUE(b.try_take(1, 0));
  EXPECT_TRUE(b.try_take(1, 0));
  EXPECT_TRUE(b.try_take(1, 0));
  EXPECT_FALSE(b.try_take(1, 0));  // the minute window is spent
  EXPECT_EQ(b.wait_ms(1, 0), 2001);
  EXPECT_TRUE(b.try_take(1, 2001));
  EXPECT_TRUE(b.try_take(1, 4002));
  EXPECT_FALSE(b.try_take(1, 6003));  // the day window is spent, though the minute one allows
  EXPECT_GT(b.wait_ms(1, 6003), 3600000);
  EXPECT_NEAR(b.available(6003), 0, 0.01);
  auto st = b.status(6003);
  ASSERT_EQ(st["windows"].size(), 2u);
  EXPECT_EQ(st["per"], "1m");
  EXPECT_EQ(st["windows"][1]["per"], "1d");
}
