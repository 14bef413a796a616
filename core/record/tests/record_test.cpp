#include <gtest/gtest.h>

#include "record/record.hpp"
#include "record/topic.hpp"

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

TEST(Record, WriteJsonMakesTheSameBytesAsTheDom) {
  record r;
  r.kind = "event";
  r.subject = "user.42.orders";
  r.source = "redis_pubsub";
  r.feed = "orders";
  r.ts = 1796312489596;
  r.received = -5;
  r.seq = 18446744073709551615ull;
  for (auto data : {nlohmann::json(), nlohmann::json::object(),
                    nlohmann::json{{"price", 1.0}, {"b", 0.1}, {"c", 1e21}, {"d", -0.0}, {"e", 123456789012345}, {"f", -7}},
                    nlohmann::json{{"s", "caf\xc3\xa9 \"q\" \\ \n\t\x01"}, {"bad", "\xff\xfe"}, {"n", nullptr}, {"t", true}},
                    nlohmann::json{{"nested", {{"a", {1, 2.5, "x", {{"z", false}}}}}}, {"nan", std::nan("")}}}) {
    r.data = data;
    for (bool stale : {false, true}) {
      r.stale = stale;
      r.native = stale ? "" : "BTCUSDT";
      std::string out = "left over";
      r.write_json(out);
      EXPECT_EQ(out, r.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  for (const char* subject : {"odd\"subject", "not-utf8-\xff\xfe"}) {
    r.subject = subject;
    std::string out;
    r.write_json(out);
    EXPECT_EQ(out, r.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

// A reused record (a push feed's kept result) is cleared between messages: it must come back
// to a default record in every field, or a field one message set would leak into the next.
TEST(Record, ClearGivesBackADefaultRecordAndKeepsTheStorage) {
  record r;
  r.kind = "event";
  r.subject = "user.1234567890.orders";
  r.source = "tasks";
  r.feed = "orders";
  r.native = "task_status_updates";
  r.ts = 1773153015000;
  r.received = 1773153015123;
  r.seq = 17;
  r.stale = true;
  r.data_text = R"({"a long enough object":"to be on the heap, not in the string"})";
  auto room = r.data_text.capacity();
  r.clear();
  std::string cleared, fresh;
  r.write_json(cleared);
  record{}.write_json(fresh);
  EXPECT_EQ(cleared, fresh);
  EXPECT_EQ(r.to_json(), record{}.to_json());
  EXPECT_EQ(r.data_text.capacity(), room);
  r.data = {{"price", 1}};
  r.clear();
  EXPECT_TRUE(r.data.is_null());
}
