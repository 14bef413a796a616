#include <gtest/gtest.h>

#include <random>

#include "../../../tests/support/jwt_sign.hpp"
#include "auth/access.hpp"
#include "auth/bearer.hpp"
#include "auth/jwt_verifier.hpp"
#include "tributary/topic_segment.hpp"

namespace tributary {
namespace {

using nlohmann::json;
using test_support::sign;
using test_support::unix_now;

const std::string kSecret = "0123456789abcdef0123456789abcdef";

int64_t now_ms() { return unix_now() * 1000; }

TEST(JwtVerifier, AcceptsAGoodHs256TokenAndReadsItsClaims) {
  jwt_verifier v({kSecret, "", "issuer-1", "tributary"});
  auto tok = sign({{"sub", "alice"}, {"exp", unix_now() + 60}, {"iss", "issuer-1"}, {"aud", json::array({"x", "tributary"})},
                   {"channels", {"orders.*"}}},
                  "HS256", kSecret);
  auto r = v.verify(tok, now_ms());
  ASSERT_TRUE(r.who) << r.error;
  EXPECT_EQ(r.who->user, "alice");
  EXPECT_EQ(r.who->expires_ms, (unix_now() + 60) * 1000);
  EXPECT_EQ(r.who->channels, std::vector<std::string>{"orders.*"});
}

TEST(JwtVerifier, RefusesBadTokensWithAReason) {
  jwt_verifier v({kSecret, "", "issuer-1", "tributary"});
  json good{{"sub", "alice"}, {"exp", unix_now() + 60}, {"iss", "issuer-1"}, {"aud", "tributary"}};
  auto with = [&](json patch) {
    json c = good;
    c.merge_patch(patch);
    return sign(c, "HS256", kSecret);
  };
  struct { std::string token, why; } cases[] = {
      {sign(good, "HS256", "another-secret-of-enough-length!!"), "signature"},
      {with({{"exp", unix_now() - 1}}), "expired"},
      {with({{"nbf", unix_now() + 60}}), "nbf"},
      {with({{"iss", "someone"}}), "issuer"},
      {with({{"aud", "elsewhere"}}), "audience"},
      {with({{"sub", std::string(129, 'a')}}), "sub"},
      {with({{"sub", ""}}), "sub"},
      {with({{"sub", {{"id", 1}}}}), "sub"},
      {with({{"sub", nullptr}}), "sub"},
      {with({{"exp", "soon"}}), "exp"},
      {with({{"channels", "price.*"}}), "channels"},
      {with({{"channels", {"bad pattern"}}}), "channels"},
      {sign(good, "none", ""), "algorithm"},
      {sign(good, "HS256", kSecret, {{"crit", {"exp"}}}), "crit"},  // RFC 7515 4.1.11: unknown extensions
      {sign(good, "HS256", kSecret, {{"crit", "b64"}}), "crit"},
      {"not.a.token", "malformed"},
      {"", "empty"},
      {std::string(9000, 'a'), "8192"},
  };
  for (auto& c : cases) {
    auto r = v.verify(c.token, now_ms());
    EXPECT_FALSE(r.who) << c.why;
    EXPECT_NE(r.error.find(c.why), std::string::npos) << r.error;
    EXPECT_EQ(r.error.find(kSecret), std::string::npos);
  }
}

TEST(JwtVerifier, ChecksRs256AndEs256WithThePublicKeyByItsType) {
  for (auto [type, alg] : {std::pair{"RSA", "RS256"}, std::pair{"EC", "ES256"}}) {
    auto kp = test_support::make_key_pair(type);
    jwt_verifier v({"", kp.public_pem, "", ""});
    auto r = v.verify(sign({{"sub", "bob"}}, alg, kp.private_pem), now_ms());
    ASSERT_TRUE(r.who) << alg << ": " << r.error;
    EXPECT_EQ(r.who->user, "bob");
    EXPECT_EQ(r.who->expires_ms, 0);
    // The classic confusion: an HMAC token keyed with the public key's text.
    auto forged = v.verify(sign({{"sub", "mallory"}}, "HS256", kp.public_pem), now_ms());
    EXPECT_FALSE(forged.who) << alg;
    // A key of the other type is refused by algorithm.
    auto other = test_support::make_key_pair(std::string(type) == "RSA" ? "EC" : "RSA");
    EXPECT_FALSE(v.verify(sign({{"sub", "bob"}}, std::string(type) == "RSA" ? "ES256" : "RS256", other.private_pem), now_ms()).who);
    // Signed by another key of the right type.
    EXPECT_FALSE(v.verify(sign({{"sub", "bob"}}, alg, test_support::make_key_pair(type).private_pem), now_ms()).who);
  }
  EXPECT_THROW(jwt_verifier({"", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "", ""}), std::invalid_argument);
}

TEST(JwtVerifier, MangledTokensAreRefusedAndNeverCrash) {
  jwt_verifier v({kSecret, "", "", ""});
  const std::string good = sign({{"sub", "alice"}, {"exp", unix_now() + 60}}, "HS256", kSecret);
  ASSERT_TRUE(v.verify(good, now_ms()).who);
  std::mt19937 rng(7);
  const std::string alphabet("AZaz09-_.=+/\"{}\0\xff", 17);
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k) {
      size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: t.erase(at, 1 + rng() % 8); break;
        default: t.insert(at, std::string(1 + rng() % 3, alphabet[rng() % alphabet.size()]));
      }
      if (t.empty()) t = ".";
    }
    auto r = v.verify(t, now_ms());
    // Base64url has slack bits in its last character, so a change there may decode the same.
    if (r.who) EXPECT_EQ(r.who->user, "alice") << t;
    else EXPECT_FALSE(r.error.empty());
  }
}

