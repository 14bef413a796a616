// CoinGecko: `price` from /api/v3/simple/price, `market` from /api/v3/global.
// Keyless (public), demo key or pro key. See ../README.md.
#include <tributary/plugin_util.hpp>

#include <map>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest coingecko_manifest() {
  sdk::manifest m;
  m.name = "coingecko";
  m.version = "1.0.0";
  m.description = "CoinGecko: simple prices with market cap, volume and 24h change (price); global market (market)";
  m.kinds = {"price", "market"};
  m.secrets = {"api_key"};
  m.secret_envs = {"COINGECKO_API_KEY"};
  m.default_base_url = "https://api.coingecko.com";
  m.default_timeout_ms = 10000;
  // The keyless public API allows roughly 5-15 calls a minute; demo keys 30 a minute.
  m.default_rate_limit = {10, 60000, 3};
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "api_key": {"type": "string"},
      "plan": {"enum": ["auto", "public", "demo", "pro"]},
      "pro_base_url": {"type": "string"},
      "ids": {"type": "object", "additionalProperties": {"type": "string"}},
      "quote_aliases": {"type": "object", "additionalProperties": {"type": "string"}}
    },
    "additionalProperties": false
  })";
  return m;
}

// Coin ids of common symbols (https://api.coingecko.com/api/v3/coins/list); `ids` extends it.
const std::map<std::string, std::string, std::less<>> kIds = {
    {"BTC", "bitcoin"},      {"ETH", "ethereum"},       {"SOL", "solana"},      {"XRP", "ripple"},
    {"ADA", "cardano"},      {"LINK", "chainlink"},     {"BNB", "binancecoin"}, {"DOGE", "dogecoin"},
    {"DOT", "polkadot"},     {"AVAX", "avalanche-2"},   {"LTC", "litecoin"},    {"TRX", "tron"},
    {"MATIC", "matic-network"}, {"POL", "polygon-ecosystem-token"}, {"ATOM", "cosmos"}, {"XLM", "stellar"},
    {"BCH", "bitcoin-cash"}, {"UNI", "uniswap"},        {"TON", "the-open-network"}, {"SHIB", "shiba-inu"},
    {"USDT", "tether"},      {"USDC", "usd-coin"},      {"DAI", "dai"},         {"ETC", "ethereum-classic"}};

