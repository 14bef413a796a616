// The kafka source end to end: the kafka plugin through the real loader, `tributary run`, and
// librdkafka's mock cluster (3 brokers, in its own process) over real TCP. A real cluster is
// configured the same way.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
std::string orders_config(const kafka_mock& k, const std::string& extra = "", const std::string& group = "trading") {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
[server.auth]
mode = "jwt"
jwt_secret = ")" + kSecret + R"("
[plugins.orders]
plugin = "kafka"
brokers = ")" + k.bootstrap() + R"("
topics = ["orders"]
group = ")" + group + R"("
start = "earliest"
subject = "user.{userId}.orders"
[feeds.orders]
kind = "event"
subjects = ["*"]
sources = ["orders"]
mode = "stream"
)" + extra;
}

std::string order(const std::string& user, int n) { return json{{"userId", user}, {"orderId", n}, {"status", "filled"}}.dump(); }

double metric(const std::string& text, const std::string& series) {
  auto at = text.find(series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 1));
}

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

// Subscribes; the answer ("subscribed", or an "error").
json subscribe(ws_client& c, const std::vector<std::string>& topics) {
  c.send(json{{"type", "subscribe"}, {"id", 1}, {"topics", topics}}.dump());
  for (;;) {
    auto m = c.read();
    if (m["type"] == "subscribed" || m["type"] == "error") return m;
  }
}

}  // namespace

// The trading front end's migration: orders for 5 users, each JWT client gets exactly its own.
TEST(Kafka, EachUserGetsExactlyTheirOwnOrders) {
  kafka_mock k;
  k.create_topic("orders", 3);
  auto in = launch(orders_config(k), "");
  std::vector<std::unique_ptr<ws_client>> users;
  for (int u = 0; u < 5; ++u) {
    users.push_back(std::make_unique<ws_client>(in.port, "/ws?token=" + token_for("u" + std::to_string(u)), std::chrono::seconds(20)));
    EXPECT_EQ(subscribe(*users.back(), {"event.user.u" + std::to_string(u) + ".orders"})["type"], "subscribed");
  }
  ws_client bob(in.port, "/ws?token=" + token_for("u0"));
  auto refused = subscribe(bob, {"event.user.u1.*"});
  EXPECT_EQ(refused["type"], "error");
  EXPECT_EQ(refused["code"], "forbidden");
  kafka_producer p(k.bootstrap());
  for (int n = 0; n < 50; ++n) p.send("orders", order("u" + std::to_string(n % 5), n), "u" + std::to_string(n % 5));
  p.flush();
  for (int u = 0; u < 5; ++u) {
    auto got = collect(*users[u], 10, std::chrono::seconds(20));
    ASSERT_EQ(got.size(), 10u) << "user u" << u << "; host log: " << in.proc->err();
    std::set<int> orders;
    for (auto& [key, data] : got) {
      EXPECT_EQ(key.first, "event.user.u" + std::to_string(u) + ".orders");
      EXPECT_EQ(data["userId"], "u" + std::to_string(u));
      orders.insert(data["orderId"].get<int>());
    }
    EXPECT_EQ(orders.size(), 10u);  // ten different orders, each once
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
