// The replaced services' own client protocols as declared dialects, with the migration configs
// as shipped (config/migrations/task_status.toml, trading_ws.toml): the real binary, a real
// redis-server / the Kafka mock cluster, and the old clients' exact message sequences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "../support/jwt_sign.hpp"
#include "../support/kafka_mock.hpp"
#include "../support/redis_server.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

// A shipped migration config, run here: this build's plugins, a free port.
std::string shipped(const std::string& file) {
  std::string cfg = slurp(TRIBUTARY_SOURCE_DIR "/config/migrations/" + file);
  auto at = cfg.find("plugin_dirs = [");
  cfg.replace(at, cfg.find(']', at) - at + 1, std::string("plugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + "\"]");
  cfg.replace(cfg.find("0.0.0.0:8081"), 12, "127.0.0.1:0");
  return cfg;
}

void wait_subscribers(redis_server& redis, const std::string& channel) {
  for (int i = 0; i < 500; ++i) {
    auto r = redis.command({"PUBSUB", "NUMSUB", channel});
    if (r.elements.size() == 2 && r.elements[1].integer >= 1) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "nothing subscribed to " << channel;
}

// The next message of `type` (an envelope's "type"), parsed.
json next_of(ws_client& c, const std::string& type) {
  for (;;) {
    auto m = c.read();
    if (m["type"] == type) return m;
  }
}

}  // namespace

// The task-status front end: subscribe, status updates, unsubscribe, byte for byte.
TEST(Dialect, TaskStatusClientsConnectUnchanged) {
  redis_server redis;
  ::setenv("REDIS_URL", ("redis://127.0.0.1:" + std::to_string(redis.port())).c_str(), 1);
  auto in = launch(shipped("task_status.toml"), "");
  wait_subscribers(redis, "task_status_updates");
  ws_client c(in.port, "/ws/tasks");
  c.send(R"({"type":"subscribe","task_id":"build-42"})");
  EXPECT_EQ(c.read_text(), R"({"type":"subscribed","task_id":"build-42","message":"Successfully subscribed"})");
  redis.command({"PUBLISH", "task_status_updates", R"({"task_id":"other","status":"running","progress":1,"message":"not yours"})"});
  redis.command({"PUBLISH", "task_status_updates", R"({"task_id":"build-42","status":"running","progress":40,"message":"compiling"})"});
  EXPECT_EQ(c.read_text(), R"({"type":"status_update","task_id":"build-42","data":{"status":"running","progress":40,"message":"compiling"}})");
  c.send(R"({"type":"unsubscribe","task_id":"build-42"})");
  EXPECT_EQ(c.read_text(), R"({"type":"unsubscribed","task_id":"build-42"})");
  redis.command({"PUBLISH", "task_status_updates", R"({"task_id":"build-42","status":"done","progress":100,"message":"ok"})"});
  // A late subscriber gets the task's latest status at once; the unsubscribed one got nothing more.
  ws_client late(in.port, "/ws/tasks");
  late.send(R"({"type":"subscribe","task_id":"build-42"})");
  EXPECT_EQ(late.read_text(), R"({"type":"subscribed","task_id":"build-42","message":"Successfully subscribed"})");
  EXPECT_EQ(late.read_text(), R"({"type":"status_update","task_id":"build-42","data":{"status":"done","progress":100,"message":"ok"}})");
  c.send(R"({"type":"subscribe","task_id":"t\"2"})");  // a quote in an id is escaped, never spliced
  EXPECT_EQ(c.read_text(), R"({"type":"subscribed","task_id":"t\"2","message":"Successfully subscribed"})");
  // Its updates name it as the client did: the shared frame reads the id back from the topic.
  redis.command({"PUBLISH", "task_status_updates", R"({"task_id":"t\"2","status":"queued","progress":0,"message":"é"})"});
  EXPECT_EQ(c.read_text(), R"({"type":"status_update","task_id":"t\"2","data":{"status":"queued","progress":0,"message":"é"}})");
  for (const char* bad : {"not json", R"({"type":"launch"})", R"({"type":"subscribe"})", R"({"type":7})"}) {
    c.send(bad);
    auto m = json::parse(c.read_text());
    EXPECT_EQ(m["type"], "error") << bad;
  }
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_ws_sessions{protocol="dialect"} 2)"));
}

