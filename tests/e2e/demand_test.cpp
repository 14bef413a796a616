// demand = "subscribed" through the real server: a feed nobody subscribes to makes no request;
// a WebSocket client's subscription to one topic makes the next run ask for that subject only
// (the only cassette there is answers ETH alone); after it unsubscribes, runs stop after the
// linger.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"
#include "../support/redis_server.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

json status_of(unsigned short port) { return json::parse(http_get(port, "/api/v1/status").body); }

std::string demand_feed(const std::string& linger) {
  return R"([plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT"]
every = "200ms"
sources = ["binance"]
demand = "subscribed"
demand_linger = ")" + linger + "\"\n";
}

// Polls the status until `pred` holds (at most 10 s).
json status_when(unsigned short port, const std::function<bool(const json&)>& pred) {
  json s;
  for (int i = 0; i < 400; ++i) {
    s = status_of(port);
    if (pred(s)) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ADD_FAILURE() << "status never got there: " << s.dump();
  return s;
}

}  // namespace

TEST(DemandE2E, AFeedAsksOnlyForSubscribedSubjectsThroughTheRealServer) {
  temp_dir d;
  d.cassette("cassettes/eth.json", "/api/v3/ticker/24hr", {{"symbols", R"(["ETHUSDT"])"}}, 200,
             json::array({{{"symbol", "ETHUSDT"}, {"lastPrice", "3201.5"}}}));
  auto node = launch(std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
)" + demand_feed("1s"),
                     (d.path() / "cassettes").string());
  auto port = node.port;
  ASSERT_NE(port, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // five due runs
  auto idle = status_of(port);
  EXPECT_EQ(idle["plugins"][0]["requests"], 0) << idle.dump();
  EXPECT_EQ(idle["feeds"][0]["demand"]["idle"], json({"BTC-USDT", "ETH-USDT"}));

  {
    ws_client ws(port);
    EXPECT_EQ(ws.read()["type"], "hello");
    ws.send(R"({"type":"subscribe","id":"s1","topics":["price.ETH-USDT"]})");
    EXPECT_EQ(ws.read()["type"], "subscribed");
    // Fetched for this subscriber: an update, or the snapshot when the fetch landed before the
    // subscription's snapshots were taken.
    auto first = ws.read();
    ASSERT_TRUE(first["type"] == "update" || first["type"] == "snapshot") << first.dump();
    EXPECT_EQ(first["record"]["seq"], 1);
    EXPECT_EQ(first["record"]["data"]["price"], 3201.5);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ws.read()["topic"], "price.ETH-USDT");  // and on every run after
    auto s = status_of(port);
    EXPECT_EQ(s["plugins"][0]["failures"], 0) << s.dump();  // never asked for BTC: no cassette for it
    EXPECT_EQ(s["feeds"][0]["demand"]["demanded"], json({"ETH-USDT"}));
    EXPECT_EQ(s["feeds"][0]["demand"]["idle"], json({"BTC-USDT"}));
    ws.send(R"({"type":"unsubscribe","id":"u1","topics":["price.ETH-USDT"]})");
  }
  auto lingering = status_when(port, [](const json& s) { return !s["feeds"][0]["demand"]["lingering"].empty(); });
  EXPECT_LE(lingering["feeds"][0]["demand"]["lingering"][0]["stops_in_ms"], 1000);
  status_when(port, [](const json& s) { return s["feeds"][0]["demand"]["idle"].size() == 2; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a run in flight at the end lands
  auto before = status_of(port)["plugins"][0]["requests"].get<int>();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // four due runs
  auto after = status_of(port);
  EXPECT_EQ(after["plugins"][0]["requests"], before) << after.dump();
  EXPECT_EQ(after["plugins"][0]["failures"], 0);
  node.proc->signal(SIGTERM);
  EXPECT_EQ(node.proc->wait(), 0) << node.proc->err();
}

// In a cluster, the follower's subscriber is what the leader polls for: the demand goes
// through Redis.
TEST(DemandE2E, AFollowersSubscriberMakesTheLeaderFetch) {
  redis_server redis;
  temp_dir d;
  d.cassette("eth.json", "/api/v3/ticker/24hr", {{"symbols", R"(["ETHUSDT"])"}}, 200,
             json::array({{{"symbol", "ETHUSDT"}, {"lastPrice", "3201.5"}}}));
  std::string cfg = cluster_config(redis.endpoint().port);
  cfg = cfg.substr(0, cfg.find("[plugins.binance]")) + demand_feed("5m");
  std::vector<instance> nodes;
  nodes.push_back(launch(cfg, d.path().string()));
  nodes.push_back(launch(cfg, d.path().string()));
  int leader = wait_leader(nodes, std::chrono::seconds(10), {true, true});
  ASSERT_GE(leader, 0);
  auto& follower = nodes[1 - leader];
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(nodes[leader].status()["plugins"][0]["requests"], 0);
  ws_client ws(follower.port);
  EXPECT_EQ(ws.read()["type"], "hello");
  ws.send(R"({"type":"subscribe","id":"s1","topics":["price.ETH-USDT"]})");
  EXPECT_EQ(ws.read()["type"], "subscribed");
  auto first = ws.read();
  EXPECT_EQ(first["topic"], "price.ETH-USDT") << first.dump();
  EXPECT_EQ(first["record"]["data"]["price"], 3201.5);
  auto s = nodes[leader].status();
  EXPECT_GT(s["plugins"][0]["requests"], 0);
  EXPECT_EQ(s["plugins"][0]["failures"], 0) << s.dump();  // asked for ETH alone
  EXPECT_EQ(s["feeds"][0]["demand"]["demanded"], json({"ETH-USDT"}));
  for (auto& n : nodes) n.proc->signal(SIGTERM);
  for (auto& n : nodes) EXPECT_EQ(n.proc->wait(), 0) << n.proc->err();
}
