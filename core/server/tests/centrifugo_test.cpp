// Centrifugo's client protocol at /connection/websocket over real sockets (docs/clients.md,
// Centrifugo clients): batched commands and replies, recovery by offset and epoch, pattern
// channels, and hostile input. The npm SDK itself is tested in tests/centrifuge.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "../../../tests/support/jwt_sign.hpp"
#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"

namespace tributary {
namespace {

using namespace test_support;
using nlohmann::json;

const std::string kSecret = "centrifugo-test-secret-0123456789-abcdef";
const std::string kPath = "/connection/websocket";

// A client of these tests reads only when it expects something: a long heartbeat, or an idle
// one would miss its pings and be cut.
server_options centrifugo_server(millis heartbeat = millis(5000)) {
  server_options o;
  o.centrifugo_protocol = true;
  o.auth = true;
  o.jwt.secret = kSecret;
  o.public_patterns = {"price.*"};
  o.heartbeat = heartbeat;
  return o;
}

std::string token_for(const std::string& user, int64_t ttl_s = 600) { return sign({{"sub", user}, {"exp", unix_now() + ttl_s}}, "HS256", kSecret); }

// The replies of one frame, one per line.
std::vector<json> replies(ws_client& c) {
  std::vector<json> out;
  auto text = c.read_text();
  for (size_t at = 0; at <= text.size();) {
    auto nl = std::min(text.find('\n', at), text.size());
    out.push_back(json::parse(text.substr(at, nl - at)));
    at = nl + 1;
  }
  return out;
}

// The next push, skipping pings ({}).
json next_push(ws_client& c) {
  for (;;) {
    auto r = replies(c);
    for (auto& m : r)
      if (m.contains("push")) return m["push"];
  }
}

json connect(ws_client& c, const std::string& token = {}) {
  c.send(json{{"id", 1}, {"connect", token.empty() ? json::object() : json{{"token", token}}}}.dump());
  return replies(c).at(0);
}

TEST(Centrifugo, CommandsInOneFrameAreAnsweredInOneFrameInOrder) {
  running_server s(centrifugo_server());
  s.publish("BTC-USDT", 100);
  ws_client c(s.port, kPath);
  c.send(json{{"id", 1}, {"connect", {{"token", token_for("alice")}, {"name", "js"}}}}.dump() + "\n" +
         json{{"id", 2}, {"subscribe", {{"channel", "price.BTC-USDT"}}}}.dump() + "\n\n" +
         json{{"id", 3}, {"presence", {{"channel", "price.BTC-USDT"}}}}.dump() + "\n" +
         json{{"id", 4}, {"publish", {{"channel", "price.BTC-USDT"}, {"data", {{"x", 1}}}}}}.dump() + "\n" +
         json{{"id", 5}, {"ping", json::object()}}.dump() + "\n" + json{{"id", 6}, {"frobnicate", json::object()}}.dump() + "\n" +
         json{{"id", 7}, {"subscribe", {{"channel", "price.BTC-USDT"}}}}.dump() + "\n{}");
  auto r = replies(c);
  ASSERT_EQ(r.size(), 7u);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i]["id"], i + 1) << r[i];
  EXPECT_EQ(r[0]["connect"]["client"].get<std::string>().empty(), false);
  EXPECT_EQ(r[0]["connect"]["expires"], true);
  EXPECT_GE(r[0]["connect"]["ttl"].get<int>(), 590);
  EXPECT_EQ(r[0]["connect"]["ping"], 5);
  auto& sub = r[1]["subscribe"];
  EXPECT_EQ(sub["recoverable"], true);
  EXPECT_EQ(sub["epoch"], s.hub.epoch());
  EXPECT_EQ(sub["offset"], 1);
  ASSERT_EQ(sub["publications"].size(), 1u);  // the latest record
  EXPECT_EQ(sub["publications"][0]["offset"], 1);
  EXPECT_EQ(sub["publications"][0]["data"]["topic"], "price.BTC-USDT");
  EXPECT_EQ(sub["publications"][0]["data"]["data"]["price"], 100);
  EXPECT_EQ(r[2]["error"]["code"], 108);
  EXPECT_EQ(r[3]["error"]["code"], 103);
  EXPECT_EQ(r[4]["ping"], json::object());
  EXPECT_EQ(r[5]["error"]["code"], 104);
  EXPECT_EQ(r[6]["error"]["code"], 105);  // already subscribed
  s.publish("BTC-USDT", 101);
  auto push = next_push(c);
  EXPECT_EQ(push["channel"], "price.BTC-USDT");
  EXPECT_EQ(push["pub"]["offset"], 2);
  EXPECT_EQ(push["pub"]["data"]["data"]["price"], 101);
  EXPECT_FALSE(push["pub"].contains("channel"));
}