TEST(TopicSegment, EncodesAnyIdReversiblyIntoOneSegment) {
  EXPECT_EQ(encode_topic_segment("42"), "42");
  EXPECT_EQ(encode_topic_segment("alice@example.com"), "alice:40example:2Ecom");
  EXPECT_EQ(encode_topic_segment("auth0|64f1c2"), "auth0:7C64f1c2");
  EXPECT_EQ(encode_topic_segment("0b7e5c3a-9f4d-4e2b-8a61-2c9d7f3e1a55"), "0b7e5c3a-9f4d-4e2b-8a61-2c9d7f3e1a55");
  EXPECT_EQ(encode_topic_segment("a:b"), "a:3Ab");  // the escape itself is escaped
  EXPECT_EQ(encode_topic_segment("\xc3\xa9"), ":C3:A9");
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string id(1 + rng() % 40, '\0');
    for (auto& c : id) c = static_cast<char>(rng() % 256);
    auto seg = encode_topic_segment(id);
    EXPECT_EQ(seg.find('.'), std::string::npos);
    EXPECT_EQ(decode_topic_segment(seg), id);
  }
  // Only what encoding gives decodes: one spelling per id.
  for (const char* bad : {"a:2e", "a:41", "a:4", "a:", "a.b", "a@b", ":ZZ"}) EXPECT_FALSE(decode_topic_segment(bad)) << bad;
}

// The user's topics are named by the encoded id: any claim value works, and two ids never share
// topics, whatever they look like once encoded.
TEST(JwtVerifier, AnyUserIdWorksAndAnotherClaimCanNameIt) {
  jwt_verifier v({kSecret, "", "", ""});
  for (std::string id : {"auth0|64f1c2", "alice@example.com", "0b7e5c3a-9f4d-4e2b-8a61-2c9d7f3e1a55", "a.b", "alice:40example:2Ecom"}) {
    auto r = v.verify(sign({{"sub", id}}, "HS256", kSecret), now_ms());
    ASSERT_TRUE(r.who) << r.error;
    EXPECT_EQ(r.who->user, id);
    EXPECT_EQ(r.who->segment, encode_topic_segment(id));
  }
  auto numeric = v.verify(sign({{"sub", 42}}, "HS256", kSecret), now_ms());
  ASSERT_TRUE(numeric.who);
  EXPECT_EQ(numeric.who->segment, "42");
  jwt_verifier by_email({kSecret, "", "", "", "email"});
  auto r = by_email.verify(sign({{"sub", "x"}, {"email", "alice@example.com"}}, "HS256", kSecret), now_ms());
  ASSERT_TRUE(r.who) << r.error;
  EXPECT_EQ(r.who->segment, "alice:40example:2Ecom");
  auto none = by_email.verify(sign({{"sub", "x"}}, "HS256", kSecret), now_ms());
  EXPECT_FALSE(none.who);
  EXPECT_NE(none.error.find("'email'"), std::string::npos) << none.error;
}

