#include "auth/jwks.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <future>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/transport.hpp"
#include "obs/metrics.hpp"
#include "plugin/plugin.hpp"
#include "util/thread_name.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<std::string> base64url(const json& v) {
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  std::string out(s.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t pad = s.size() - s.find_last_not_of('=') - 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string pem_of(EVP_PKEY* key) {
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio && key && PEM_write_bio_PUBKEY(bio, key) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  EVP_PKEY_free(key);
  return out;
}

EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return key;
}

std::string rsa_pem(const std::string& n, const std::string& e) {
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* key = nullptr;
  if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
    key = from_params("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn);
  BN_free(be);
  return pem_of(key);
}

std::string ec_pem(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return {};
  std::string point = "\x04" + x + y;  // uncompressed
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* key = nullptr;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    key = from_params("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return pem_of(key);
}

std::optional<jwk_key> key_of(const json& k) {
  auto kty = k.value("kty", std::string());
  if (k.contains("use") && k["use"] != "sig") return std::nullopt;
  if (kty == "RSA" && (!k.contains("alg") || k["alg"] == "RS256")) {
    auto n = base64url(k.value("n", json())), e = base64url(k.value("e", json()));
    if (!n || !e) return std::nullopt;
    auto pem = rsa_pem(*n, *e);
    return pem.empty() ? std::nullopt : std::optional<jwk_key>({pem, false});
  }
  if (kty == "EC" && k.value("crv", std::string()) == "P-256" && (!k.contains("alg") || k["alg"] == "ES256")) {
    auto x = base64url(k.value("x", json())), y = base64url(k.value("y", json()));
    if (!x || !y) return std::nullopt;
    auto pem = ec_pem(*x, *y);
    return pem.empty() ? std::nullopt : std::optional<jwk_key>({pem, true});
  }
  return std::nullopt;
}

}  // namespace

std::variant<jwk_map, std::string> parse_jwks(std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) return std::string("not a JWKS document ({\"keys\": [...]})");
  jwk_map out;
  for (const auto& k : doc["keys"]) {
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string()) continue;
    if (auto key = key_of(k)) out.emplace(k["kid"].get<std::string>(), std::move(*key));
  }
  if (out.empty()) return std::string("the JWKS holds no RS256 or ES256 (P-256) key with a kid");
  return out;
}

std::optional<jwk_key> jwks_keys::find(std::string_view kid) const {
  std::shared_lock lk(mu_);
  if (auto it = keys_.find(kid); it != keys_.end()) return it->second;
  return std::nullopt;
}

void jwks_keys::replace(jwk_map keys, int64_t at_ms) {
  std::unique_lock lk(mu_);
  keys_ = std::move(keys);
  fetched_ms_ = at_ms;
  last_error_.clear();
}

void jwks_keys::failed(const std::string& why) {
  std::unique_lock lk(mu_);
  last_error_ = why;
  ++failures_;
}

size_t jwks_keys::size() const {
  std::shared_lock lk(mu_);
  return keys_.size();
}

json jwks_keys::status(const std::string& url) const {
  std::shared_lock lk(mu_);
  json kids = json::array();
  for (auto& [kid, k] : keys_) kids.push_back(kid);
  return {{"url", url}, {"keys", keys_.size()}, {"kids", kids}, {"last_fetch_ms", fetched_ms_ ? json(fetched_ms_) : json()},
          {"last_error", last_error_.empty() ? json() : json(last_error_)}, {"failures", failures_}};
}

jwks_fetcher::jwks_fetcher(std::string url, millis refresh, http_transport& http, metrics& m, std::shared_ptr<spdlog::logger> log)
    : url_(std::move(url)), refresh_(refresh), http_(http), m_(m), log_(std::move(log)) {
  m_.describe("tributary_jwks_keys", "gauge", "Keys in the JWKS set in use (the last good one)");
  m_.describe("tributary_jwks_fetch_failures_total", "counter", "JWKS fetches that failed (the last good set is kept)");
  m_.add("tributary_jwks_fetch_failures_total", {}, 0);
}

jwks_fetcher::~jwks_fetcher() { stop(); }

void jwks_fetcher::start() {
  fetch();
  thread_ = std::thread([this] { loop(); });
  name_thread(thread_, "jwks");
}

void jwks_fetcher::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void jwks_fetcher::unknown_kid() {
  {
    std::lock_guard lk(mu_);
    if (wall_ms() - last_asked_ms_ < 60000) return;
    last_asked_ms_ = wall_ms();
    asked_ = true;
  }
  cv_.notify_all();
}

void jwks_fetcher::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, refresh_, [this] { return stop_ || asked_; });
    if (stop_) return;
    asked_ = false;
    lk.unlock();
    fetch();
    lk.lock();
  }
}

void jwks_fetcher::fetch() {
  http_request req;
  req.base_url = url_;
  req.tag = "jwks";
  req.timeout = millis(5000);
  std::promise<http_response> done;
  auto got = done.get_future();
  http_.send(req, [&done](http_response r) { done.set_value(std::move(r)); });
  auto res = got.get();
  std::string why;
  if (res.status != 200) why = res.status ? "HTTP " + std::to_string(res.status) : res.error;
  jwk_map keys;
  if (why.empty()) {
    auto parsed = parse_jwks(res.body);
    if (auto* e = std::get_if<std::string>(&parsed)) why = *e;
    else keys = std::move(std::get<jwk_map>(parsed));
  }
  if (!why.empty()) {
    keys_->failed(why);
    m_.add("tributary_jwks_fetch_failures_total");
    log_->warn("jwks: fetching {} failed ({}); keeping the last good set of {} key(s)", url_, why, keys_->size());
  } else {
    log_->info("jwks: {} key(s) from {}", keys.size(), url_);
    keys_->replace(std::move(keys), wall_ms());
  }
  m_.set("tributary_jwks_keys", {}, static_cast<double>(keys_->size()));
}

json jwks_fetcher::status() const { return keys_->status(url_); }

}  // namespace tributary
