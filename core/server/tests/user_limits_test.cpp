// Per-user limits ([server.limits] connections_per_user, messages_per_minute_per_user) over real
// sockets: in memory for one server, and in a real Redis across two servers (cluster mode),
// failing open, and counted, when Redis is gone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../../tests/support/jwt_sign.hpp"
#include "../../../tests/support/raw_ws.hpp"
#include "../../../tests/support/redis_server.hpp"
#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"

namespace tributary {
namespace {

using namespace test_support;
using nlohmann::json;
using ::testing::HasSubstr;

const std::string kSecret = "limits-secret-0123456789-abcdefghij";

std::string token_for(const std::string& user) { return sign({{"sub", user}, {"exp", unix_now() + 600}}, "HS256", kSecret); }

server_options limited(size_t connections, size_t messages, const redis_server* redis = nullptr) {
  server_options o;
  o.auth = true;
  o.jwt.secret = kSecret;
  o.public_patterns = {"price.*"};
  o.connections_per_user = connections;
  o.messages_per_minute_per_user = messages;
  if (redis) {
    o.user_limits_redis = "redis://127.0.0.1:" + std::to_string(redis->port());
    o.user_limits_prefix = "tributary:limits-test:";
  }
  return o;
}

// The status line of an upgrade carrying `token`.
std::string upgrade_status(unsigned short port, const std::string& token) {
  raw_socket s(port);
  auto head = s.upgrade("/ws?token=" + token);
  return head.substr(0, head.find("\r\n"));
}

json read_type(ws_client& c, const std::string& type) {
  for (;;) {
    auto m = c.read();
    if (m["type"] == type) return m;
  }
}

TEST(UserLimits, ConnectionsPerUserRefuseTheNextSessionAtOnce) {
  running_server s(limited(2, 0));
  auto a1 = std::make_unique<ws_client>(s.port, "/ws?token=" + token_for("alice@example.com"));
  ws_client a2(s.port, "/ws?token=" + token_for("alice@example.com"));
  read_type(*a1, "authenticated");
  read_type(a2, "authenticated");
  EXPECT_THAT(upgrade_status(s.port, token_for("alice@example.com")), HasSubstr("503"));  // a token on the upgrade
  ws_client bob(s.port, "/ws?token=" + token_for("bob"));  // another user is not affected
  EXPECT_EQ(read_type(bob, "authenticated")["user"], "bob");
  ws_client late(s.port);  // an auth message
  late.send(json{{"type", "auth"}, {"id", 1}, {"token", token_for("alice@example.com")}}.dump());
  auto e = read_type(late, "error");
  EXPECT_EQ(e["code"], "too_many_connections");
  EXPECT_EQ(late.read_until_close(), 1008);
  a1.reset();  // one closes: room for one more
  std::string status;
  for (int i = 0; i < 100 && status.find("101") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = upgrade_status(s.port, token_for("alice@example.com"));
  }
  EXPECT_THAT(status, HasSubstr("101"));
  EXPECT_THAT(http_get(s.port, "/metrics").body, HasSubstr(R"(tributary_user_limit_refusals_total{limit="connections_per_user"} 2)"));
}

TEST(UserLimits, MessagesPerMinuteAreCountedAcrossTheUsersSessions) {
  running_server s(limited(0, 6));
  auto minute = [] { return unix_now() / 60; };
  auto started = minute();
  ws_client a(s.port, "/ws?token=" + token_for("carol")), b(s.port, "/ws?token=" + token_for("carol"));
  read_type(a, "authenticated");
  read_type(b, "authenticated");
  int pongs = 0, limited_n = 0;
  for (int i = 0; i < 4; ++i)
    for (auto* c : {&a, &b}) {
      c->send(json{{"type", "ping"}, {"id", i}}.dump());
      auto m = c->read();
      (m["type"] == "pong" ? pongs : limited_n) += 1;
      if (m["type"] != "pong") EXPECT_EQ(m["code"], "rate_limited");
    }
  // 6 a minute for carol, whichever session sends (a minute boundary in the middle allows more).
  EXPECT_EQ(pongs + limited_n, 8);
  if (minute() == started) EXPECT_EQ(pongs, 6);
  else EXPECT_GE(pongs, 6);
}

// Two servers, one Redis: the limit is the user's across both; without Redis, sessions are let
// in and the misses counted.
TEST(UserLimits, InClusterModeTheLimitHoldsAcrossServersAndFailsOpen) {
  redis_server redis;
  running_server one(limited(2, 0, &redis)), two(limited(2, 0, &redis));
  ws_client a1(one.port, "/ws?token=" + token_for("auth0|64f1c2"));
  ws_client a2(two.port, "/ws?token=" + token_for("auth0|64f1c2"));
  read_type(a1, "authenticated");
  read_type(a2, "authenticated");
  EXPECT_THAT(upgrade_status(one.port, token_for("auth0|64f1c2")), HasSubstr("503"));
  EXPECT_THAT(upgrade_status(two.port, token_for("auth0|64f1c2")), HasSubstr("503"));
  EXPECT_EQ(redis.command({"ZCARD", "tributary:limits-test:user_sessions:auth0:7C64f1c2"}).integer, 2);
  redis.stop();
  EXPECT_THAT(upgrade_status(one.port, token_for("auth0|64f1c2")), HasSubstr("101"));  // fail open
  auto m = http_get(one.port, "/metrics").body;
  EXPECT_THAT(m, ::testing::Not(HasSubstr("tributary_user_limits_unavailable_total 0\n")));
}

}  // namespace
}  // namespace tributary

namespace tributary {
namespace {

// Behind a trusted proxy the per-IP limit counts the address its X-Forwarded-For names.
TEST(IpLimits, BehindATrustedProxyTheForwardedClientIsCounted) {
  server_options o;
  o.connections_per_ip = 1;
  o.trusted_proxies = {*parse_cidr("127.0.0.1")};
  running_server s(o);
  auto get = [&](raw_socket& c, const std::string& xff) {
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + xff + "\r\n\r\n");
    auto r = c.read_for(300);
    return r.substr(0, r.find("\r\n"));
  };
  raw_socket a(s.port), b(s.port), c(s.port);
  EXPECT_THAT(get(a, "203.0.113.1"), HasSubstr("200"));
  EXPECT_THAT(get(b, "203.0.113.2"), HasSubstr("200"));  // another client behind the same proxy
  EXPECT_THAT(get(c, "203.0.113.1"), HasSubstr("503"));  // the first one's second connection
}

// A connection that never finishes a request stops counting once request_timeout cuts it.
TEST(IpLimits, IdleSocketsStopCountingAfterRequestTimeout) {
  server_options o;
  o.connections_per_ip = 1;
  o.request_timeout = millis(300);
  running_server s(o);
  raw_socket idle(s.port);
  idle.send("GET /health HTTP/1.1\r\nHost: x\r\n");  // never finished
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(http_get(s.port, "/health").status, 503);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(http_get(s.port, "/health").status, 200);
}

}  // namespace
}  // namespace tributary
