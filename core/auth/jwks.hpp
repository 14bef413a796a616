#pragma once
// Keys from a JWKS URL ([server.auth] jwks_url, docs/protocol.md, Authentication): RS256 and
// ES256 (P-256) public keys by `kid`, fetched through the host's HTTP client (so cassettes work),
// refreshed every jwks_refresh and when a token names a kid the set lacks (at most once a
// minute). A failed fetch keeps the last good set; status and metrics say so.
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "util/duration.hpp"

namespace spdlog { class logger; }

namespace tributary {

class http_transport;
class metrics;

struct jwk_key {
  std::string pem;  // the public key, PEM
  bool ec = false;  // ES256 (P-256); else RS256 (RSA)
};
using jwk_map = std::map<std::string, jwk_key, std::less<>>;

// The keys of a JWKS document: RSA (n, e) and EC P-256 (x, y) keys with a kid; others are
// skipped. An error when the document is not a key set or holds no usable key.
std::variant<jwk_map, std::string> parse_jwks(std::string_view json);

class jwks_keys {
 public:
  std::optional<jwk_key> find(std::string_view kid) const;
  void replace(jwk_map keys, int64_t at_ms);
  void failed(const std::string& why);
  // {"url", "keys", "kids", "last_fetch_ms", "last_error", "failures"}
  nlohmann::json status(const std::string& url) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  jwk_map keys_;
  int64_t fetched_ms_ = 0;
  std::string last_error_;
  uint64_t failures_ = 0;
};

class jwks_fetcher {
 public:
  jwks_fetcher(std::string url, millis refresh, http_transport& http, metrics& m, std::shared_ptr<spdlog::logger> log);
  ~jwks_fetcher();
  // The first fetch, synchronous (so tokens verify from the start), then the refresh thread.
  void start();
  void stop();
  // A token named a kid the set lacks: fetch again soon, at most once a minute.
  void unknown_kid();
  const std::shared_ptr<jwks_keys>& keys() const { return keys_; }
  nlohmann::json status() const;

 private:
  void fetch();
  void loop();

  std::string url_;
  millis refresh_;
  http_transport& http_;
  metrics& m_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<jwks_keys> keys_ = std::make_shared<jwks_keys>();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, asked_ = false;
  int64_t last_asked_ms_ = 0;
  std::thread thread_;
};

}  // namespace tributary
