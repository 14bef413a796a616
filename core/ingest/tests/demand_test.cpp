// demand = "subscribed": which topics are wanted, by patterns, views and other nodes, and how
// long after the last subscriber leaves (a fake clock).
#include <gtest/gtest.h>

#include "ingest/demand.hpp"
#include "util/clock.hpp"

using namespace tributary;

namespace {
struct rig {
  fake_clock clock{1'000'000};
  demand_tracker d{clock};
  int woken = 0;
  rig() {
    d.watch({"price.BTC-USDT", "price.ETH-USDT", "candle.BTC-USDT.1m"}, {});
    d.on_wanted([this] { ++woken; });
  }
};
}  // namespace

TEST(Demand, NothingIsWantedUntilAPatternMatches) {
  rig r;
  EXPECT_EQ(r.d.last_wanted("price.BTC-USDT"), 0);
  EXPECT_FALSE(r.d.wanted("price.BTC-USDT", 300000, r.clock.now_ms()));
  EXPECT_FALSE(r.d.pattern("ticker.*", true));  // matches nothing watched
  EXPECT_EQ(r.woken, 0);
  EXPECT_TRUE(r.d.pattern("price.ETH-USDT", true));
  EXPECT_EQ(r.woken, 1);
  EXPECT_TRUE(r.d.wanted("price.ETH-USDT", 0, r.clock.now_ms()));
  EXPECT_FALSE(r.d.wanted("price.BTC-USDT", 300000, r.clock.now_ms()));
  EXPECT_EQ(r.d.local(), (std::set<std::string>{"price.ETH-USDT"}));
  EXPECT_FALSE(r.d.pattern("price.ETH-USDT", true));  // already held: no change
  EXPECT_EQ(r.woken, 1);
}

TEST(Demand, PrefixAndAllPatternsCountOnceEachAndLingerAfterTheLastGoes) {
  rig r;
  r.d.pattern("price.*", true);
  r.d.pattern("*", true);
  EXPECT_EQ(r.woken, 2);  // "*" made the candle newly wanted, not the prices
  EXPECT_TRUE(r.d.wanted("candle.BTC-USDT.1m", 0, r.clock.now_ms()));
  r.d.pattern("*", false);
  EXPECT_FALSE(r.d.wanted("candle.BTC-USDT.1m", 0, r.clock.now_ms()));
  EXPECT_EQ(r.d.last_wanted("price.BTC-USDT"), INT64_MAX);  // price.* still holds it
  r.clock.advance(1000);
  EXPECT_TRUE(r.d.pattern("price.*", false));
  int64_t gone = r.clock.now_ms();
  EXPECT_EQ(r.d.last_wanted("price.BTC-USDT"), gone);
  r.clock.advance(299'999);
  EXPECT_TRUE(r.d.wanted("price.BTC-USDT", 300000, r.clock.now_ms()));
  r.clock.advance(1);
  EXPECT_FALSE(r.d.wanted("price.BTC-USDT", 300000, r.clock.now_ms()));
  EXPECT_TRUE(r.d.local().empty());
}

TEST(Demand, ViewsAndOtherNodesWantTopicsToo) {
  rig r;
  r.d.watch({"price.BTC-USDT", "price.ETH-USDT"}, {"price.BTC-USDT"});
  EXPECT_EQ(r.woken, 1);
  EXPECT_TRUE(r.d.wanted("price.BTC-USDT", 0, r.clock.now_ms()));
  EXPECT_EQ(r.d.local(), (std::set<std::string>{"price.BTC-USDT"}));  // shared with the others
  r.d.remote({"price.ETH-USDT", "price.SOL-USDT"});                 // SOL is not watched here
  EXPECT_EQ(r.woken, 2);
  EXPECT_TRUE(r.d.wanted("price.ETH-USDT", 0, r.clock.now_ms()));
  EXPECT_EQ(r.d.last_wanted("price.SOL-USDT"), 0);
  EXPECT_EQ(r.d.local(), (std::set<std::string>{"price.BTC-USDT"}));  // remote demand is not re-shared
  r.clock.advance(5);
  r.d.remote({});
  EXPECT_EQ(r.d.last_wanted("price.ETH-USDT"), r.clock.now_ms());
  // A reload that no longer watches a topic forgets it; one that keeps it keeps its state.
  r.d.pattern("price.ETH-USDT", true);
  r.d.watch({"price.ETH-USDT"}, {});
  EXPECT_EQ(r.d.last_wanted("price.BTC-USDT"), 0);
  EXPECT_EQ(r.d.last_wanted("price.ETH-USDT"), INT64_MAX);
}
