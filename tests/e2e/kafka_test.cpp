// The kafka source end to end: the kafka plugin through the real loader, `tributary run`, and
// librdkafka's mock cluster (3 brokers, in its own process) over real TCP. A real cluster is
// configured the same way.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tributary/topic_segment.hpp>

#include <map>
#include <set>
#include <thread>

#include "../support/jwt_sign.hpp"
#include "../support/kafka_mock.hpp"
#include "../support/redis_server.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

const std::string kSecret = "kafka-test-secret-0123456789-abcdefghij";

std::string token_for(const std::string& user) { return sign({{"sub", user}, {"exp", unix_now() + 600}}, "HS256", kSecret); }

// A host whose `orders` feed reads the Kafka topic `orders` into event.user.<userId>.orders.
std::string orders_config(const kafka_mock& k, const std::string& extra = "", const std::string& group = "trading", bool jwt = true) {
  std::string auth = jwt ? "[server.auth]\nmode = \"jwt\"\njwt_secret = \"" + kSecret + "\"\n" : "";
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
)" + auth + R"(
[plugins.orders]
plugin = "kafka"
brokers = ")" + k.bootstrap() + R"("
topics = ["orders"]
group = ")" + group + R"("
start = "earliest"
session_timeout_ms = 6000
subject = "user.{userId}.orders"
[feeds.orders]
kind = "event"
subjects = ["*"]
sources = ["orders"]
mode = "stream"
)" + extra;
}

std::string order(const std::string& user, int n) { return json{{"userId", user}, {"orderId", n}, {"status", "filled"}}.dump(); }


// Reads updates until `want` of them came or `limit` passed: (topic, seq) -> the record's data.
std::map<std::pair<std::string, uint64_t>, json> collect(ws_client& c, size_t want, std::chrono::seconds limit) {
  std::map<std::pair<std::string, uint64_t>, json> got;
  auto end = std::chrono::steady_clock::now() + limit;
  while (got.size() < want && std::chrono::steady_clock::now() < end) {
    auto m = c.read();
    if (m["type"] == "update") got[{m["topic"].get<std::string>(), m["record"]["seq"].get<uint64_t>()}] = m["record"]["data"];
  }
  return got;
}

// Prints a host's log when the test fails (a thrown read says nothing of the server's side).
struct log_on_failure {
  const instance& in;
  ~log_on_failure() {
    if (::testing::Test::HasFailure() || std::uncaught_exceptions() > 0)
      std::cerr << "host log:\n" << in.proc->err() << "\nmetrics:\n" << http_get(in.port, "/metrics").body << "\n";
  }
};

// Subscribes; the answer ("subscribed", or an "error").
json subscribe(ws_client& c, const std::vector<std::string>& topics) {
  c.send(json{{"type", "subscribe"}, {"id", 1}, {"topics", topics}}.dump());
  for (;;) {
    auto m = c.read();
    if (m["type"] == "subscribed" || m["type"] == "error") return m;
  }
}

}  // namespace

