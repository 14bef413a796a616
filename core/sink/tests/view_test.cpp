#include <gtest/gtest.h>

#include "config/config.hpp"
#include "sink/cache.hpp"
#include "sink/metrics.hpp"
#include "sink/pipeline.hpp"
#include "sink/view_engine.hpp"

namespace tributary {
namespace {

using nlohmann::json;

view_config dashboard() {
  view_config v;
  v.name = "dashboard";
  v.route = "/d";
  v.fields = {{"btc", "price.BTC-USD", "price"}, {"chg", "price.BTC-USD", "change_24h_pct"}, {"fg", "sentiment.fear_greed", "value"},
              {"cap", "market.global", "total_market_cap"}};
  return v;
}

record rec(std::string kind, std::string subject, json data, int64_t received, bool stale = false) {
  record r;
  r.kind = std::move(kind);
  r.subject = std::move(subject);
  r.source = "s";
  r.feed = "f";
  r.data = std::move(data);
  r.received = received;
  r.stale = stale;
  return r;
}

struct piped {
  record_cache cache;
  sequencer seq;
  metrics m;
  pipeline out{cache, seq, m};
  view_engine views{{dashboard()}};
  piped() { out.set_views(&views); }
  json view() {
    auto r = cache.latest("view.dashboard");
    return r ? r->rec.data : json();
  }
  uint64_t view_seq() { return cache.latest("view.dashboard")->rec.seq; }
};

TEST(Views, UnknownInputsAreLeftOutAndNothingIsDefaulted) {
  piped p;
  EXPECT_TRUE(p.view().is_null());
  p.out.publish(rec("price", "BTC-USD", {{"price", 84250.5}}, 1000));  // no change_24h_pct given
  EXPECT_EQ(p.view(), (json{{"btc", 84250.5}, {"stale", json::array()}, {"updated_at", 1000}}));
  p.out.publish(rec("sentiment", "fear_greed", {{"value", 72}}, 2000));
  EXPECT_EQ(p.view(), (json{{"btc", 84250.5}, {"fg", 72}, {"stale", json::array()}, {"updated_at", 2000}}));
  EXPECT_EQ(p.view_seq(), 2u);
}

TEST(Views, StaleInputsAreListedAndUnchangedInputsPublishNothing) {
  piped p;
  p.out.publish(rec("price", "BTC-USD", {{"price", 1.0}, {"change_24h_pct", 2.5}}, 1000));
  p.out.publish(rec("price", "BTC-USD", {{"price", 1.0}, {"change_24h_pct", 2.5}}, 1500));  // same values
  EXPECT_EQ(p.view_seq(), 1u);
  p.out.publish(rec("price", "ETH-USD", {{"price", 1.0}}, 1600));  // not an input
  EXPECT_EQ(p.view_seq(), 1u);
  p.out.mark_stale("price.BTC-USD");
  EXPECT_EQ(p.view()["stale"], json::array({"btc", "chg"}));
  EXPECT_EQ(p.view_seq(), 2u);
}

TEST(Views, AFollowerTakesViewsFromTheLeaderAndPublishesOnlyChanges) {
  piped follower;
  auto input = rec("price", "BTC-USD", {{"price", 5.0}}, 1000);
  input.seq = 7;
  EXPECT_TRUE(follower.out.ingest(input));
  EXPECT_TRUE(follower.view().is_null());  // the leader makes views; they arrive numbered
  auto v = rec("view", "dashboard", {{"btc", 5.0}, {"stale", json::array()}, {"updated_at", 1000}}, 1000);
  v.seq = 3;
  EXPECT_TRUE(follower.out.ingest(v));
  // Promoted: the same value again changes nothing; a new one continues the leader's numbering.
  follower.out.publish(rec("price", "BTC-USD", {{"price", 5.0}}, 2000));
  EXPECT_EQ(follower.view_seq(), 3u);
  follower.out.publish(rec("price", "BTC-USD", {{"price", 6.0}}, 3000));
  EXPECT_EQ(follower.view_seq(), 4u);
  EXPECT_EQ(follower.view()["btc"], 6.0);
}

}  // namespace
}  // namespace tributary