TEST(Centrifugo, RecoveryBySameEpochAndOffsetElseTheLatest) {
  running_server s(centrifugo_server());
  for (int i = 1; i <= 5; ++i) s.publish("ETH-USDT", i);
  auto subscribe = [&](json req) {
    ws_client c(s.port, kPath);
    connect(c);
    req["channel"] = "price.ETH-USDT";
    c.send(json{{"id", 2}, {"subscribe", req}}.dump());
    return replies(c).at(0)["subscribe"];
  };
  auto ok = subscribe({{"recover", true}, {"offset", 2}, {"epoch", s.hub.epoch()}});
  EXPECT_EQ(ok["recovered"], true);
  EXPECT_EQ(ok["was_recovering"], true);
  EXPECT_EQ(ok["offset"], 5);
  ASSERT_EQ(ok["publications"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ok["publications"][i]["offset"], 3 + i);
  auto up_to_date = subscribe({{"recover", true}, {"offset", 5}, {"epoch", s.hub.epoch()}});
  EXPECT_EQ(up_to_date["recovered"], true);
  EXPECT_FALSE(up_to_date.contains("publications"));
  for (json other : {json{{"recover", true}, {"offset", 2}, {"epoch", "another-life"}}, json{{"recover", true}, {"offset", 9}}}) {
    auto no = subscribe(other);
    EXPECT_FALSE(no.value("recovered", false)) << other;
    EXPECT_EQ(no["was_recovering"], true);
    ASSERT_EQ(no["publications"].size(), 1u);
    EXPECT_EQ(no["publications"][0]["offset"], 5);
  }
}

TEST(Centrifugo, APatternChannelNamesItselfAndEachTopic) {
  running_server s(centrifugo_server());
  s.publish("BTC-USDT", 1);
  s.publish("SOL-USDT", 2);
  ws_client c(s.port, kPath);
  connect(c);
  c.send(R"({"id":2,"subscribe":{"channel":"price.*"}})");
  auto sub = replies(c).at(0)["subscribe"];
  EXPECT_FALSE(sub.value("recoverable", false));
  ASSERT_EQ(sub["publications"].size(), 2u);
  for (auto& p : sub["publications"]) EXPECT_EQ(p["channel"], p["data"]["topic"]);
  s.publish("SOL-USDT", 3);
  auto push = next_push(c);
  EXPECT_EQ(push["channel"], "price.*");
  EXPECT_EQ(push["pub"]["channel"], "price.SOL-USDT");
}

TEST(Centrifugo, HostileInputEndsTheConnectionWithBadRequest) {
  running_server s(centrifugo_server());
  for (std::string bad : {std::string(R"({"id":1,"subscribe":{"channel":"price.X"}})"),  // before connect
                          std::string("not json at all"), std::string("[1,2,3]"), std::string(40, '[') + std::string(40, ']'),
                          std::string(R"({"id":1,"connect":{"token":42}})")}) {
    ws_client c(s.port, kPath);
    c.send(bad);
    EXPECT_EQ(c.read_until_close(), 3501) << bad;
  }
  ws_client mixed(s.port, kPath);  // the replies before the bad line still come, before the close
  mixed.send(json{{"id", 1}, {"connect", json::object()}}.dump() + "\nnot json");
  EXPECT_EQ(replies(mixed).at(0)["id"], 1);
  EXPECT_EQ(mixed.read_until_close(), 3501);
  ws_client twice(s.port, kPath);
  connect(twice);
  twice.send(R"({"id":2,"connect":{}})");
  EXPECT_EQ(twice.read_until_close(), 3501);
  ws_client odd(s.port, kPath);  // well-formed but wrong: errors, the connection stays
  connect(odd);
  odd.send(R"({"id":2,"subscribe":{"channel":7}})" "\n" R"({"id":3,"subscribe":{"channel":"price.*.x"}})" "\n"
           R"({"id":4,"subscribe":{"channel":"price.A","recover":"yes","offset":"many"}})" "\n" R"({"id":4294967296,"ping":{}})");
  auto r = replies(odd);
  ASSERT_EQ(r.size(), 3u);  // an id past 32 bits is no id: nothing to answer
  EXPECT_EQ(r[0]["error"]["code"], 107);
  EXPECT_EQ(r[1]["error"]["code"], 102);
  EXPECT_EQ(r[2]["subscribe"]["recoverable"], true);  // "recover":"yes" is not true
  EXPECT_FALSE(r[2]["subscribe"].contains("was_recovering"));
}

TEST(Centrifugo, TokensPersonalChannelsRefreshAndExpiry) {
  running_server s(centrifugo_server());
  ws_client forged(s.port, kPath);
  forged.send(json{{"id", 1}, {"connect", {{"token", sign({{"sub", "alice"}, {"exp", unix_now() + 600}}, "HS256", "another-secret-0123456789-abcdefghijkl")}}}}.dump());
  EXPECT_EQ(forged.read_until_close(), 3500);
  ws_client late(s.port, kPath);
  EXPECT_EQ(connect(late, token_for("alice", -10))["error"]["code"], 109);  // the SDK fetches a new one
  ws_client alice(s.port, kPath);
  connect(alice, token_for("alice"));
  alice.send(R"({"id":2,"subscribe":{"channel":"event.user.bob.orders"}})" "\n"
             R"({"id":3,"subscribe":{"channel":"event.user.alice.orders"}})");
  auto r = replies(alice);
  EXPECT_EQ(r.at(0)["error"]["code"], 103);
  EXPECT_EQ(r.at(1)["subscribe"]["recoverable"], true);
  alice.send(json{{"id", 4}, {"refresh", {{"token", token_for("mallory")}}}}.dump());  // another user
  EXPECT_EQ(alice.read_until_close(), 3500);
  ws_client carol(s.port, kPath);
  connect(carol, token_for("carol", 3));  // exp is whole seconds: it ends within (2, 3] s
  carol.send(json{{"id", 2}, {"refresh", {{"token", token_for("carol", 600)}}}}.dump());
  auto refreshed = replies(carol).at(0);
  EXPECT_EQ(refreshed["refresh"]["expires"], true);
  EXPECT_GE(refreshed["refresh"]["ttl"].get<int>(), 590);
  ws_client dave(s.port, kPath);  // not refreshed: closed when the token expires
  connect(dave, token_for("dave", 2));  // within (1, 2] s: connected, then expired
  EXPECT_EQ(dave.read_until_close(), 3005);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // past carol's first token
  carol.send(R"({"id":3,"ping":{}})");  // carol outlived her first token
  for (;;) {
    auto m = replies(carol);
    if (m.at(0).contains("ping") && m.at(0).contains("id")) break;
  }
}

TEST(Centrifugo, ServedOnlyWhenEnabledAndPingsWhileQuiet) {
  running_server off;  // protocols = ["tributary"]
  EXPECT_ANY_THROW(ws_client(off.port, kPath));
  running_server s(centrifugo_server(millis(500)));
  ws_client c(s.port, kPath);
  EXPECT_EQ(connect(c)["connect"]["ping"], 1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(replies(c).at(0), json::object());  // {} within a heartbeat
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace tributary