// The trading front end's migration, with its config as shipped (config/migrations/trading_ws.toml):
// orders, portfolio and trades for 5 users, each JWT client gets exactly its own.
TEST(Kafka, TheTradingMigrationGivesEachUserExactlyTheirOwn) {
  kafka_mock k;
  for (const char* t : {"orders", "portfolio", "trades"}) k.create_topic(t, 3);
  std::string cfg = slurp(TRIBUTARY_SOURCE_DIR "/config/migrations/trading_ws.toml");
  cfg.replace(cfg.find("plugin_dirs = ["), cfg.find(']', cfg.find("plugin_dirs = [")) - cfg.find("plugin_dirs = [") + 1,
              std::string("plugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + "\"]");
  cfg.replace(cfg.find("0.0.0.0:8081"), 12, "127.0.0.1:0");
  // No Binance here (no internet): its price feed is left out.
  cfg.erase(cfg.find("[plugins.binance]"), cfg.find("# Cluster mode") - cfg.find("[plugins.binance]"));
  ::setenv("KAFKA_BROKERS", k.bootstrap().c_str(), 1);
  ::setenv("TRIBUTARY_JWT_SECRET", kSecret.c_str(), 1);
  auto in = launch(cfg, "");
  log_on_failure show{in};
  // Identity providers' ids as they come: each reaches its user through the topic-segment encoding.
  const std::vector<std::string> ids = {"u0", "auth0|64f1c2", "alice@example.com", "0b7e5c3a-9f4d-4e2b-8a61-2c9d7f3e1a55", "bob.orders"};
  std::vector<std::unique_ptr<ws_client>> users;
  for (const auto& id : ids) {
    users.push_back(std::make_unique<ws_client>(in.port, "/ws?token=" + token_for(id), std::chrono::seconds(20)));
    EXPECT_EQ(subscribe(*users.back(), {"event.user." + tributary::encode_topic_segment(id) + ".*"})["type"], "subscribed");
  }
  ws_client bob(in.port, "/ws?token=" + token_for("u0"));
  auto refused = subscribe(bob, {"event.user." + tributary::encode_topic_segment(ids[1]) + ".*"});
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], "forbidden");
  // The config starts a new group at the latest offsets: what is produced before its
  // partitions are assigned is not for it. Wait for the three assignments (on a loaded
  // machine a group can take well over 15 s to form: producing before it did lost messages).
  ASSERT_GE(wait_assigned([&] { return in.proc->err(); }, 3), 3u) << "the consumer group never got its partitions";
  kafka_producer p(k.bootstrap());
  for (int n = 0; n < 60; ++n) {
    const char* topic = n % 3 == 0 ? "orders" : n % 3 == 1 ? "portfolio" : "trades";
    p.send(topic, order(ids[n % 5], n), ids[n % 5]);
  }
  p.flush();
  for (int u = 0; u < 5; ++u) {
    auto got = collect(*users[u], 12, std::chrono::seconds(30));
    ASSERT_EQ(got.size(), 12u) << "user " << ids[u] << "; host log: " << in.proc->err();
    std::set<int> orders;
    std::set<std::string> streams;
    for (auto& [key, data] : got) {
      EXPECT_EQ(key.first.rfind("event.user." + tributary::encode_topic_segment(ids[u]) + ".", 0), 0u) << key.first;
      EXPECT_EQ(data["userId"], ids[u]);
      orders.insert(data["orderId"].get<int>());
      streams.insert(key.first.substr(key.first.rfind('.') + 1));
    }
    EXPECT_EQ(orders.size(), 12u);  // twelve different messages, each once
    EXPECT_EQ(streams, (std::set<std::string>{"orders", "portfolio", "trades"}));
  }
}

// Non-JSON, a missing template field and over 64 KiB: each rejected and counted; the partition
// goes on to the good message after them.
TEST(Kafka, MalformedMessagesAreRejectedCountedAndSkipped) {
  kafka_mock k;
  k.create_topic("orders", 1);
  auto in = launch(orders_config(k, "", "malformed"), "");
  ws_client c(in.port, "/ws?token=" + token_for("u7"), std::chrono::seconds(20));
  subscribe(c, {"event.user.u7.orders"});
  kafka_producer p(k.bootstrap());
  p.send("orders", "this is not JSON");
  p.send("orders", json{{"orderId", 1}}.dump());                          // no userId
  p.send("orders", json{{"userId", "u7"}, {"pad", std::string(70000, 'x')}}.dump());  // over 64 KiB
  p.send("orders", json{{"userId", std::vector<int>{1}}}.dump());         // not a string or an integer
  p.send("orders", order("u7", 42));
  p.flush();
  auto got = collect(c, 1, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 1u) << in.proc->err();
  EXPECT_EQ(got.begin()->second["orderId"], 42);
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_EQ(metric(metrics, R"(tributary_stream_messages_total{source="orders",outcome="rejected"})"), 4) << metrics;
  EXPECT_EQ(metric(metrics, R"(tributary_stream_messages_total{source="orders",outcome="published"})"), 1);
  // Logged at most once a second: the first of the burst only.
  auto log = in.proc->err();
  EXPECT_THAT(log, ::testing::HasSubstr("rejected: bad_data: message is not a JSON object"));
  size_t logged = 0;
  for (auto at = log.find("was rejected"); at != std::string::npos; at = log.find("was rejected", at + 1)) ++logged;
  EXPECT_EQ(logged, 1u) << log;
}

