// JWKS ([server.auth] jwks_url): keys by kid from a local HTTP server (python3 -m http.server
// serving a file the test rewrites) through the host's curl transport; rotation, an unknown kid
// fetching again, and a dead server leaving the last good set in use.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "../../../tests/support/jwt_sign.hpp"
#include "../../../tests/support/process.hpp"
#include "../../../tests/support/redis_server.hpp"
#include "../../../tests/support/temp_dir.hpp"
#include "auth/jwks.hpp"
#include "auth/jwt_verifier.hpp"
#include "net/transport.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "util/clock.hpp"

namespace tributary {
namespace {

using nlohmann::json;
using test_support::key_pair;
using test_support::make_key_pair;
using test_support::sign;
using test_support::unix_now;

std::string b64url(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string bn_b64url(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::vector<unsigned char> bytes(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, bytes.data());
  BN_free(bn);
  return b64url(bytes.data(), bytes.size());
}

// The JWK of a test key pair's public key.
json jwk_of(const key_pair& kp, const std::string& kid) {
  BIO* bio = BIO_new_mem_buf(kp.public_pem.data(), static_cast<int>(kp.public_pem.size()));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  json j;
  if (EVP_PKEY_base_id(k) == EVP_PKEY_RSA) {
    j = {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"}, {"n", bn_b64url(k, OSSL_PKEY_PARAM_RSA_N)}, {"e", bn_b64url(k, OSSL_PKEY_PARAM_RSA_E)}};
  } else {
    unsigned char pub[65];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len);
    j = {{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"}, {"x", b64url(pub + 1, 32)}, {"y", b64url(pub + 33, 32)}};
  }
  EVP_PKEY_free(k);
  return j;
}

}  // namespace
}  // namespace tributary

namespace tributary::test_support {
inline bool http_listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}
}  // namespace tributary::test_support

namespace tributary {
namespace {

void serve(const test_support::temp_dir& d, const json& keys) {
  std::ofstream(d.path() / "jwks.json") << json{{"keys", keys}}.dump();
}

TEST(Jwks, KeysAreParsedFromRsaAndEcJwksAndJunkIsRefused) {
  auto rsa = make_key_pair("RSA"), ec = make_key_pair("EC");
  auto parsed = parse_jwks(json{{"keys", {jwk_of(rsa, "r"), jwk_of(ec, "e"), {{"kty", "oct"}, {"kid", "x"}, {"k", "c2VjcmV0"}}}}}.dump());
  ASSERT_TRUE(std::holds_alternative<jwk_map>(parsed)) << std::get<std::string>(parsed);
  auto& keys = std::get<jwk_map>(parsed);
  ASSERT_EQ(keys.size(), 2u);  // the symmetric key is not taken
  EXPECT_FALSE(keys.at("r").ec);
  EXPECT_TRUE(keys.at("e").ec);
  for (std::string junk : {"", "[]", "{\"keys\":{}}", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
                           "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"a\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}"})
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_jwks(junk))) << junk;
}

TEST(Jwks, RotatedKeysAreFetchedAndTheLastGoodSetOutlivesTheServer) {
  test_support::temp_dir d;
  auto k1 = make_key_pair("RSA"), k2 = make_key_pair("EC");
  serve(d, json::array({jwk_of(k1, "k1")}));
  int port = test_support::free_port();
  auto http_server = std::make_unique<test_support::child>(
      std::vector<std::string>{"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory", d.path().string()},
      d.path());
  system_clock_source clock;
  auto http = make_curl_transport(clock);
  metrics m;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/jwks.json";
  jwks_fetcher f(url, millis(2000), *http, m, make_logger("jwks-test", "off", nullptr));
  for (int i = 0; i < 100 && ::access((d.path() / "jwks.json").c_str(), R_OK) == 0; ++i) {  // until it listens
    if (test_support::http_listening(port)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  f.start();
  for (int i = 0; i < 250 && f.keys()->size() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(f.keys()->size(), 1u) << f.status();
  jwt_options o;
  o.jwks = f.keys();
  o.on_unknown_kid = [&f] { f.unknown_kid(); };
  jwt_verifier v(o);
  auto now = unix_now() * 1000;
  auto t1 = sign({{"sub", "alice"}}, "RS256", k1.private_pem, {{"kid", "k1"}});
  ASSERT_TRUE(v.verify(t1, now).who) << v.verify(t1, now).error;
  EXPECT_FALSE(v.verify(sign({{"sub", "alice"}}, "RS256", make_key_pair("RSA").private_pem, {{"kid", "k1"}}), now).who);  // another key
  EXPECT_FALSE(v.verify(sign({{"sub", "alice"}}, "HS256", k1.public_pem, {{"kid", "k1"}}), now).who);  // HMAC with the key's text
  // Rotation: the provider now publishes k2 only. A token naming k2 makes the set be fetched again.
  serve(d, json::array({jwk_of(k2, "k2")}));
  auto t2 = sign({{"sub", "bob"}}, "ES256", k2.private_pem, {{"kid", "k2"}});
  auto first = v.verify(t2, now);
  EXPECT_FALSE(first.who);
  EXPECT_NE(first.error.find("kid"), std::string::npos);
  for (int i = 0; i < 200 && !v.verify(t2, now).who; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(v.verify(t2, now).who);
  EXPECT_FALSE(v.verify(t1, now).who);  // k1 is gone
  // The provider goes away: refreshes fail, the last good set stays in use and status says so.
  http_server.reset();
  for (int i = 0; i < 200 && f.status()["last_error"].is_null(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto st = f.status();
  EXPECT_FALSE(st["last_error"].is_null()) << st;
  EXPECT_GE(st["failures"].get<int>(), 1);
  EXPECT_EQ(st["kids"], json::array({"k2"}));
  EXPECT_TRUE(v.verify(t2, now).who);
  EXPECT_NE(m.render().find("tributary_jwks_keys 1"), std::string::npos);
  http->shutdown();
}

}  // namespace
}  // namespace tributary