class coingecko final : public sdk::plugin {
 public:
  coingecko(std::string_view settings_text, sdk::host) {
    json s = json::parse(settings_text.empty() ? "{}" : settings_text);
    ids_ = pu::string_map(s, "ids");
    // USDT is priced as USD by default: CoinGecko has no USDT quote currency.
    aliases_ = {{"USDT", "usd"}};
    if (s.contains("quote_aliases")) aliases_ = pu::string_map(s, "quote_aliases");
    key_ = s.value("api_key", "");
    std::string plan = s.value("plan", "auto");
    if (plan == "auto") plan = key_.empty() ? "public" : "demo";
    if ((plan == "demo" || plan == "pro") && key_.empty())
      throw sdk::plugin_error(error_class::auth, "plan '" + plan + "' needs api_key");
    plan_ = plan;
    if (plan_ == "pro") pro_base_ = s.value("pro_base_url", "https://pro-api.coingecko.com");
  }

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (kind == "market") {
      if (subject == "global") return std::string("global");
      return sdk::error{error_class::bad_request, "CoinGecko's market data is 'global' only", std::string(subject)};
    }
    auto pair = pu::split_pair(subject);
    if (!pair) return sdk::error{error_class::bad_request, "expected BASE-QUOTE", std::string(subject)};
    std::string id;
    if (auto it = ids_.find(pair->first); it != ids_.end()) id = it->second;
    else if (auto k = kIds.find(pair->first); k != kIds.end()) id = k->second;
    else
      return sdk::error{error_class::bad_request,
                        "no CoinGecko id for " + pair->first + "; add it to `ids` (e.g. ids = { " + pair->first + " = \"...\" })",
                        std::string(subject)};
    std::string vs = pu::lower(pair->second);
    if (auto a = aliases_.find(pair->second); a != aliases_.end()) vs = a->second;
    return id + ":" + vs;  // native: coin id and vs currency
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    sdk::http_request r;
    r.base_url = pro_base_;
    if (plan_ == "demo") r.headers = {{"x-cg-demo-api-key", key_}};
    if (plan_ == "pro") r.headers = {{"x-cg-pro-api-key", key_}};
    if (feed.kind == "market") {
      r.path = "/api/v3/global";
      out.request(r);
      return;
    }
    std::vector<std::string> ids, vs;
    for (const auto& s : feed.subjects) {
      auto colon = s.native.find(':');
      add_unique(ids, s.native.substr(0, colon));
      add_unique(vs, s.native.substr(colon + 1));
    }
    r.path = "/api/v3/simple/price";
    r.query = {{"ids", join(ids)},
               {"vs_currencies", join(vs)},
               {"include_market_cap", "true"},
               {"include_24hr_vol", "true"},
               {"include_24hr_change", "true"},
               {"include_last_updated_at", "true"}};
    out.request(r);
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request&, const sdk::http_response& resp,
             const sdk::output& out) override {
    if (auto f = pu::http_failure(resp)) throw *f;
    json body = pu::parse_json(resp);
    // Errors: {"status": {"error_code": 10002, "error_message": "API Key Missing"}} or {"error": "..."}
    if (body.is_object() && body.contains("status") && body["status"].is_object() && body["status"].contains("error_code"))
      throw classify(resp.status, body["status"].value("error_code", 0), pu::string_at(body["status"], "error_message"));
    if (body.is_object() && body.contains("error"))
      throw classify(resp.status, 0, body["error"].is_string() ? body["error"].get<std::string>() : body["error"].dump());
    if (resp.status != 200) throw classify(resp.status, 0, "unexpected answer");
    if (feed.kind == "market") return parse_global(feed, body, out);
    for (const auto& s : feed.subjects) {
      auto colon = s.native.find(':');
      std::string id = s.native.substr(0, colon), vs = s.native.substr(colon + 1);
      auto coin = body.find(id);
      if (coin == body.end() || !coin->is_object() || coin->empty()) {
        out.fail({error_class::bad_request, "unknown coin id '" + id + "' (not in the answer)", s.canonical, 0});
        continue;
      }
      auto price = pu::number_at(*coin, vs.c_str());
      if (!price) {
        out.fail({error_class::bad_data, "no " + vs + " price for '" + id + "'", s.canonical, 0});
        continue;
      }
      sdk::record_builder r("price", s.canonical, s.native);
      r.number("price", price)
          .number("market_cap", pu::number_at(*coin, (vs + "_market_cap").c_str()))
          .number("quote_volume_24h", pu::number_at(*coin, (vs + "_24h_vol").c_str()))
          .number("change_24h_pct", pu::number_at(*coin, (vs + "_24h_change").c_str()));
      if (auto ts = pu::seconds_ms((*coin)["last_updated_at"])) r.ts(*ts);
      out.record(r);
    }
  }

 private:
  static void add_unique(std::vector<std::string>& v, const std::string& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  }

  static sdk::plugin_error classify(int status, long code, const std::string& msg) {
    std::string what = "HTTP " + std::to_string(status) + (code ? ", error " + std::to_string(code) : "") + ": " + msg;
    if (status == 429 || code == 429) return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, 60000});
    if (status == 401 || status == 403 || (code >= 10000 && code < 10100)) return sdk::plugin_error(error_class::auth, what);
    if (status >= 500) return sdk::plugin_error(error_class::retryable, what);
    return sdk::plugin_error(error_class::bad_request, what);
  }

  void parse_global(const sdk::feed_request& feed, const json& body, const sdk::output& out) {
    const json& d = body.contains("data") ? body["data"] : json();
    if (!d.is_object()) throw sdk::plugin_error(error_class::bad_data, "/global answer has no data");
    const auto& s = feed.subjects.at(0);
    sdk::record_builder r("market", s.canonical, "global");
    auto usd = [&](const char* key) { return d.contains(key) ? pu::number_at(d[key], "usd") : std::nullopt; };
    auto pct = [&](const char* coin) {
      return d.contains("market_cap_percentage") ? pu::number_at(d["market_cap_percentage"], coin) : std::nullopt;
    };
    r.number("total_market_cap", usd("total_market_cap"))
        .number("total_volume_24h", usd("total_volume"))
        .number("market_cap_change_24h_pct", pu::number_at(d, "market_cap_change_percentage_24h_usd"))
        .number("btc_dominance_pct", pct("btc"))
        .number("eth_dominance_pct", pct("eth"))
        .number("active_cryptocurrencies", pu::number_at(d, "active_cryptocurrencies"));
    if (!r.has("total_market_cap")) throw sdk::plugin_error(error_class::bad_data, "/global has no total_market_cap.usd");
    if (auto ts = pu::seconds_ms(d.value("updated_at", json()))) r.ts(*ts);
    out.record(r);
  }

  std::map<std::string, std::string, std::less<>> ids_, aliases_;
  std::string key_, plan_, pro_base_;
};

}  // namespace

TRIBUTARY_PLUGIN(coingecko, coingecko_manifest)
