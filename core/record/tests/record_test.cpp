#include <gtest/gtest.h>

#include "record/record.hpp"
#include "sink/cache.hpp"
#include "sink/fanout_hub.hpp"
#include "sink/metrics.hpp"
#include "sink/pipeline.hpp"

using namespace tributary;

TEST(Record, JsonShapeMatchesSchemaAndRoundTrips) {
  record r;
  r.kind = "price";
  r.subject = "BTC-USDT";
  r.source = "binance";
  r.feed = "spot";
  r.native = "BTCUSDT";
  r.ts = 1773153015000;
  r.received = 1773153015123;
  r.seq = 17;
  r.data = {{"price", 84250.12}};
  auto j = r.to_json();
  EXPECT_EQ(j["schema"], "tributary.v1");
  EXPECT_EQ(j["topic"], "price.BTC-USDT");
  EXPECT_EQ(j["seq"], 17);
  EXPECT_EQ(j["stale"], false);
  auto back = record::from_json(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to_json(), j);
  EXPECT_FALSE(record::from_json(nlohmann::json{{"schema", "other"}}));
}

TEST(Vocabulary, SubjectsAndFields) {
  using namespace vocabulary;
  EXPECT_FALSE(check_subject("price", "BTC-USDT"));
  EXPECT_TRUE(check_subject("price", "BTCUSDT"));
  EXPECT_TRUE(check_subject("price", "btc-usdt"));
  EXPECT_FALSE(check_subject("market", "global"));
  EXPECT_TRUE(check_subject("market", "BTC"));
  EXPECT_FALSE(check_subject("candle", "BTC-USDT.1h"));
  EXPECT_TRUE(check_subject("candle", "BTC-USDT"));
  EXPECT_FALSE(check_subject("indicator", "BTC-USDT.rsi.1d"));
  EXPECT_EQ(field("price", "price"), field_type::number);
  EXPECT_FALSE(field("price", "last"));
  EXPECT_EQ(field("candle", "closed"), field_type::boolean);
  EXPECT_EQ(field("sentiment", "classification"), field_type::string);
  EXPECT_EQ(field("indicator", "upper_band"), field_type::number);  // multi-valued indicators
  EXPECT_EQ(required_fields("price"), std::vector<std::string>{"price"});
}

TEST(Pipeline, SequencesPerTopicCachesAndMarksStaleOnce) {
  record_cache cache;
  fanout_hub hub;
  sequencer seq;
  metrics m;
  pipeline p(cache, seq, m);
  p.add_sink(&hub);
  record a;
  a.kind = "price";
  a.subject = "BTC-USDT";
  a.data = {{"price", 1}};
  EXPECT_EQ(p.publish(a)->rec.seq, 1u);
  EXPECT_EQ(p.publish(a)->rec.seq, 2u);
  record b = a;
  b.subject = "ETH-USDT";
  EXPECT_EQ(p.publish(b)->rec.seq, 1u);
  auto s = p.mark_stale("price.BTC-USDT");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->rec.stale);
  EXPECT_EQ(s->rec.seq, 3u);
  EXPECT_EQ(s->rec.data["price"], 1);
  EXPECT_FALSE(p.mark_stale("price.BTC-USDT"));  // already stale: not re-announced again
  EXPECT_FALSE(p.mark_stale("price.XRP-USDT"));  // unknown: nothing invented
  EXPECT_EQ(cache.latest("price.BTC-USDT")->rec.seq, 3u);
  EXPECT_EQ(m.value("tributary_records_total", {{"kind", "price"}, {"source", ""}}), 4);
}

TEST(Topics, PatternMatching) {
  EXPECT_TRUE(topic_matches("*", "price.BTC-USDT"));
  EXPECT_TRUE(topic_matches("price.*", "price.BTC-USDT"));
  EXPECT_FALSE(topic_matches("price.*", "prices.BTC"));
  EXPECT_FALSE(topic_matches("price.*", "price."));
  EXPECT_TRUE(topic_matches("candle.BTC-USDT.*", "candle.BTC-USDT.1h"));
  EXPECT_TRUE(topic_matches("price.BTC-USDT", "price.BTC-USDT"));
  EXPECT_FALSE(topic_matches("price.BTC", "price.BTC-USDT"));
  EXPECT_EQ(check_pattern("price.*"), "");
  EXPECT_NE(check_pattern("pri*ce"), "");
  EXPECT_NE(check_pattern(""), "");
  EXPECT_NE(check_pattern(".*"), "");
}