namespace {

// Sends orders 0..n-1 (users u0..u4) at about `per_second`, on its own thread.
class order_flow {
 public:
  order_flow(const kafka_mock& k, int n, int per_second)
      : t_([this, &k, n, per_second] {
          kafka_producer p(k.bootstrap());
          for (int i = 0; i < n; ++i) {
            p.send("orders", order("u" + std::to_string(i % 5), i), "u" + std::to_string(i % 5));
            sent_ = i + 1;
            std::this_thread::sleep_for(std::chrono::microseconds(1000000 / per_second));
          }
          p.flush();
          done_ = true;
        }) {}
  ~order_flow() { t_.join(); }
  int sent() const { return sent_; }
  bool done() const { return done_; }

 private:
  std::atomic<int> sent_{0};
  std::atomic<bool> done_{false};
  std::thread t_;
};

std::set<int> order_ids(const std::map<std::pair<std::string, uint64_t>, json>& got) {
  std::set<int> ids;
  for (auto& [key, data] : got) ids.insert(data["orderId"].get<int>());
  return ids;
}

}  // namespace

// kill -9 of a standalone host while orders keep coming, then a restart: every order reaches a
// client (offsets are committed only after publishing; what was not committed comes again).
TEST(Kafka, AKilledStandaloneHostLosesNothing) {
  constexpr int kOrders = 2000;
  kafka_mock k;
  k.create_topic("orders", 3);
  auto cfg = orders_config(k, "", "restart", false);
  auto first = launch(cfg, "");
  ws_client before(first.port, "/ws", std::chrono::seconds(20));
  subscribe(before, {"*"});
  order_flow flow(k, kOrders, 300);
  auto seen_before = collect(before, 150, std::chrono::seconds(20));
  ASSERT_GE(seen_before.size(), 150u) << first.proc->err();
  first.proc->signal(SIGKILL);
  EXPECT_LT(flow.sent(), kOrders);  // killed mid-stream
  auto second = launch(cfg, "");
  ws_client after(second.port, "/ws", std::chrono::seconds(30));
  subscribe(after, {"*"});
  auto ids = order_ids(seen_before);
  auto seen_after = collect(after, kOrders - ids.size(), std::chrono::seconds(40));
  for (int id : order_ids(seen_after)) ids.insert(id);
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20); ids.size() < kOrders && std::chrono::steady_clock::now() < end;)
    for (int id : order_ids(collect(after, 1, std::chrono::seconds(1)))) ids.insert(id);
  EXPECT_EQ(ids.size(), size_t(kOrders)) << second.proc->err();
  EXPECT_EQ(*ids.rbegin(), kOrders - 1);
}

// Brokers down for 10 s, then up: the outage shows in /ready, status and metrics, and every
// order sent before, during and after it arrives.
TEST(Kafka, ABrokerOutageIsShownAndLosesNothing) {
  kafka_mock k;
  k.create_topic("orders", 2);
  auto in = launch(orders_config(k, "", "outage", false), "");
  ws_client c(in.port, "/ws", std::chrono::seconds(40));
  subscribe(c, {"*"});
  kafka_producer p(k.bootstrap());
  for (int i = 0; i < 20; ++i) p.send("orders", order("u1", i));
  p.flush();
  auto got = collect(c, 20, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 20u) << in.proc->err();
  EXPECT_EQ(http_get(in.port, "/ready").status, 200);
  k.brokers_down();
  auto down_at = std::chrono::steady_clock::now();
  int ready = 200;
  for (int i = 0; i < 150 && ready == 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ready = http_get(in.port, "/ready").status;
  }
  EXPECT_EQ(ready, 503) << in.proc->err();
  auto feeds = in.status()["feeds"];
  auto orders = std::find_if(feeds.begin(), feeds.end(), [](const json& f) { return f["id"] == "orders"; });
  ASSERT_NE(orders, feeds.end());
  EXPECT_EQ((*orders)["stream"], "down");
  EXPECT_EQ(metric(http_get(in.port, "/metrics").body, R"(tributary_stream_connected{source="orders"})"), 0);
  for (int i = 20; i < 40; ++i) p.send("orders", order("u1", i));  // held by the producer until the brokers are back
  std::this_thread::sleep_until(down_at + std::chrono::seconds(10));
  k.brokers_up();
  p.flush();
  for (auto& [key, data] : collect(c, 20, std::chrono::seconds(40))) got[key] = data;
  EXPECT_EQ(order_ids(got).size(), 40u) << in.proc->err();
  for (int i = 0; i < 100 && ready != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ready = http_get(in.port, "/ready").status;
  }
  EXPECT_EQ(ready, 200);
  EXPECT_EQ(metric(http_get(in.port, "/metrics").body, R"(tributary_stream_connected{source="orders"})"), 1);
}

