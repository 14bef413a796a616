#include "auth/jwt_verifier.hpp"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "record/topic.hpp"
#include "tributary/topic_segment.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

struct jwt_free_t {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_free_t>;

jwt_ptr decode(const std::string& token, const std::string& key) {
  jwt_t* raw = nullptr;
  auto* k = key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data());
  if (jwt_decode(&raw, token.c_str(), k, static_cast<int>(key.size())) != 0) return nullptr;
  return jwt_ptr(raw);
}

bool is_hmac(jwt_alg_t a) { return a == JWT_ALG_HS256 || a == JWT_ALG_HS384 || a == JWT_ALG_HS512; }
bool is_rsa(jwt_alg_t a) { return a == JWT_ALG_RS256 || a == JWT_ALG_RS384 || a == JWT_ALG_RS512; }
bool is_ec(jwt_alg_t a) { return a == JWT_ALG_ES256 || a == JWT_ALG_ES384 || a == JWT_ALG_ES512; }

// ms since the epoch from a NumericDate claim (seconds, maybe fractional); nullopt if malformed.
std::optional<int64_t> numeric_date_ms(const json& v) {
  if (!v.is_number()) return std::nullopt;
  double s = v.get<double>();
  if (!(s >= 0 && s < 1e12)) return std::nullopt;
  return static_cast<int64_t>(s * 1000);
}

std::string check_audience(const json& aud, const std::string& want) {
  if (aud.is_string() && aud.get<std::string>() == want) return {};
  if (aud.is_array())
    for (auto& a : aud)
      if (a.is_string() && a.get<std::string>() == want) return {};
  return "token audience does not include '" + want + "'";
}

std::string read_channels(const json& claims, identity& id) {
  auto c = claims.find("channels");
  if (c == claims.end()) return {};
  if (!c->is_array() || c->size() > jwt_verifier::max_channels)
    return "'channels' must be an array of at most 64 topic patterns";
  for (auto& p : *c) {
    if (!p.is_string() || !check_pattern(p.get<std::string>()).empty()) return "'channels' holds a malformed topic pattern";
    id.channels.push_back(p.get<std::string>());
  }
  return {};
}

}  // namespace

jwt_verifier::jwt_verifier(jwt_options o) : opts_(std::move(o)) {
  if (opts_.public_key_pem.empty()) return;
  BIO* bio = BIO_new_mem_buf(opts_.public_key_pem.data(), static_cast<int>(opts_.public_key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  int type = key ? EVP_PKEY_base_id(key) : 0;
  EVP_PKEY_free(key);
  BIO_free(bio);
  if (type == EVP_PKEY_RSA) family_ = key_family::rsa;
  else if (type == EVP_PKEY_EC) family_ = key_family::ec;
  else throw std::invalid_argument("jwt_public_key is not an RSA or EC public key in PEM form");
}

jwt_verifier::~jwt_verifier() = default;

jwt_result jwt_verifier::verify(std::string_view token_in, int64_t now_ms) const {
  if (token_in.empty()) return {std::nullopt, "empty token"};
  if (token_in.size() > max_token_bytes) return {std::nullopt, "token longer than 8192 bytes"};
  std::string token(token_in);
  if (token.find('\0') != std::string::npos) return {std::nullopt, "malformed token"};
  auto unverified = decode(token, "");  // only to learn which key the token asks for
  if (!unverified) return {std::nullopt, "malformed token"};
  // libjwt reports alg "none" for a token decoded without a key: read the header's own field.
  const char* named = jwt_get_header(unverified.get(), "alg");
  jwt_alg_t alg = named ? jwt_str_alg(named) : JWT_ALG_INVAL;
  if (alg == JWT_ALG_INVAL) return {std::nullopt, "token header names no known algorithm"};
  // RFC 7515 4.1.11: extensions named in `crit` must be understood; this verifier knows none.
  char* crit = jwt_get_headers_json(unverified.get(), "crit");
  bool critical = crit != nullptr || jwt_get_header(unverified.get(), "crit") != nullptr;
  std::free(crit);
  if (critical) return {std::nullopt, "token header has crit: extensions this server does not support"};
  const std::string* key = nullptr;
  std::string from_jwks;
  if (const char* kid = jwt_get_header(unverified.get(), "kid"); kid && opts_.jwks && (alg == JWT_ALG_RS256 || alg == JWT_ALG_ES256)) {
    auto k = opts_.jwks->find(kid);
    if (!k) {
      if (opts_.on_unknown_kid) opts_.on_unknown_kid();
      return {std::nullopt, "token key id (kid) is not in the JWKS"};
    }
    if (k->ec != (alg == JWT_ALG_ES256)) return {std::nullopt, "token algorithm does not fit its JWKS key"};
    from_jwks = std::move(k->pem);
    key = &from_jwks;
  } else if (is_hmac(alg) && !opts_.secret.empty()) key = &opts_.secret;
  else if ((is_rsa(alg) && family_ == key_family::rsa) || (is_ec(alg) && family_ == key_family::ec)) key = &opts_.public_key_pem;
  if (!key) return {std::nullopt, std::string("token algorithm '") + jwt_alg_str(alg) + "' is not accepted here"};
  auto verified = decode(token, *key);
  if (!verified || jwt_get_alg(verified.get()) != alg) return {std::nullopt, "bad token signature"};
  char* text = jwt_get_grants_json(verified.get(), nullptr);
  json claims = text ? json::parse(text, nullptr, false) : json();
  std::free(text);
  if (!claims.is_object()) return {std::nullopt, "malformed token claims"};
  return check_claims(claims, now_ms);
}

jwt_result jwt_verifier::check_claims(const json& claims, int64_t now_ms) const {
  identity id;
  auto user = claims.find(opts_.user_claim);
  if (user != claims.end() && user->is_number_integer())
    id.user = user->is_number_unsigned() ? std::to_string(user->get<uint64_t>()) : std::to_string(user->get<int64_t>());
  else if (user != claims.end() && user->is_string()) id.user = user->get<std::string>();
  if (id.user.empty() || id.user.size() > max_user_bytes)
    return {std::nullopt, "'" + opts_.user_claim + "' must be a string of 1 to 128 bytes or an integer (it names the user)"};
  id.segment = encode_topic_segment(id.user);
  if (auto e = claims.find("exp"); e != claims.end()) {
    auto ms = numeric_date_ms(*e);
    if (!ms) return {std::nullopt, "'exp' is not a NumericDate"};
    if (*ms <= now_ms) return {std::nullopt, "token expired", true};
    id.expires_ms = *ms;
  }
  if (auto n = claims.find("nbf"); n != claims.end()) {
    auto ms = numeric_date_ms(*n);
    if (!ms) return {std::nullopt, "'nbf' is not a NumericDate"};
    if (*ms > now_ms) return {std::nullopt, "token not valid yet (nbf)"};
  }
  if (!opts_.issuer.empty() && claims.value("iss", json()) != json(opts_.issuer))
    return {std::nullopt, "token issuer is not '" + opts_.issuer + "'"};
  if (!opts_.audience.empty())
    if (auto why = check_audience(claims.value("aud", json()), opts_.audience); !why.empty()) return {std::nullopt, why};
  if (auto why = read_channels(claims, id); !why.empty()) return {std::nullopt, why};
  return {std::move(id), {}};
}

}  // namespace tributary
