// [sinks.*] end to end: publications copied to Kafka (librdkafka's mock cluster in its own
// process) and to a Redis stream (a real redis-server), read back by their own consumers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "../support/kafka_mock.hpp"
#include "../support/redis_server.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

std::string base_config() {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
)" + demo_spot_feed("100ms");
}

int ready(const instance& in) { return http_get(in.port, "/ready").status; }

json sink_status(const instance& in, const std::string& name) {
  auto st = in.status();
  for (auto& s : st["sinks"])
    if (s["name"] == name) return s;
  return nullptr;
}


}  // namespace

// Records go to tributary.<kind>, keyed by their topic, with seq and epoch in headers, each
// topic in order; a 4 s broker outage is held in the buffer, shown, and nothing is lost.
TEST(Sinks, KafkaGetsEachTopicInOrderAndHoldsRecordsThroughAnOutage) {
  kafka_mock k;
  k.create_topic("tributary.price", 3);
  auto in = launch(base_config() + "[sinks.back]\ntype = \"kafka\"\nbrokers = \"" + k.bootstrap() +
                   "\"\ntopic = \"tributary.{kind}\"\nrecords = [\"price.BTC-USDT\", \"price.ETH-USDT\"]\n");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  k.brokers_down();
  int r = 200;
  for (int i = 0; i < 100 && r == 200; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(100))) r = ready(in);
  EXPECT_EQ(r, 503);
  EXPECT_EQ(sink_status(in, "back")["state"], "failing");
  EXPECT_EQ(metric(http_get(in.port, "/metrics").body, R"(tributary_sink_up{sink="back"})"), 0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_GT(sink_status(in, "back")["buffered"].get<int>(), 0);
  k.brokers_up();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  in.proc->signal(SIGTERM);  // a clean stop flushes what is left
  ASSERT_EQ(in.proc->wait(), 0) << in.proc->err();
  kafka_reader reader(k.bootstrap(), {"tributary.price"}, "check");
  auto got = reader.read(100000, std::chrono::seconds(8));
  ASSERT_GT(got.size(), 20u);
  std::map<std::string, std::vector<uint64_t>> seqs;
  std::map<std::string, std::set<int32_t>> partitions;
  for (auto& m : got) {
    auto rec = json::parse(m.value);
    EXPECT_EQ(m.key, rec["kind"].get<std::string>() + "." + rec["subject"].get<std::string>());  // keyed by topic
    EXPECT_EQ(m.headers["seq"], std::to_string(rec["seq"].get<uint64_t>()));
    EXPECT_EQ(m.headers["epoch"], "0");
    seqs[m.key].push_back(rec["seq"].get<uint64_t>());
    partitions[m.key].insert(m.partition);
  }
  EXPECT_EQ(seqs.size(), 2u);  // only the topics `records` names
  for (auto& [topic, s] : seqs) {
    EXPECT_EQ(partitions[topic].size(), 1u) << topic;
    // librdkafka's mock cluster checks an idempotent producer's id and epoch but keeps no
    // sequence numbers, so a batch in flight when the brokers went down can be appended again
    // when it is retried (a real broker drops the retry). Such a repeat is a seq right after
    // itself, once around the outage; anything missing, reordered or repeated more fails.
    size_t before = s.size();
    s.erase(std::unique(s.begin(), s.end()), s.end());
    EXPECT_LE(before - s.size(), 5u) << topic << ": repeated more than a retried batch";
    for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i], s[i - 1] + 1) << topic << ": in order, none lost";
  }
  // The records seen published are all there: none was dropped.
  EXPECT_THAT(in.proc->err(), ::testing::Not(::testing::HasSubstr("dropped")));
}

