#pragma once
// Signs JWTs for tests with libjwt, and makes RSA and EC key pairs with OpenSSL.
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace tributary::test_support {

struct key_pair {
  std::string private_pem, public_pem;
};

// type: "RSA" (2048 bits) or "EC" (P-256).
inline key_pair make_key_pair(const std::string& type) {
  EVP_PKEY* key = type == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) throw std::runtime_error("keygen failed");
  auto pem = [&](bool priv) {
    BIO* b = BIO_new(BIO_s_mem());
    if (priv) PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PUBKEY(b, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, n);
    BIO_free(b);
    return s;
  };
  key_pair kp{pem(true), pem(false)};
  EVP_PKEY_free(key);
  return kp;
}

// A token with `claims` (a JSON object), signed with `alg` ("HS256", "RS256", "ES256", "none").
// `headers`: extra header members (a JSON object), e.g. {"crit": ["exp"]}.
inline std::string sign(const nlohmann::json& claims, const std::string& alg, const std::string& key,
                        const nlohmann::json& headers = nlohmann::json::object()) {
  jwt_t* j = nullptr;
  jwt_new(&j);
  jwt_add_grants_json(j, claims.dump().c_str());
  if (!headers.empty()) jwt_add_headers_json(j, headers.dump().c_str());
  auto a = jwt_str_alg(alg.c_str());
  if (jwt_set_alg(j, a, a == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                  a == JWT_ALG_NONE ? 0 : static_cast<int>(key.size())) != 0)
    throw std::runtime_error("jwt_set_alg failed");
  char* out = jwt_encode_str(j);
  std::string token = out ? out : "";
  std::free(out);
  jwt_free(j);
  return token;
}

inline int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace tributary::test_support
