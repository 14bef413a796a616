// rediss://: our TLS under hiredis's reader, against a real redis-server serving TLS only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "../../../tests/support/redis_server.hpp"
#include "../../../tests/support/self_signed_cert.hpp"
#include "cluster/lease_keeper.hpp"
#include "util/clock.hpp"

using namespace tributary;
using namespace tributary::test_support;
using ::testing::HasSubstr;

namespace {

// A TLS-only redis-server with a certificate for "localhost", trusted through $SSL_CERT_FILE
// for as long as this lives.
struct tls_redis {
  temp_dir dir;
  self_signed cert = make_localhost_cert();
  std::filesystem::path ca = dir.write("ca.pem", cert.cert_pem);
  bool trusted = (::setenv("SSL_CERT_FILE", ca.c_str(), 1) == 0);
  redis_server server{redis_tls{dir.write("cert.pem", cert.cert_pem).string(), dir.write("key.pem", cert.key_pem).string()}};
  ~tls_redis() { ::unsetenv("SSL_CERT_FILE"); }
};

std::string error_of(std::variant<redis_reply, std::string> r) {
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "a reply: " + std::get<redis_reply>(r).str;
}

}  // namespace

TEST(RedisTls, RedissUrlsParseAsTls) {
  auto ep = parse_redis_url("rediss://:secret@cache.example:6380/2");
  ASSERT_TRUE(ep);
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 2);
  EXPECT_FALSE(parse_redis_url("redis://h:1")->tls);
}

TEST(RedisTls, CommandsAndPushesTravelOverTls) {
  tls_redis r;
  redis_client c(r.server.endpoint(), millis(2000));
  auto pong = c.command({"PING"});
  ASSERT_TRUE(std::holds_alternative<redis_reply>(pong)) << error_of(pong);
  EXPECT_EQ(std::get<redis_reply>(pong).str, "PONG");
  std::string big(200 * 1024, 'x');  // more than one TLS record each way
  ASSERT_FALSE(std::get<redis_reply>(c.command({"SET", "k", big})).is_error());
  EXPECT_EQ(std::get<redis_reply>(c.command({"GET", "k"})).str, big);

  redis_client sub(r.server.endpoint(), millis(2000));
  ASSERT_FALSE(std::get<redis_reply>(sub.command({"SUBSCRIBE", "ch"})).is_error());
  auto quiet = sub.next_push(millis(100));  // a quiet channel is not an error
  ASSERT_TRUE(std::holds_alternative<std::optional<redis_reply>>(quiet));
  EXPECT_FALSE(std::get<std::optional<redis_reply>>(quiet).has_value());
  EXPECT_EQ(std::get<redis_reply>(c.command({"PUBLISH", "ch", "hello"})).integer, 1);
  auto push = sub.next_push(millis(2000));
  ASSERT_TRUE(std::holds_alternative<std::optional<redis_reply>>(push));
  auto& msg = std::get<std::optional<redis_reply>>(push);
  ASSERT_TRUE(msg && msg->elements.size() == 3);
  EXPECT_EQ(msg->elements[2].str, "hello");
}

TEST(RedisTls, AnUntrustedCertificateOrAnotherNameIsRefused) {
  tls_redis r;
  temp_dir other;
  ::setenv("SSL_CERT_FILE", other.write("other.pem", make_localhost_cert().cert_pem).c_str(), 1);
  redis_client untrusted(r.server.endpoint(), millis(2000));
  auto e = error_of(untrusted.command({"PING"}));
  EXPECT_THAT(e, HasSubstr("TLS handshake"));
  EXPECT_THAT(e, HasSubstr("certificate verify failed"));
  EXPECT_THAT(e, HasSubstr("localhost:" + std::to_string(r.server.port())));

  ::setenv("SSL_CERT_FILE", r.ca.c_str(), 1);
  auto by_address = r.server.endpoint();
  by_address.host = "127.0.0.1";  // the certificate names localhost only
  redis_client wrong_name(by_address, millis(2000));
  EXPECT_THAT(error_of(wrong_name.command({"PING"})), HasSubstr("TLS handshake"));

  auto plain = r.server.endpoint();
  plain.tls = false;  // a TLS port spoken to in clear text answers nothing useful
  redis_client clear(plain, millis(500));
  EXPECT_TRUE(std::holds_alternative<std::string>(clear.command({"PING"})));
}

TEST(RedisTls, ALeaseIsTakenOverTlsAndTheClientReconnectsAfterARestart) {
  tls_redis r;
  redis_client c(r.server.endpoint(), millis(2000));
  system_clock_source clock;
  lease_keeper k(c, "tls", "node-a", millis(5000), clock);
  EXPECT_EQ(k.step(), lease_keeper::role::leader) << k.last_error();  // scripts (EVAL) over TLS
  EXPECT_EQ(k.epoch(), 1u);
  r.server.stop();
  r.server.start();
  auto first = c.command({"PING"});  // the old session is gone: an error, then a new handshake
  if (std::holds_alternative<std::string>(first)) first = c.command({"PING"});
  ASSERT_TRUE(std::holds_alternative<redis_reply>(first)) << error_of(first);
  EXPECT_EQ(std::get<redis_reply>(first).str, "PONG");
}
