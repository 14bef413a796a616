// The server in process over real sockets on port 0: HTTP API and the WebSocket protocol.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include <spdlog/spdlog.h>

#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"
#include "net/transport.hpp"
#include "record/record.hpp"
#include "server/server.hpp"
#include "publish/cache.hpp"
#include "publish/fanout_hub.hpp"
#include "obs/metrics.hpp"
#include "util/clock.hpp"
#include "obs/log.hpp"

using namespace tributary;
using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;


TEST(ServerHttp, HealthReadyTopicsLatestMetricsAndErrors) {
  running_server s;
  s.publish("BTC-USDT", 84250.12);
  auto h = http_get(s.port, "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body), (json{{"status", "ok"}}));
  EXPECT_EQ(http_get(s.port, "/ready").status, 200);
  auto topics = json::parse(http_get(s.port, "/api/v1/topics").body);
  ASSERT_EQ(topics["topics"].size(), 1u);
  EXPECT_EQ(topics["topics"][0]["topic"], "price.BTC-USDT");
  EXPECT_EQ(topics["topics"][0]["seq"], 1);
  auto latest = http_get(s.port, "/api/v1/latest/price.BTC-USDT");
  EXPECT_EQ(latest.status, 200);
  EXPECT_EQ(json::parse(latest.body)["data"]["price"], 84250.12);
  EXPECT_EQ(json::parse(latest.body)["schema"], "tributary.v1");
  auto missing = http_get(s.port, "/api/v1/latest/price.NOPE-USDT");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["error"]["code"], "not_found");
  EXPECT_EQ(http_get(s.port, "/nowhere").status, 404);
  auto m = http_get(s.port, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.content_type, HasSubstr("text/plain"));
  EXPECT_THAT(m.body, HasSubstr("tributary_records_total{kind=\"price\",source=\"binance\"} 1"));
  EXPECT_THAT(m.body, HasSubstr("tributary_http_requests_total{route=\"/api/v1/latest\",code=\"404\"} 1"));
  EXPECT_EQ(json::parse(http_get(s.port, "/api/v1/status").body)["role"], "standalone");
}

// The names of this process's threads, as `top -H` and perf show them.
static std::vector<std::string> thread_names() {
  std::vector<std::string> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(t.path() / "comm");
    std::getline(f, out.emplace_back());
  }
  return out;
}

TEST(ServerThreads, EachIoThreadIsNamedByItsIndex) {
  server_options o;
  o.io_threads = 2;
  running_server s(o);
  auto names = thread_names();
  EXPECT_THAT(names, ::testing::Contains("io-0"));
  EXPECT_THAT(names, ::testing::Contains("io-1"));
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("io-2")));
}

TEST(ServerWs, HelloSnapshotBeforeUpdatesWithIncreasingSeq) {
  running_server s;
  s.publish("BTC-USDT", 1);
  s.publish("BTC-USDT", 2);
  s.publish("ETH-USDT", 3);
  ws_client c(s.port);
  auto hello = c.read();
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_THAT(hello["server"].get<std::string>(), HasSubstr("tributary/"));
  EXPECT_EQ(hello["heartbeat_ms"], 30000);
  EXPECT_FALSE(hello["session"].get<std::string>().empty());
  EXPECT_EQ(hello["epoch"].get<std::string>().size(), 16u);
  EXPECT_EQ(hello["epoch"], s.hub.epoch());
  c.send(R"({"type":"subscribe","id":1,"topics":["price.*"]})");
  auto sub = c.read();
  EXPECT_EQ(sub, (json{{"type", "subscribed"}, {"id", 1}, {"topics", {"price.*"}}, {"epoch", s.hub.epoch()}}));
  std::map<std::string, json> snaps;
  for (int i = 0; i < 2; ++i) {
    auto m = c.read();
    ASSERT_EQ(m["type"], "snapshot");
    snaps[m["topic"]] = m["record"];
  }
  EXPECT_EQ(snaps["price.BTC-USDT"]["seq"], 2);
  EXPECT_EQ(snaps["price.BTC-USDT"]["data"]["price"], 2);
  EXPECT_EQ(snaps["price.ETH-USDT"]["seq"], 1);
  s.publish("BTC-USDT", 4);
  s.publish("SOL-USDT", 5);
  auto u1 = c.read();
  EXPECT_EQ(u1["type"], "update");
  EXPECT_EQ(u1["record"]["seq"], 3);
  EXPECT_EQ(u1["record"]["data"]["price"], 4);
  auto u2 = c.read();
  EXPECT_EQ(u2["topic"], "price.SOL-USDT");
  EXPECT_EQ(u2["record"]["seq"], 1);
}

