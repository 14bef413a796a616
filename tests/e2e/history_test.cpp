// History by topic pattern ([[server.history]]) in cluster mode: kept in Redis by the fenced
// write, loaded by a node that starts, announced with an epoch. Real nodes, a real redis-server,
// the redis_pubsub plugin through the real loader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "../support/redis_server.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

// Orders pushed on a Redis channel become event.<area>.<id>.orders; personal ones
// (event.user.*) keep 5,000 updates for 24 h, the rest the default 256.
std::string orders_cluster(int redis_port) {
  auto url = "redis://127.0.0.1:" + std::to_string(redis_port);
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
queue_limit = 10000
queue_limit_bytes = 67108864
[[server.history]]
topics = ["event.user.*"]
size = 5000
ttl = "24h"
[cluster]
mode = "redis"
redis_url = ")" + url + R"("
name = "hist"
lease = "1s"
renew_every = "250ms"
[plugins.orders]
plugin = "redis_pubsub"
redis_url = ")" + url + R"("
channel = "orders"
subject = "{area}.{id}.orders"
[feeds.orders]
kind = "event"
subjects = ["*"]
sources = ["orders"]
mode = "stream"
)";
}

tributary::redis_reply redis_do(redis_server& redis, const std::vector<std::string>& argv) { return redis.command(argv); }

// The seq Redis holds as written for `topic` (0: none yet).
uint64_t written(redis_server& redis, const std::string& topic) {
  auto v = redis_do(redis, {"HGET", "tributary:hist:seqs", topic});
  return v.str.empty() ? 0 : std::stoull(v.str);
}

void wait_subscribed_upstream(redis_server& redis) {
  for (int i = 0; i < 250; ++i) {
    auto r = redis_do(redis, {"PUBSUB", "NUMSUB", "orders"});
    if (r.elements.size() == 2 && r.elements[1].integer >= 1) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the leader never subscribed to the channel";
}

json read_type(ws_client& c, const std::string& type) {
  for (;;) {
    auto m = c.read();
    if (m["type"] == type) return m;
  }
}

}  // namespace

// A trader away for 2,000 updates, while the node it comes back to restarted, recovers every
// one of its personal events there, and only the latest of a topic under the default rule.
TEST(History, AClientAwayFor2000UpdatesRecoversOnAnotherNodeUnderItsTopicsRule) {
  redis_server redis;
  auto cfg = orders_cluster(redis.port());
  std::vector<instance> all;
  all.push_back(launch(cfg, ""));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg, ""));
  wait_subscribed_upstream(redis);
  const std::string mine = "event.user.42.orders", other = "event.jobs.7.orders";
  auto push = [&](int n) {
    redis_do(redis, {"PUBLISH", "orders", json{{"area", "user"}, {"id", "42"}, {"n", n}}.dump()});
    redis_do(redis, {"PUBLISH", "orders", json{{"area", "jobs"}, {"id", "7"}, {"n", n}}.dump()});
  };
  push(0);
  for (int i = 0; i < 250 && (written(redis, mine) == 0 || written(redis, other) == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string epoch;
  uint64_t mine_at = 0, other_at = 0;
  {
    ws_client away(all[0].port);
    epoch = read_type(away, "hello")["epoch"];
    away.send(json{{"type", "subscribe"}, {"id", 1}, {"topics", {mine, other}}}.dump());
    EXPECT_EQ(read_type(away, "subscribed")["epoch"], epoch);
    for (int got = 0; got < 2;) {
      auto m = away.read();
      if (m["type"] != "snapshot") continue;
      (m["topic"] == mine ? mine_at : other_at) = m["record"]["seq"];
      ++got;
    }
  }
  for (int n = 1; n <= 2000; ++n) push(n);
  for (int i = 0; i < 1000 && (written(redis, mine) < mine_at + 2000 || written(redis, other) < other_at + 2000); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(written(redis, mine), mine_at + 2000);
  // The other node restarts: what it held in memory is gone; it loads the history from Redis.
  all[1].proc.reset();
  all[1] = launch(cfg, "");
  ws_client back(all[1].port, "/ws", std::chrono::seconds(20));
  EXPECT_EQ(read_type(back, "hello")["epoch"], epoch);  // the cluster's, not the node's
  back.send(json{{"type", "subscribe"}, {"id", 2}, {"topics", {mine, other}}, {"epoch", epoch}, {"since", {{mine, mine_at}, {other, other_at}}}}.dump());
  auto ack = read_type(back, "subscribed");
  EXPECT_EQ(ack["recovery"][mine], "recovered") << ack;
  EXPECT_EQ(ack["recovery"][other], "snapshot") << ack;  // 2,000 updates are past the default 256
  EXPECT_FALSE(ack.contains("epoch_changed"));
  uint64_t next = mine_at + 1;
  int others = 0;
  while (next <= mine_at + 2000) {
    auto m = back.read();
    if (m["topic"] == other) {
      ++others;
      EXPECT_EQ(m["type"], "snapshot");
      EXPECT_EQ(m["record"]["seq"], other_at + 2000);  // only the latest
      continue;
    }
    ASSERT_EQ(m["type"], "update") << m;
    ASSERT_EQ(m["record"]["seq"], next) << "every personal event, in order, none twice";
    EXPECT_EQ(m["record"]["data"]["n"], next - mine_at);
    ++next;
  }
  EXPECT_LE(others, 1);
  // A client from another epoch (a lost history) is told, and starts over.
  ws_client stranger(all[0].port);
  stranger.send(json{{"type", "subscribe"}, {"id", 3}, {"topics", {mine}}, {"epoch", "another"}, {"since", {{mine, mine_at}}}}.dump());
  auto reset = read_type(stranger, "subscribed");
  EXPECT_EQ(reset["epoch_changed"], true);
  EXPECT_EQ(reset["recovery"][mine], "snapshot");
  EXPECT_EQ(read_type(stranger, "snapshot")["record"]["seq"], mine_at + 2000);
  // In Redis: one capped stream per topic, with the rule's TTL.
  EXPECT_EQ(redis_do(redis, {"XLEN", "tributary:hist:history:" + mine}).integer, 2001);
  EXPECT_GT(redis_do(redis, {"PTTL", "tributary:hist:history:" + mine}).integer, 23 * 3600 * 1000LL);
  EXPECT_LT(redis_do(redis, {"XLEN", "tributary:hist:history:" + other}).integer, 2000);
}
