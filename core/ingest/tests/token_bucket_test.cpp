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

TEST(RateBudget, ForecastsWhenAWindowRunsOutAtTheRateOfTheLastHour) {
  using namespace tributary;
  // CoinMarketCap's basic plan: 30 a minute, 10,000 credits a month.
  std::vector<rate_limit_config> windows{{30, millis(60000), 30}, {10000, millis(30LL * 86400000), 10000}};
  int64_t t0 = 1'700'000'000'000;
  rate_budget b(windows, t0);
  EXPECT_EQ(b.forecast(t0), (nlohmann::json{nullptr, nullptr}));  // nothing spent: nothing runs out
  int64_t now = t0;
  for (int minute = 0; minute < 60; ++minute, now += 60000)
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(b.try_take(1, now + i * 1000));  // 6 a minute for an hour
  auto f = b.forecast(now);
  EXPECT_TRUE(f[0].is_null());  // 6 a minute is well within 30 a minute
  ASSERT_TRUE(f[1].is_number());
  double per_minute_net = 6.0 - 10000.0 / (30 * 1440);         // what the month window loses a minute
  double left = b.remaining(now)[1];                             // 10,000 - 360 + an hour's refill
  EXPECT_NEAR(left, 10000 - 360 + 10000.0 / (30 * 24), 1.0);
  double expect_ms = left / per_minute_net * 60000;
  EXPECT_NEAR(static_cast<double>(f[1].get<int64_t>() - now), expect_ms, expect_ms * 0.01);  // about 27.9 h
  // An hour later with nothing spent, the rate is gone and so is the forecast.
  EXPECT_EQ(b.forecast(now + 3'600'000 + 60000), (nlohmann::json{nullptr, nullptr}));
}