TEST(ServerWs, BadFramesGetErrorsAndTheConnectionStaysOpen) {
  running_server s;
  ws_client c(s.port);
  c.read();  // hello
  c.send("{not json");
  auto e1 = c.read();
  EXPECT_EQ(e1["type"], "error");
  EXPECT_EQ(e1["code"], "bad_request");
  c.send(R"({"type":"dance","id":"x7"})");
  auto e2 = c.read();
  EXPECT_EQ(e2["code"], "unknown_type");
  EXPECT_EQ(e2["id"], "x7");
  c.send(R"({"type":"subscribe","id":3,"topics":["pri*ce"]})");
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"({"type":"subscribe","id":4,"topics":[]})");
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"([1,2,3])");
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"({"type":"ping","id":5})");
  EXPECT_EQ(c.read(), (json{{"type", "pong"}, {"id", 5}}));
}

TEST(ServerWs, UnsubscribeStopsUpdates) {
  running_server s;
  ws_client c(s.port);
  c.read();
  c.send(R"({"type":"subscribe","id":1,"topics":["price.BTC-USDT","price.ETH-USDT"]})");
  c.read();
  c.send(R"({"type":"unsubscribe","id":2,"topics":["price.BTC-USDT"]})");
  EXPECT_EQ(c.read(), (json{{"type", "unsubscribed"}, {"id", 2}, {"topics", {"price.BTC-USDT"}}}));
  s.publish("BTC-USDT", 1);
  s.publish("ETH-USDT", 2);
  auto u = c.read();
  EXPECT_EQ(u["topic"], "price.ETH-USDT");
}

TEST(ServerWs, BinaryFramesAreClosedWith1003) {
  running_server s;
  ws_client c(s.port);
  c.read();
  c.send_binary(std::string("\x01\x02", 2));
  EXPECT_EQ(c.read_until_close(), 1003);
}

TEST(ServerWs, OversizedFramesAreClosedWith1009) {
  server_options o;
  o.max_message_bytes = 128;
  running_server s(o);
  ws_client c(s.port);
  c.read();
  c.send(R"({"type":"subscribe","topics":[")" + std::string(300, 'a') + R"("]})");
  EXPECT_EQ(c.read_until_close(), 1009);
}

TEST(ServerWs, UnderTheClosePolicyASlowClientIsDroppedWithoutHoldingUpOthers) {
  server_options o;
  o.queue_limit_bytes = 1 << 20;
  o.slow_consumer = slow_policy::close;
  o.io_threads = 1;  // every session in one index, the slow one between fast ones
  running_server s(o);
  std::vector<std::unique_ptr<ws_client>> fast;
  auto join = [&](ws_client& c) {
    c.read();
    c.send(R"({"type":"subscribe","topics":["*"]})");
    c.read();
  };
  for (int i = 0; i < 2; ++i) join(*fast.emplace_back(std::make_unique<ws_client>(s.port)));
  ws_client slow(s.port);
  join(slow);
  for (int i = 0; i < 2; ++i) join(*fast.emplace_back(std::make_unique<ws_client>(s.port)));
  // The slow client never reads; large updates fill its socket buffers, then its queue. Its
  // removal from the index, while a record is being delivered, must not skip anyone else.
  // Once it is dropped, it reads: its close frame waits behind what it left unread, and the
  // server cuts a client that has not taken its close within the linger time.
  std::string big(200000, 'x');
  std::future<int> slow_close;
  for (int i = 0; i < 200; ++i) {
    s.publish_sentiment(i, big);
    for (auto& f : fast) ASSERT_EQ(f->read()["record"]["seq"], i + 1);  // every update, in order
    if (!slow_close.valid() && s.m.value("tributary_ws_drops_total", {{"reason", "slow_consumer"}}) == 1)
      slow_close = std::async(std::launch::async, [&slow] { return slow.read_until_close(); });
  }
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "slow_consumer"}}), 1);
  ASSERT_TRUE(slow_close.valid());
  EXPECT_EQ(slow_close.get(), 1008);
}

