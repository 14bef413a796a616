// The redis_stream copy sink against a real redis-server: a burst is copied whole and in order,
// a batch at a time (its XADDs pipelined).
#include <gtest/gtest.h>

#include <thread>

#include "../../../tests/support/numbered_record.hpp"
#include "../../../tests/support/redis_server.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "sink/copy_sink.hpp"

using namespace tributary;
using namespace tributary::test_support;


TEST(RedisStreamSink, ABurstIsCopiedWholeAndInOrder) {
  redis_server redis;
  metrics m;
  sink_config cfg;
  cfg.name = "copy";
  cfg.type = sink_type::redis_stream;
  cfg.redis_url = "redis://127.0.0.1:" + std::to_string(redis.port());
  cfg.key = "copies";
  cfg.maxlen = 100000;
  auto made = make_sink(cfg, m, [] { return true; }, make_logger("t", "off", nullptr));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<copy_sink>>(made)) << std::get<std::string>(made);
  auto& sink = *std::get<std::unique_ptr<copy_sink>>(made);
  sink.start();
  redis_client q(redis.endpoint(), millis(2000));
  ASSERT_EQ(std::get<redis_reply>(q.command({"CLIENT", "PAUSE", "300", "WRITE"})).str, "OK");  // the burst piles up meanwhile
  for (uint64_t i = 1; i <= 500; ++i) sink.accept(numbered_price(i % 2 ? "BTC-USDT" : "ETH-USDT", i));
  for (int i = 0; i < 500 && sink.buffered() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(sink.buffered(), 0u);
  auto all = std::get<redis_reply>(q.command({"XRANGE", "copies", "-", "+"}));
  ASSERT_EQ(all.elements.size(), 500u);
  for (size_t i = 0; i < all.elements.size(); ++i) {
    auto& kv = all.elements[i].elements[1].elements;  // topic, seq, record
    ASSERT_GE(kv.size(), 4u);
    EXPECT_EQ(kv[3].str, std::to_string(i + 1)) << "entry " << i;
  }
  EXPECT_EQ(sink.status()["written"], 500);
  sink.stop();
}