// Three nodes, kill -9 of the leader mid-stream: every order is exactly one record, with one
// seq, in the stream and on every surviving node, though the new leader re-reads what the old
// one appended but never committed.
TEST(Kafka, AKilledLeaderLeavesEveryOrderOneRecordWithOneSeq) {
  constexpr int kOrders = 1500;
  kafka_mock k;
  k.create_topic("orders", 3);
  redis_server redis;
  std::string cluster = "[cluster]\nmode = \"redis\"\nredis_url = \"redis://127.0.0.1:" + std::to_string(redis.port()) +
                        "\"\nname = \"kc\"\nlease = \"1s\"\nrenew_every = \"250ms\"\n";
  auto cfg = orders_config(k, cluster, "cluster", false);
  std::vector<instance> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(launch(cfg, ""));
  std::vector<bool> alive(3, true);
  int leader = wait_leader(nodes, std::chrono::seconds(10), alive);
  ASSERT_GE(leader, 0);
  std::vector<std::unique_ptr<ws_client>> clients;
  for (auto& n : nodes) {
    clients.push_back(std::make_unique<ws_client>(n.port, "/ws", std::chrono::seconds(60)));
    subscribe(*clients.back(), {"*"});
  }
  order_flow flow(k, kOrders, 250);
  auto early = collect(*clients[leader], 200, std::chrono::seconds(20));
  ASSERT_GE(early.size(), 200u) << nodes[leader].proc->err();
  nodes[leader].proc->signal(SIGKILL);
  alive[leader] = false;
  EXPECT_LT(flow.sent(), kOrders);
  std::vector<std::map<std::pair<std::string, uint64_t>, json>> seen;
  for (int i = 0; i < 3; ++i) {
    if (!alive[i]) continue;
    seen.push_back(collect(*clients[i], kOrders, std::chrono::seconds(60)));
    EXPECT_EQ(seen.back().size(), size_t(kOrders)) << "node " << i << ": " << nodes[i].proc->err();
    EXPECT_EQ(order_ids(seen.back()).size(), size_t(kOrders));  // each order once
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0] == seen[1]);  // the same record for the same seq on both
  // The stream holds each order once.
  tributary::redis_client c(redis.endpoint(), tributary::millis(2000));
  auto r = c.command({"XRANGE", "tributary:kc:stream", "-", "+"});
  auto& entries = std::get<tributary::redis_reply>(r).elements;
  std::map<int, int> times;
  for (auto& e : entries) {
    auto& f = e.elements[1].elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2)
      if (f[i].str == "record") times[json::parse(f[i + 1].str)["data"]["orderId"].get<int>()]++;
  }
  EXPECT_EQ(times.size(), size_t(kOrders));
  for (auto& [id, n] : times) EXPECT_EQ(n, 1) << "order " << id;
}

// What a leader finds in the stream's offsets (appended by a predecessor that died before it
// committed) is skipped, not published again: here the predecessor is played by an HSET.
TEST(Kafka, MessagesTheStreamHoldsAlreadyAreSkipped) {
  kafka_mock k;
  k.create_topic("orders", 1);
  redis_server redis;
  {
    kafka_producer p(k.bootstrap());
    for (int n = 0; n < 10; ++n) p.send("orders", order("u1", n));
    p.flush();
  }
  tributary::redis_client c(redis.endpoint(), tributary::millis(2000));
  c.command({"HSET", "tributary:ks:offsets", "kafka:skip:orders:0", "5"});  // offsets 0..5 are in the stream
  std::string cluster = "[cluster]\nmode = \"redis\"\nredis_url = \"redis://127.0.0.1:" + std::to_string(redis.port()) +
                        "\"\nname = \"ks\"\nlease = \"1s\"\nrenew_every = \"250ms\"\n";
  auto in = launch(orders_config(k, cluster, "skip", false), "");
  log_on_failure show{in};
  ws_client client(in.port, "/ws", std::chrono::seconds(20));
  subscribe(client, {"*"});
  auto got = collect(client, 4, std::chrono::seconds(20));
  EXPECT_EQ(order_ids(got), (std::set<int>{6, 7, 8, 9}));
  std::string metrics;
  for (int i = 0; i < 50; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    metrics = http_get(in.port, "/metrics").body;
    if (metric(metrics, R"(tributary_stream_messages_total{source="orders",outcome="skipped"})") == 6) break;
  }
  EXPECT_EQ(metric(metrics, R"(tributary_stream_messages_total{source="orders",outcome="skipped"})"), 6);
  // The stream now holds offset 9 for the partition, written with its record.
  auto r = c.command({"HGET", "tributary:ks:offsets", "kafka:skip:orders:0"});
  EXPECT_EQ(std::get<tributary::redis_reply>(r).str, "9");
}