TEST(Access, PersonalTopicsBelongToOneUserWhateverThePatterns) {
  access_policy policy{true, {"price.*", "event.*", "*"}};
  grant anon{&policy, "", {}}, alice{&policy, "alice", {}}, bob{&policy, "bob", {}};
  EXPECT_EQ(personal_owner("user.alice.orders"), "alice");
  EXPECT_EQ(personal_owner("event.user.alice.orders"), "alice");
  EXPECT_EQ(personal_owner("user.*"), "");
  EXPECT_EQ(personal_owner("user.alice"), "alice");  // nothing after the id: still hers
  EXPECT_EQ(personal_owner("event.user.bob"), "bob");
  EXPECT_EQ(personal_owner("event.user.*"), "");
  EXPECT_EQ(personal_owner("price.BTC-USDT"), "");
  for (auto topic : {"user.alice.orders", "event.user.alice.trades"}) {
    EXPECT_TRUE(may_see(alice, topic));
    EXPECT_FALSE(may_see(bob, topic));  // even with a public "*"
    EXPECT_FALSE(may_see(anon, topic));
  }
  EXPECT_TRUE(may_see(anon, "price.BTC-USDT"));
  EXPECT_FALSE(may_subscribe(bob, "user.alice.*"));
  EXPECT_FALSE(may_subscribe(bob, "event.user.alice.*"));
  EXPECT_FALSE(may_subscribe(bob, "event.user.alice.orders"));
  EXPECT_TRUE(may_subscribe(alice, "event.user.alice.*"));
  EXPECT_TRUE(reaches_own_topics(alice, "*"));
  EXPECT_TRUE(reaches_own_topics(alice, "event.*"));
  EXPECT_TRUE(reaches_own_topics(alice, "user.*"));
  EXPECT_FALSE(reaches_own_topics(alice, "user.bob.*"));
  EXPECT_FALSE(reaches_own_topics(anon, "*"));
}

TEST(Access, PatternsAreNarrowedToWhatTheSessionMaySee) {
  access_policy policy{true, {"price.*", "market.global"}};
  grant anon{&policy, "", {}}, carol{&policy, "carol", {"orders.eu.*"}};
  EXPECT_EQ(shared_registrations(anon, "*"), (std::vector<std::string>{"price.*", "market.global"}));
  EXPECT_EQ(shared_registrations(anon, "price.BTC-USDT"), (std::vector<std::string>{"price.BTC-USDT"}));
  EXPECT_TRUE(shared_registrations(anon, "secret.*").empty());
  EXPECT_EQ(shared_registrations(carol, "orders.*"), (std::vector<std::string>{"orders.eu.*"}));
  EXPECT_FALSE(may_subscribe(anon, "secret.*"));
  EXPECT_FALSE(may_subscribe(anon, "user.*"));
  EXPECT_TRUE(may_subscribe(anon, "*"));
  EXPECT_TRUE(may_subscribe(carol, "orders.*"));
  EXPECT_TRUE(may_subscribe(carol, "user.*"));
  EXPECT_FALSE(may_see(carol, "orders.us.1"));
  EXPECT_TRUE(may_see(carol, "orders.eu.1"));
  EXPECT_EQ(intersect("price.*", "price.BTC.*"), "price.BTC.*");
  EXPECT_EQ(intersect("price.BTC-USDT", "price.*"), "price.BTC-USDT");
  EXPECT_FALSE(intersect("price.*", "pricey.*"));
  access_policy off{false, {}};
  grant any{&off, "", {}};
  EXPECT_TRUE(may_see(any, "user.alice.orders"));
  EXPECT_EQ(shared_registrations(any, "*"), std::vector<std::string>{"*"});
}


// `user.<id>` and `<kind>.user.<id>` with nothing after the id are personal too: a grant of "*"
// or "event.*", or a public "*", does not open bob's to alice or to anonymous clients.
TEST(Access, APersonalTopicWithNothingAfterTheIdIsPersonal) {
  access_policy policy{true, {"*"}};
  grant anon{&policy, "", {}}, alice{&policy, "alice", {"*", "event.*"}}, bob{&policy, "bob", {}};
  for (auto topic : {"user.bob", "event.user.bob"}) {
    EXPECT_FALSE(may_see(alice, topic)) << topic;
    EXPECT_FALSE(may_see(anon, topic)) << topic;
    EXPECT_TRUE(may_see(bob, topic)) << topic;
    EXPECT_TRUE(may_subscribe(bob, topic)) << topic;
    EXPECT_FALSE(may_subscribe(alice, topic)) << topic;
  }
  EXPECT_TRUE(reaches_own_topics(bob, "event.*"));
  EXPECT_TRUE(reaches_own_topics(bob, "user.bob"));
  EXPECT_FALSE(reaches_own_topics(alice, "event.user.bob"));
}

TEST(Bearer, TheSchemeIsCaseInsensitive) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc"), "abc");
  EXPECT_FALSE(bearer_token("Bearerabc"));
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token(""));
}

}  // namespace
}  // namespace tributary
