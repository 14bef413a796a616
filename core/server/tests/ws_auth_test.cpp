// Authentication and authorization over real sockets (docs/protocol.md, Authentication): tokens by
// header, URL and message; personal topics; forbidden patterns; expiry; HTTP topic rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "../../../tests/support/jwt_sign.hpp"
#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"
#include "publish/view_engine.hpp"
#include "tributary/topic_segment.hpp"

namespace tributary {
namespace {

using namespace test_support;
using nlohmann::json;
using ::testing::HasSubstr;

const std::string kSecret = "test-secret-0123456789-abcdefghij";

std::string token_for(const std::string& user, int64_t ttl_s = 600, json extra = json::object()) {
  json c{{"sub", user}, {"exp", unix_now() + ttl_s}};
  c.merge_patch(extra);
  return sign(c, "HS256", kSecret);
}

server_options jwt_server() {
  server_options o;
  o.auth = true;
  o.jwt.secret = kSecret;
  o.public_patterns = {"price.*"};
  return o;
}

void publish_event(running_server& s, const std::string& subject) {
  record r;
  r.kind = "event";
  r.subject = subject;
  r.source = "tasks";
  r.feed = "tasks";
  r.data = {{"status", "filled"}};
  s.out.publish(r);
}

// Topics of the updates and snapshots read until `last` arrives.
std::set<std::string> topics_until(ws_client& c, const std::string& last) {
  std::set<std::string> seen;
  for (;;) {
    auto m = c.read();
    if (m["type"] != "update" && m["type"] != "snapshot") continue;
    seen.insert(m["topic"].get<std::string>());
    if (m["topic"] == last) return seen;
  }
}

json read_type(ws_client& c, const std::string& type) {
  for (;;) {
    auto m = c.read();
    if (m["type"] == type) return m;
  }
}

TEST(WsAuth, PersonalTopicsReachOnlyTheirUserWhateverTheWildcard) {
  running_server s(jwt_server());
  ws_client alice(s.port, "/ws", std::chrono::seconds(10), token_for("alice"));
  ws_client bob(s.port, "/ws?token=" + token_for("bob"));
  ws_client carol(s.port);  // authenticates by message
  ws_client anon(s.port);
  EXPECT_EQ(read_type(alice, "authenticated")["user"], "alice");
  EXPECT_EQ(read_type(bob, "authenticated")["user"], "bob");
  carol.send(json{{"type", "auth"}, {"id", 1}, {"token", token_for("carol")}}.dump());
  auto ok = read_type(carol, "authenticated");
  EXPECT_EQ(ok["id"], 1);
  EXPECT_GT(ok["expires_ms"].get<int64_t>(), unix_now() * 1000);
  for (auto* c : {&alice, &bob, &carol, &anon}) {
    c->send(R"({"type":"subscribe","id":2,"topics":["*"]})");
    EXPECT_EQ(read_type(*c, "subscribed")["topics"], json::array({"*"}));
  }
  alice.send(R"({"type":"subscribe","id":3,"topics":["user.*","event.user.alice.*"]})");
  read_type(alice, "subscribed");
  for (auto subject : {"user.alice.orders", "user.bob.orders", "user.bob.trades", "user.carol.portfolio"}) publish_event(s, subject);
  s.publish("BTC-USDT", 1);  // public, and the last one: everyone gets it
  EXPECT_EQ(topics_until(alice, "price.BTC-USDT"), (std::set<std::string>{"event.user.alice.orders", "price.BTC-USDT"}));
  EXPECT_EQ(topics_until(bob, "price.BTC-USDT"), (std::set<std::string>{"event.user.bob.orders", "event.user.bob.trades", "price.BTC-USDT"}));
  EXPECT_EQ(topics_until(carol, "price.BTC-USDT"), (std::set<std::string>{"event.user.carol.portfolio", "price.BTC-USDT"}));
  EXPECT_EQ(topics_until(anon, "price.BTC-USDT"), std::set<std::string>{"price.BTC-USDT"});
  // Snapshots follow the same rules: a late wildcard subscriber gets only its own.
  ws_client bob2(s.port, "/ws?token=" + token_for("bob"));
  bob2.send(R"({"type":"subscribe","id":4,"topics":["event.*","price.*"]})");
  EXPECT_EQ(topics_until(bob2, "price.BTC-USDT").count("event.user.alice.orders"), 0u);
}

TEST(WsAuth, AForbiddenPatternGetsAnErrorAndTheConnectionStaysOpen) {
  running_server s(jwt_server());
  ws_client bob(s.port, "/ws?token=" + token_for("bob"));
  bob.send(R"({"type":"subscribe","id":7,"topics":["user.alice.*","event.user.alice.orders","price.*"]})");
  std::set<std::string> forbidden;
  json subscribed;
  while (subscribed.is_null()) {
    auto m = bob.read();
    if (m["type"] == "error") {
      EXPECT_EQ(m["code"], "forbidden");
      EXPECT_EQ(m["id"], 7);
      forbidden.insert(m["topic"].get<std::string>());
    } else if (m["type"] == "subscribed") {
      subscribed = m;
    }
  }
  EXPECT_EQ(forbidden, (std::set<std::string>{"user.alice.*", "event.user.alice.orders"}));
  EXPECT_EQ(subscribed["topics"], json::array({"price.*"}));
  ws_client anon(s.port);
  anon.send(R"({"type":"subscribe","id":8,"topics":["secret.*"]})");
  EXPECT_EQ(read_type(anon, "error")["code"], "forbidden");
  auto none = read_type(anon, "subscribed");  // still answered, with nothing subscribed
  EXPECT_EQ(none["id"], 8);
  EXPECT_EQ(none["topics"], json::array());
  anon.send(R"({"type":"ping","id":9})");
  EXPECT_EQ(read_type(anon, "pong")["id"], 9);
}

// What demand = "subscribed" feeds poll for is what clients may read: an anonymous "*" wants
// only the public price topics, and a pattern a token grants nothing of wants nothing.
TEST(WsAuth, DemandCountsOnlyWhatASessionMayRead) {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> seen;
  running_server s(jwt_server(), {}, [&](const std::string& p, bool present) {
    std::lock_guard lk(mu);
    seen.emplace_back(p, present);
  });
  {
    ws_client anon(s.port);
    anon.send(R"({"type":"subscribe","id":1,"topics":["*"]})");
    EXPECT_EQ(read_type(anon, "subscribed")["topics"], json::array({"*"}));
    ws_client alice(s.port, "/ws?token=" + token_for("alice"));
    alice.send(R"({"type":"subscribe","id":2,"topics":["price.BTC-USDT","sentiment.*"]})");
    read_type(alice, "subscribed");
    std::lock_guard lk(mu);
    // alice's token grants no sentiment topic: her sentiment.* wants nothing.
    EXPECT_EQ(seen, (std::vector<std::pair<std::string, bool>>{{"price.*", true}, {"price.BTC-USDT", true}}));
  }
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lk(mu);
      if (seen.size() == 4) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lk(mu);
  ASSERT_EQ(seen.size(), 4u);  // both closed: every pattern went
  for (size_t i = 2; i < 4; ++i) EXPECT_FALSE(seen[i].second) << seen[i].first;
}

TEST(WsAuth, ABadTokenIsRefusedWith1008) {
  running_server s(jwt_server());
  for (std::string bad : {sign({{"sub", "eve"}}, "HS256", "a-different-secret-0123456789abc"), std::string("garbage"),
                          token_for("eve", -5)}) {
    ws_client c(s.port, "/ws?token=" + bad);
    auto e = read_type(c, "error");
    EXPECT_EQ(e["code"], "unauthorized");
    EXPECT_EQ(e["message"].get<std::string>().find(kSecret), std::string::npos);
    EXPECT_EQ(c.read_until_close(), 1008);
  }
  ws_client alice(s.port, "/ws?token=" + token_for("alice"));
  read_type(alice, "authenticated");
  alice.send(json{{"type", "auth"}, {"token", token_for("mallory")}}.dump());  // a session keeps its user
  EXPECT_EQ(read_type(alice, "error")["code"], "unauthorized");
  EXPECT_EQ(alice.read_until_close(), 1008);
  EXPECT_EQ(s.m.value("tributary_ws_auth_failures_total"), 4);
}

TEST(WsAuth, AnExpiredTokenEndsTheSessionUnlessRenewedInTime) {
  running_server s(jwt_server());
  ws_client lapsing(s.port, "/ws?token=" + token_for("alice", 2));
  ws_client renewing(s.port, "/ws?token=" + token_for("bob", 2));
  read_type(lapsing, "authenticated");
  read_type(renewing, "authenticated");
  renewing.send(json{{"type", "auth"}, {"id", 1}, {"token", token_for("bob", 600)}}.dump());
  read_type(renewing, "authenticated");
  auto e = read_type(lapsing, "error");  // within about two seconds
  EXPECT_EQ(e["code"], "token_expired");
  EXPECT_EQ(lapsing.read_until_close(), 1008);
  renewing.send(R"({"type":"ping","id":2})");
  EXPECT_EQ(read_type(renewing, "pong")["id"], 2);
}

TEST(WsAuth, AFirstAuthAfterAuthTimeoutIsRefusedAndTheSessionStaysPublic) {
  auto o = jwt_server();
  o.auth_timeout = millis(200);
  running_server s(o);
  ws_client late(s.port);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  late.send(json{{"type", "auth"}, {"id", 1}, {"token", token_for("alice")}}.dump());
  EXPECT_EQ(read_type(late, "error")["code"], "auth_timeout");
  late.send(R"({"type":"subscribe","id":2,"topics":["user.alice.*"]})");
  EXPECT_EQ(read_type(late, "error")["code"], "forbidden");
  EXPECT_EQ(read_type(late, "subscribed")["topics"], json::array());
  late.send(R"({"type":"subscribe","id":3,"topics":["price.*"]})");
  EXPECT_EQ(read_type(late, "subscribed")["id"], 3);
}

TEST(HttpAuth, LatestAndTopicsApplyTheTopicRules) {
  running_server s(jwt_server());
  publish_event(s, "user.alice.orders");
  s.publish("BTC-USDT", 1);
  const std::string path = "/api/v1/latest/event.user.alice.orders";
  EXPECT_EQ(http_get(s.port, path).status, 403);
  EXPECT_EQ(http_get(s.port, path, token_for("bob")).status, 403);
  EXPECT_EQ(http_get(s.port, path, token_for("alice")).status, 200);
  EXPECT_EQ(http_get(s.port, path + "?token=" + token_for("alice")).status, 200);
  EXPECT_EQ(http_get(s.port, path, token_for("alice"), "bearer").status, 200);  // the scheme is case-insensitive
  EXPECT_EQ(http_get(s.port, path, token_for("alice"), "BEARER").status, 200);
  EXPECT_EQ(http_get(s.port, path, "garbage").status, 401);
  EXPECT_EQ(http_get(s.port, "/api/v1/latest/price.BTC-USDT").status, 200);
  auto anon = json::parse(http_get(s.port, "/api/v1/topics").body);
  EXPECT_EQ(anon["topics"].size(), 1u);
  auto mine = json::parse(http_get(s.port, "/api/v1/topics", token_for("alice")).body);
  EXPECT_EQ(mine["topics"].size(), 2u);
}

// GET /api/v1/history/{topic}: the recovery history, oldest first, paged by since and limit.
TEST(HttpHistory, ServesRecentRecordsOldestFirstPagedBySinceAndLimit) {
  running_server s;
  for (int i = 1; i <= 5; ++i) s.publish("BTC-USDT", 100 + i);
  auto seqs = [](const json& j) {
    std::vector<uint64_t> out;
    for (auto& r : j["records"]) out.push_back(r["seq"]);
    return out;
  };
  auto all = http_get(s.port, "/api/v1/history/price.BTC-USDT");
  ASSERT_EQ(all.status, 200) << all.body;
  auto j = json::parse(all.body);
  EXPECT_EQ(j["topic"], "price.BTC-USDT");
  EXPECT_EQ(j["epoch"], s.hub.epoch());
  EXPECT_EQ(seqs(j), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(j["records"][4]["data"]["price"], 105);
  EXPECT_EQ(j["records"][0]["schema"], "tributary.v1");
  EXPECT_EQ(seqs(json::parse(http_get(s.port, "/api/v1/history/price.BTC-USDT?limit=2").body)), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(seqs(json::parse(http_get(s.port, "/api/v1/history/price.BTC-USDT?since=1&limit=2").body)), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(seqs(json::parse(http_get(s.port, "/api/v1/history/price.BTC-USDT?since=5").body)), std::vector<uint64_t>{});
  EXPECT_EQ(seqs(json::parse(http_get(s.port, "/api/v1/history/price.BTC-USDT?limit=99999").body)).size(), 5u);  // capped at 1,000
  for (auto bad : {"?since=abc", "?since=-1", "?limit=0", "?limit=", "?since=1e3", "?limit=12x"}) {
    auto r = http_get(s.port, std::string("/api/v1/history/price.BTC-USDT") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "bad_request") << bad;
  }
  auto unknown = http_get(s.port, "/api/v1/history/price.NOPE-USDT");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("unknown topic 'price.NOPE-USDT'"));
}

TEST(HttpHistory, AppliesTheTopicRulesPersonalTopicsIncluded) {
  running_server s(jwt_server());
  publish_event(s, "user.alice.orders");
  publish_event(s, "user.alice.orders");
  s.publish("BTC-USDT", 1);
  const std::string path = "/api/v1/history/event.user.alice.orders";
  EXPECT_EQ(http_get(s.port, path).status, 403);
  EXPECT_EQ(http_get(s.port, path, token_for("bob")).status, 403);
  auto mine = http_get(s.port, path, token_for("alice"));
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(json::parse(mine.body)["records"].size(), 2u);
  EXPECT_EQ(http_get(s.port, "/api/v1/history/price.BTC-USDT").status, 200);  // public
  EXPECT_EQ(http_get(s.port, path, "garbage").status, 401);
}

TEST(HttpViews, TheRouteServesTheBareViewObjectUnderTheTopicRules) {
  view_config v;
  v.name = "summary";
  v.route = "/api/crypto/summary";
  v.fields = {{"btc", "price.BTC-USDT", "price"}, {"eth", "price.ETH-USDT", "price"}};
  view_engine views({v});
  auto o = jwt_server();
  o.view_routes = {{"/api/crypto/summary", "view.summary"}};  // route, topic
  running_server s(o);
  s.path.set_views(&views);
  EXPECT_EQ(http_get(s.port, "/api/crypto/summary").status, 403);  // view.* is not public here
  auto reader = token_for("reader", 600, {{"channels", {"view.*"}}});
  EXPECT_EQ(http_get(s.port, "/api/crypto/summary", reader).status, 404);  // no value yet
  s.publish("BTC-USDT", 84250.5);
  auto got = http_get(s.port, "/api/crypto/summary?token=" + reader);
  ASSERT_EQ(got.status, 200) << got.body;
  auto body = json::parse(got.body);
  EXPECT_EQ(body["btc"], 84250.5);
  EXPECT_EQ(body["stale"], json::array());
  EXPECT_FALSE(body.contains("eth"));  // unknown input: left out
  EXPECT_FALSE(body.contains("schema"));  // the object alone, not a record
}

TEST(HttpAssets, TheDashboardCanBeTurnedOffButTheClientIsAlwaysServed) {
  running_server on;
  auto page = http_get(on.port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html");
  EXPECT_NE(page.body.find("/dashboard.js"), std::string::npos);
  EXPECT_EQ(http_get(on.port, "/dashboard.js").content_type, "text/javascript");
  server_options o;
  o.dashboard = false;
  running_server off(o);
  EXPECT_EQ(http_get(off.port, "/").status, 404);
  EXPECT_EQ(http_get(off.port, "/dashboard.js").status, 404);
  auto client = http_get(off.port, "/tributary.js");
  EXPECT_EQ(client.status, 200);
  EXPECT_NE(client.body.find("export class TributaryClient"), std::string::npos);
}

TEST(WsAuth, WithAuthOffEverythingIsOpenAndAuthIsRefusedPolitely) {
  running_server s;
  ws_client c(s.port, "/ws?token=whatever");
  c.send(R"({"type":"subscribe","id":1,"topics":["*"]})");
  read_type(c, "subscribed");
  publish_event(s, "user.alice.orders");
  EXPECT_EQ(topics_until(c, "event.user.alice.orders").size(), 1u);
  c.send(R"({"type":"auth","id":2,"token":"x"})");
  auto e = read_type(c, "error");
  EXPECT_EQ(e["code"], "bad_request");
  EXPECT_EQ(e["id"], 2);
}

}  // namespace
}  // namespace tributary

namespace tributary {
namespace {

// A session authenticating by message: "authenticated", or the error code it got.
std::string auth_outcome(unsigned short port, const std::string& token) {
  test_support::ws_client c(port);
  c.send(nlohmann::json{{"type", "auth"}, {"id", 1}, {"token", token}}.dump());
  for (;;) {
    auto m = c.read();
    if (m["type"] == "authenticated") return "authenticated";
    if (m["type"] == "error") return m["code"];
  }
}

}  // namespace

TEST(WsAuth, AReconfiguredKeyServesNewSessionsAndAnUnusableOneChangesNothing) {
  test_support::running_server s(jwt_server());
  const std::string rotated = "rotated-secret-9876543210-zyxwvutsrq";
  auto next = jwt_server();
  next.port = 0;  // as running_server started it
  next.jwt.secret = rotated;
  EXPECT_TRUE(s.srv->reconfigure(next).empty());
  auto with_rotated = test_support::sign({{"sub", "dana"}, {"exp", test_support::unix_now() + 600}}, "HS256", rotated);
  EXPECT_EQ(auth_outcome(s.port, with_rotated), "authenticated");
  EXPECT_EQ(auth_outcome(s.port, token_for("erin")), "unauthorized");  // the old key no longer signs

  auto broken = next;
  broken.jwt.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
  EXPECT_THROW(s.srv->reconfigure(broken), std::invalid_argument);
  EXPECT_EQ(auth_outcome(s.port, with_rotated), "authenticated");  // the settings in force stay

  auto open = next;
  open.auth = false;
  open.port = 1;
  EXPECT_EQ(s.srv->reconfigure(open), (std::vector<std::string>{"listen", "auth.mode"}));
  EXPECT_EQ(auth_outcome(s.port, token_for("frank")), "unauthorized");  // still jwt, still the rotated key
}

// `event.user.<id>` with nothing after the id is personal: a token granting "*" does not open
// bob's to alice, over HTTP or WebSocket, nor does it show in her topic list; bob reads it.
TEST(HttpAuth, APersonalTopicWithNothingAfterTheIdIsOnlyItsUsers) {
  auto o = jwt_server();
  o.public_patterns = {"*"};
  running_server s(o);
  publish_event(s, "user.bob");
  s.publish("BTC-USDT", 1);
  auto all = token_for("alice", 600, {{"channels", {"*"}}});
  const std::string path = "/api/v1/latest/event.user.bob";
  EXPECT_EQ(http_get(s.port, path, all).status, 403);
  EXPECT_EQ(http_get(s.port, path).status, 403);
  EXPECT_EQ(http_get(s.port, path, token_for("bob")).status, 200);
  auto listed = json::parse(http_get(s.port, "/api/v1/topics", all).body);
  EXPECT_EQ(listed.dump().find("event.user.bob"), std::string::npos) << listed;
  EXPECT_NE(listed.dump().find("price.BTC-USDT"), std::string::npos) << listed;
  ws_client alice(s.port, "/ws?token=" + all);
  alice.send(R"({"type":"subscribe","id":1,"topics":["*"]})");
  ws_client bob(s.port, "/ws?token=" + token_for("bob"));
  bob.send(R"({"type":"subscribe","id":1,"topics":["event.user.bob"]})");
  EXPECT_EQ(read_type(bob, "subscribed")["type"], "subscribed");
  publish_event(s, "user.bob");
  s.publish("BTC-USDT", 2);
  EXPECT_EQ(topics_until(bob, "event.user.bob").count("event.user.bob"), 1u);
  EXPECT_EQ(topics_until(alice, "price.BTC-USDT").count("event.user.bob"), 0u);
}

// Ids as identity providers issue them: each session gets its own personal topics, named by the
// encoded id, and nobody else's, whether subscribed by wildcard or read over HTTP.
TEST(WsAuth, AnyUserIdGetsItsOwnTopicsAndNoOneElses) {
  running_server s(jwt_server());
  const std::vector<std::string> ids = {"auth0|64f1c2", "alice@example.com", "0b7e5c3a-9f4d-4e2b-8a61-2c9d7f3e1a55"};
  std::vector<std::unique_ptr<ws_client>> clients;
  for (const auto& id : ids) {
    clients.push_back(std::make_unique<ws_client>(s.port, "/ws?token=" + token_for(id)));
    auto ok = read_type(*clients.back(), "authenticated");
    EXPECT_EQ(ok["user"], id);
    EXPECT_EQ(ok["user_segment"], encode_topic_segment(id));
    clients.back()->send(R"({"type":"subscribe","id":2,"topics":["*"]})");
    read_type(*clients.back(), "subscribed");
  }
  for (const auto& id : ids) {
    publish_event(s, "user." + encode_topic_segment(id) + ".orders");
    publish_event(s, "user." + encode_topic_segment(id));
  }
  s.publish("BTC-USDT", 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto own = "event.user." + encode_topic_segment(ids[i]);
    EXPECT_EQ(topics_until(*clients[i], "price.BTC-USDT"), (std::set<std::string>{own, own + ".orders", "price.BTC-USDT"})) << ids[i];
    auto other = "/api/v1/latest/event.user." + encode_topic_segment(ids[(i + 1) % ids.size()]) + ".orders";
    EXPECT_EQ(http_get(s.port, other, token_for(ids[i])).status, 403) << other;
    EXPECT_EQ(http_get(s.port, "/api/v1/latest/" + own + ".orders", token_for(ids[i])).status, 200) << own;
  }
  // An id that reads like another's encoding is still someone else.
  ws_client mimic(s.port, "/ws?token=" + token_for(encode_topic_segment(ids[1])));
  mimic.send(json{{"type", "subscribe"}, {"id", 3}, {"topics", {"event.user." + encode_topic_segment(ids[1]) + ".*"}}}.dump());
  EXPECT_EQ(read_type(mimic, "error")["code"], "forbidden");
}

}  // namespace tributary