// Two standalone hosts in one group split the partitions; when one stops, the group rebalances
// and the other takes its partitions over from what was committed. What both published is
// copied to Kafka by a sink and read back: every order once.
TEST(Kafka, ARebalanceHandsPartitionsOverWithoutLossOrRepeat) {
  constexpr int kOrders = 1200;
  kafka_mock k;
  k.create_topic("orders", 4);
  k.create_topic("copy.event", 1);
  auto cfg = orders_config(k, "[sinks.copy]\ntype = \"kafka\"\nbrokers = \"" + k.bootstrap() + "\"\ntopic = \"copy.{kind}\"\n",
                           "rebalance", false);
  auto a = launch(cfg, "");
  auto b = launch(cfg, "");
  log_on_failure show_a{a}, show_b{b};
  for (int i = 0; i < 400; ++i) {  // both members hold partitions
    auto la = a.proc->err(), lb = b.proc->err();
    if (la.find("partition(s) assigned") != std::string::npos && lb.find("partition(s) assigned") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  {
    order_flow flow(k, kOrders, 300);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    a.proc->signal(SIGTERM);  // commits what it published and leaves the group, mid-flow
    EXPECT_LT(flow.sent(), kOrders);
    ASSERT_EQ(a.proc->wait(), 0) << a.proc->err();
  }
  std::map<int, int> times;
  kafka_reader copies(k.bootstrap(), {"copy.event"}, "check");
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       times.size() < size_t(kOrders) && std::chrono::steady_clock::now() < end;)
    for (auto& m : copies.read(kOrders, std::chrono::seconds(1))) times[json::parse(m.value)["data"]["orderId"].get<int>()]++;
  for (auto& m : copies.read(kOrders, std::chrono::seconds(2))) times[json::parse(m.value)["data"]["orderId"].get<int>()]++;  // stragglers
  EXPECT_EQ(times.size(), size_t(kOrders));
  int repeated = 0;
  for (auto& [id, n] : times) repeated += n > 1;
  EXPECT_EQ(repeated, 0);
  EXPECT_THAT(a.proc->err(), ::testing::HasSubstr("revoked"));
  EXPECT_THAT(b.proc->err(), ::testing::HasSubstr("revoked"));  // b's share was rebalanced too
}

// An instance may declare a kind for its records in its config; its records are held to it.
TEST(Kafka, AnInstanceDeclaresAKindForItsRecords) {
  kafka_mock k;
  k.create_topic("orders", 1);
  std::string cfg = orders_config(k, "", "typed", false);
  cfg.replace(cfg.find("subject = \"user.{userId}.orders\""), 32,
              "subject = \"user.{userId}\"\nkeep = [\"orderId\", \"status\"]\n"
              "kinds = { order = { fields = { orderId = \"number\", status = \"string\" }, required = [\"status\"] } }");
  cfg.replace(cfg.find("kind = \"event\""), 14, "kind = \"order\"");
  auto in = launch(cfg, "");
  log_on_failure show{in};
  ws_client c(in.port, "/ws", std::chrono::seconds(20));
  subscribe(c, {"order.*"});
  kafka_producer p(k.bootstrap());
  p.send("orders", json{{"userId", "u1"}, {"orderId", 1}}.dump());  // no status: not an order
  p.send("orders", json{{"userId", "u1"}, {"orderId", 2}, {"status", "new"}, {"note", "dropped by keep"}}.dump());
  p.flush();
  auto got = collect(c, 1, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->first.first, "order.user.u1");
  EXPECT_EQ(got.begin()->second, (json{{"orderId", 2}, {"status", "new"}}));
  // `tributary check` names a kind that clashes with a built-in one.
  temp_dir d;
  std::string bad = cfg;
  bad.replace(bad.find("kinds = { order"), 15, "kinds = { price");
  auto file = d.write("bad.toml", bad);
  auto r = run({TRIBUTARY_EXE, "check", "-c", file.string()}, d.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out + r.err, ::testing::HasSubstr("plugins.orders.kinds"));
}