TEST(CurlTransport, RealRequestsTimeoutsAndBodyLimit) {
  running_server s;
  s.publish("BTC-USDT", 1);
  system_clock_source clock;
  auto get = [&](http_transport& t, const std::string& path, kv_list query = {}) {
    std::promise<http_response> p;
    http_request r;
    r.base_url = "http://127.0.0.1:" + std::to_string(s.port);
    r.path = path;
    r.query = std::move(query);
    r.timeout = millis(2000);
    t.send(r, [&](http_response resp) { p.set_value(std::move(resp)); });
    return p.get_future().get();
  };
  auto t = make_curl_transport(clock);
  auto ok = get(*t, "/api/v1/latest/price.BTC-USDT");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["topic"], "price.BTC-USDT");
  bool has_ct = false;
  for (auto& [k, v] : ok.headers) has_ct |= k == "Content-Type" && v == "application/json";
  EXPECT_TRUE(has_ct);
  auto nf = get(*t, "/api/v1/latest/x y", {});
  EXPECT_EQ(nf.status, 404);
  auto small = make_curl_transport(clock, {.max_body_bytes = 10});
  auto big = get(*small, "/metrics");
  EXPECT_EQ(big.status, 0);
  EXPECT_THAT(big.error, HasSubstr("exceeds 10 bytes"));
  // Nothing listens on port 9 of loopback: a transport error, not a crash or a hang.
  std::promise<http_response> p;
  http_request r;
  r.base_url = "http://127.0.0.1:9";
  r.path = "/";
  r.timeout = millis(1000);
  t->send(r, [&](http_response resp) { p.set_value(std::move(resp)); });
  auto refused = p.get_future().get();
  EXPECT_EQ(refused.status, 0);
  EXPECT_FALSE(refused.error.empty());
}

TEST(ServerWs, SilentClientsAreClosedAfterTwoHeartbeatsAndReadersStay) {
  server_options o;
  o.heartbeat = millis(200);
  running_server s(o);
  ws_client silent(s.port), reader(s.port);
  EXPECT_EQ(silent.read()["heartbeat_ms"], 200);
  EXPECT_EQ(reader.read()["type"], "hello");
  reader.send(R"({"type":"subscribe","topics":["*"]})");
  auto ack = reader.read();
  EXPECT_EQ(ack["type"], "subscribed") << ack.dump();
  // The reader keeps reading (and so answers pings); the silent one does nothing for 1s.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  while (std::chrono::steady_clock::now() < until) {
    s.publish("BTC-USDT", 1);
    // The first may arrive as a snapshot: the subscription can still be collecting them when
    // the client has read "subscribed" and publishes.
    auto msg = reader.read();
    EXPECT_TRUE(msg["type"] == "update" || msg["type"] == "snapshot") << msg.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  silent.read_until_close();  // returns because the server gave up on it
  for (int i = 0; i < 50 && s.m.value("tributary_ws_sessions", {{"protocol", "websocket"}}) != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(s.m.value("tributary_ws_sessions", {{"protocol", "websocket"}}), 1);
  s.publish("BTC-USDT", 2);
  EXPECT_EQ(reader.read()["record"]["data"]["price"], 2);
}

TEST(ServerWs, UpgradesPastMaxConnectionsGet503) {
  server_options o;
  o.max_connections = 1;
  running_server s(o);
  ws_client first(s.port);
  first.read();
  try {
    ws_client second(s.port);
    ADD_FAILURE() << "second upgrade was accepted";
  } catch (const beast::system_error& e) {
    EXPECT_EQ(e.code(), websocket::error::upgrade_declined);
  }
  first.send(R"({"type":"ping","id":1})");
  EXPECT_EQ(first.read()["type"], "pong");
}
