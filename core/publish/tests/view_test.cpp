#include <gtest/gtest.h>

#include "config/config.hpp"
#include "../../../tests/support/publish_path.hpp"

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
  test_support::publish_path path;
  record_cache& cache = path.cache;
  intake& out = path.out;
  view_engine views{{dashboard()}};
  piped() { path.set_views(&views); }
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

TEST(Views, AViewHasNoValueUntilOneOfItsFieldsHasOne) {
  piped p;
  p.out.publish(rec("price", "BTC-USD", {{"bid", 84250.4}}, 1000));  // an input, but none of its fields the view reads
  EXPECT_TRUE(p.view().is_null());  // so no {"stale":[],"updated_at":0}: its route answers 404
  p.out.publish(rec("price", "BTC-USD", {{"price", 84250.5}}, 1100));
  EXPECT_EQ(p.view()["btc"], 84250.5);
  EXPECT_EQ(p.view_seq(), 1u);
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
  record_cache cache;
  delivery follower(cache, nullptr);
  view_engine views{{dashboard()}};
  bool leading = false;
  std::vector<record> made;
  follower.set_views(&views, [&](record r) { made.push_back(std::move(r)); }, [&] { return leading; });
  auto input = rec("price", "BTC-USD", {{"price", 5.0}}, 1000);
  input.seq = 7;
  follower.on_publication(published_record::make(input));
  EXPECT_TRUE(made.empty());  // the leader makes views; they arrive numbered
  auto v = rec("view", "dashboard", {{"btc", 5.0}, {"stale", json::array()}, {"updated_at", 1000}}, 1000);
  v.seq = 3;
  follower.on_publication(published_record::make(v));
  EXPECT_EQ(cache.latest("view.dashboard")->rec.seq, 3u);
  // Promoted: the same value again changes nothing; a new one makes a view to publish.
  leading = true;
  input.seq = 8;
  input.received = 2000;
  follower.on_publication(published_record::make(input));
  EXPECT_TRUE(made.empty());
  input.seq = 9;
  input.data["price"] = 6.0;
  follower.on_publication(published_record::make(input));
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].data["btc"], 6.0);
}

}  // namespace
}  // namespace tributary