// The dashboard's main service keeps reading market_data_stream: a view in flat form.
TEST(Sinks, ARedisStreamGetsAViewInFlatForm) {
  redis_server redis;
  auto in = launch(base_config() + R"(
[views.market]
fields = { btc_price_usd = "price.BTC-USDT:price", eth_price_usd = "price.ETH-USDT:price" }
[sinks.market]
type = "redis_stream"
redis_url = "redis://127.0.0.1:)" + std::to_string(redis.port()) + R"("
key = "market_data_stream"
records = ["view.market"]
maxlen = 50
format = "flat"
[sinks.all]
type = "redis_stream"
redis_url = "redis://127.0.0.1:)" + std::to_string(redis.port()) + R"("
)");
  tributary::redis_client c(redis.endpoint(), tributary::millis(1000));
  std::map<std::string, std::string> fields;
  for (int i = 0; i < 100 && fields.size() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = c.command({"XREVRANGE", "market_data_stream", "+", "-", "COUNT", "1"});
    auto& rep = std::get<tributary::redis_reply>(r);
    if (rep.elements.empty()) continue;
    auto& kv = rep.elements[0].elements[1].elements;
    fields.clear();
    for (size_t j = 0; j + 1 < kv.size(); j += 2) fields[kv[j].str] = kv[j + 1].str;
  }
  // Each member of the view's data (its inputs and its list of stale ones), and updated_at.
  ASSERT_EQ(fields.size(), 4u) << json(fields).dump();
  EXPECT_EQ(fields["stale"], "[]");
  EXPECT_GT(std::stod(fields["btc_price_usd"]), 1000);
  EXPECT_GT(std::stod(fields["eth_price_usd"]), 100);
  EXPECT_THAT(fields["updated_at"], ::testing::MatchesRegex(R"(20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{3})?Z)"));
  // The default form: topic, seq and the record, at tributary:records.
  auto r = c.command({"XREVRANGE", "tributary:records", "+", "-", "COUNT", "1"});
  auto& kv = std::get<tributary::redis_reply>(r).elements.at(0).elements[1].elements;
  ASSERT_EQ(kv.size(), 6u);
  EXPECT_EQ(kv[0].str, "topic");
  EXPECT_EQ(kv[2].str, "seq");
  EXPECT_EQ(json::parse(kv[5].str)["seq"], std::stoull(kv[3].str));
  // Trimmed to about maxlen.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto len = c.command({"XLEN", "market_data_stream"});
  EXPECT_LT(std::get<tributary::redis_reply>(len).integer, 200);
}

// In cluster mode only the leader copies: each record once in the sink's stream, though every
// node delivers it.
TEST(Sinks, InClusterModeOnlyTheLeaderCopies) {
  redis_server redis;
  std::string cfg = cluster_config(redis.port()) + "[sinks.all]\ntype = \"redis_stream\"\nkey = \"copies\"\nmaxlen = 100000\n";
  std::vector<instance> nodes;
  for (int i = 0; i < 2; ++i) nodes.push_back(launch(cfg));
  std::vector<bool> alive(2, true);
  ASSERT_GE(wait_leader(nodes, std::chrono::seconds(10), alive), 0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  tributary::redis_client c(redis.endpoint(), tributary::millis(2000));
  auto r = c.command({"XRANGE", "copies", "-", "+"});
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (auto& e : std::get<tributary::redis_reply>(r).elements) {
    auto& f = e.elements[1].elements;
    seqs[f[1].str].push_back(std::stoull(f[3].str));  // topic, seq
  }
  ASSERT_GE(seqs.size(), 5u);
  for (auto& [topic, s] : seqs) {
    ASSERT_GE(s.size(), 2u) << topic;
    for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i], s[i - 1] + 1) << topic << ": each seq once, in order";
  }
  for (auto& n : nodes) {
    auto st = n.status();
    bool leader = st["role"] == "leader";
    EXPECT_EQ(st["sinks"][0]["written"].get<double>() > 0, leader) << "only the leader writes";
  }
}

// Standalone with [stream] and a Redis sink, with nothing to write: when Redis goes away /ready
// says so (each writer PINGs while idle), and says ready again once Redis is back.
TEST(Sinks, ReadyReflectsRedisWithNothingToWrite) {
  redis_server redis;
  auto url = "redis://127.0.0.1:" + std::to_string(redis.port());
  auto in = launch(base_config().replace(base_config().find("every = \"100ms\""), 15, "every = \"1h\"") + "[cluster]\nredis_url = \"" +
                   url + "\"\nname = \"idle\"\n[stream]\nenabled = true\n[sinks.copy]\ntype = \"redis_stream\"\nredis_url = \"" + url +
                   "\"\nrecords = [\"nothing.*\"]\n");
  auto ready_is = [&](int want) {
    int r = 0;
    for (int i = 0; i < 100 && r != want; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(100))) r = ready(in);
    return r;
  };
  ASSERT_EQ(ready_is(200), 200);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the one round of records is written
  redis.stop();
  EXPECT_EQ(ready_is(503), 503);
  // Both writers PING on their own clocks: each says so within its probe interval.
  auto both_down = [&] {
    auto m = http_get(in.port, "/metrics").body;
    return metric(m, R"(tributary_sink_up{sink="copy"})") == 0 && metric(m, "tributary_stream_write_failing") == 1;
  };
  for (int i = 0; i < 60 && !both_down(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(both_down());
  EXPECT_EQ(sink_status(in, "copy")["state"], "failing");
  redis.start();
  EXPECT_EQ(ready_is(200), 200);
  EXPECT_EQ(sink_status(in, "copy")["state"], "ok");
}
