#pragma once
// Verifies a client's JWT (docs/protocol.md, Authentication): the signature through libjwt, then
// the claims. HS256/384/512 use the shared secret; RS* and ES* the configured public key, by
// its type. The algorithm a token names must fit the key it is checked with, so a token signed
// with the public key's bytes as an HMAC secret is refused. Thread-safe: const after creation.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <functional>

#include "auth/jwks.hpp"

namespace tributary {

// Who a verified token speaks for.
struct identity {
  std::string user;                   // the user claim (`sub` unless [server.auth] user_claim), as text
  std::string segment;                // `user` in topics: encode_topic_segment(user)
  int64_t expires_ms = 0;             // `exp` in ms since the epoch; 0 when the token has none
  std::vector<std::string> channels;  // extra topic patterns granted by the `channels` claim
};

struct jwt_result {
  std::optional<identity> who;  // set when the token is good
  std::string error;            // else why not, fit for the client (never the token itself)
  bool expired = false;         // not good only because its exp has passed
};

struct jwt_options {
  std::string secret;          // HS*; empty: not accepted
  std::string public_key_pem;  // RS* (RSA key) or ES* (EC key); empty: not accepted
  std::string issuer;          // checked when set
  std::string audience;        // checked when set
  std::string user_claim = "sub";  // the claim naming the user: a string or an integer
  // [server.auth] jwks_url: RS256/ES256 keys by kid (a token with a kid is checked against them).
  std::shared_ptr<const jwks_keys> jwks;
  std::function<void()> on_unknown_kid;  // a kid the set lacks: ask for a fresh set
};

class jwt_verifier {
 public:
  // Throws std::invalid_argument when the public key cannot be read.
  explicit jwt_verifier(jwt_options o);
  ~jwt_verifier();
  jwt_result verify(std::string_view token, int64_t now_ms) const;

  static constexpr size_t max_token_bytes = 8192;
  static constexpr size_t max_channels = 64;
  static constexpr size_t max_user_bytes = 128;

 private:
  enum class key_family { none, rsa, ec };
  jwt_result check_claims(const nlohmann::json& claims, int64_t now_ms) const;
  jwt_options opts_;
  key_family family_ = key_family::none;
};

}  // namespace tributary