// The trading front end: auth_required, authenticate, subscribe to its own channels, ping, and
// updates in the {"id","type","timestamp","data"} envelope; another user's data never arrives.
TEST(Dialect, TradingClientsConnectUnchanged) {
  const std::string secret = "dialect-test-secret-0123456789-abcdefgh";
  kafka_mock k;
  for (const char* t : {"orders", "portfolio", "trades"}) k.create_topic(t, 1);
  auto cfg = shipped("trading_ws.toml");
  cfg.erase(cfg.find("[plugins.binance]"), cfg.find("# The old front end's protocol") - cfg.find("[plugins.binance]"));
  ::setenv("KAFKA_BROKERS", k.bootstrap().c_str(), 1);
  ::setenv("TRIBUTARY_JWT_SECRET", secret.c_str(), 1);
  auto in = launch(cfg, "");
  auto envelope = [](const json& m) {
    EXPECT_TRUE(m["id"].is_string() && m["timestamp"].is_number_integer() && m["data"].is_object()) << m;
    EXPECT_EQ(m.size(), 4u) << m;
  };
  ws_client alice(in.port, "/ws/trading", std::chrono::seconds(30));
  auto hello = alice.read();
  envelope(hello);
  EXPECT_EQ(hello["type"], "auth_required");
  EXPECT_EQ(hello["data"]["timeout"], 10);
  alice.send(json{{"id", "c1"}, {"type", "authenticate"}, {"timestamp", 1}, {"data", {{"token", sign({{"sub", "alice"}, {"exp", unix_now() + 600}}, "HS256", secret)}}}}.dump());
  auto ok = alice.read();
  envelope(ok);
  EXPECT_EQ(ok["type"], "auth_success");
  EXPECT_EQ(ok["data"]["user"]["id"], "alice");
  for (const char* ch : {"orders", "portfolio", "trades"}) {
    alice.send(json{{"id", "c2"}, {"type", "subscribe"}, {"data", {{"channel", ch}}}}.dump());
    auto sub = alice.read();
    envelope(sub);
    EXPECT_EQ(sub["type"], "subscribed");
    EXPECT_EQ(sub["data"]["channel"], ch);
  }
  alice.send(R"({"id":"c3","type":"ping","data":{}})");
  EXPECT_EQ(next_of(alice, "pong")["data"], json::object());
  alice.send(R"({"id":"c4","type":"subscribe","data":{"channel":"margin"}})");
  EXPECT_THAT(next_of(alice, "error")["data"]["error"].get<std::string>(), ::testing::HasSubstr("unknown channel 'margin'"));
  // The group starts at the latest offsets: produce once its three partitions are assigned.
  ASSERT_GE(wait_assigned([&] { return in.proc->err(); }, 3), 3u) << "the consumer group never got its partitions";
  kafka_producer p(k.bootstrap());
  p.send("orders", json{{"userId", "bob"}, {"orderId", 1}}.dump(), "bob");
  p.send("trades", json{{"userId", "alice"}, {"tradeId", 2}, {"qty", 0.5}}.dump(), "alice");
  p.flush();
  json trade;
  for (;;) {
    auto m = alice.read();
    envelope(m);
    ASSERT_NE(m["type"], "order_update") << "bob's order reached alice: " << m;
    if (m["type"] == "trade_update") { trade = m; break; }
  }
  EXPECT_EQ(trade["data"], (json{{"userId", "alice"}, {"tradeId", 2}, {"qty", 0.5}}));
  // A forged token: auth_failed, then the connection is closed.
  ws_client mallory(in.port, "/ws/trading");
  mallory.read();
  mallory.send(json{{"type", "authenticate"}, {"data", {{"token", sign({{"sub", "alice"}}, "HS256", "not-the-secret-0123456789-abcdefghijkl")}}}}.dump());
  EXPECT_EQ(mallory.read()["type"], "auth_failed");
  EXPECT_EQ(mallory.read_until_close(), 1008);
  ws_client forged(in.port, "/ws/trading?token=" + sign({{"sub", "alice"}}, "HS256", "not-the-secret-0123456789-abcdefghijkl"));
  EXPECT_EQ(forged.read()["type"], "auth_required");
  EXPECT_EQ(forged.read()["type"], "error");
  EXPECT_EQ(forged.read_until_close(), 1008);
  ws_client anon(in.port, "/ws/trading");
  anon.read();
  anon.send(R"({"type":"subscribe","data":{"channel":"orders"}})");
  EXPECT_THAT(anon.read()["data"]["error"].get<std::string>(), ::testing::HasSubstr("authenticate first"));
}

// The dashboard service's refresh: POST <route>/refresh runs the view's feeds at once and answers
// with the object once every input is newer; with refresh_auth only for the admin token.
TEST(ViewRefresh, RunsTheViewsFeedsAndAnswersWithTheFreshObject) {
  const std::string admin = "view-refresh-admin-token-0123456789";
  auto in = launch(std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
[server.auth]
admin_token = ")" + admin + R"("
[plugins.alternative_me]
[feeds.sentiment]
kind = "sentiment"
subjects = ["fear_greed"]
every = "1h"
jitter = "0s"
sources = ["alternative_me"]
[views.dashboard]
route = "/api/crypto/dashboard-summary"
refresh = true
fields = { btc_price_usd = "price.BTC-USDT:price", fear_greed = "sentiment.fear_greed:value" }
[views.guarded]
route = "/api/guarded"
refresh = true
refresh_auth = true
fields = { btc = "price.BTC-USDT:price" }
[views.plain]
route = "/api/plain"
fields = { btc = "price.BTC-USDT:price" }
)" + demo_spot_feed("1h"));
  auto seq = [&](const std::string& topic) {
    auto r = http_get(in.port, "/api/v1/latest/" + topic);
    return r.status == 200 ? json::parse(r.body)["seq"].get<uint64_t>() : 0;
  };
  for (int i = 0; i < 250 && (seq("price.BTC-USDT") == 0 || seq("sentiment.fear_greed") == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  uint64_t price = seq("price.BTC-USDT"), mood = seq("sentiment.fear_greed");
  ASSERT_GT(price, 0u);
  ASSERT_GT(mood, 0u);  // the first runs; the next are an hour away
  auto r = http_call(in.port, http::verb::post, "/api/crypto/dashboard-summary/refresh");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-tributary-refreshed"], "true");
  EXPECT_EQ(json::parse(r.body)["fear_greed"], 40);
  EXPECT_GT(seq("price.BTC-USDT"), price);
  EXPECT_GT(seq("sentiment.fear_greed"), mood);
  EXPECT_EQ(http_call(in.port, http::verb::post, "/api/guarded/refresh").status, 401);
  auto guarded = http_call(in.port, http::verb::post, "/api/guarded/refresh", admin);
  EXPECT_EQ(guarded.status, 200) << guarded.body;
  EXPECT_EQ(guarded.headers["x-tributary-refreshed"], "true");
  EXPECT_EQ(http_call(in.port, http::verb::post, "/api/plain/refresh").status, 405);  // no refresh declared
}
