// CoinMarketCap: `price` from /v2/cryptocurrency/quotes/latest, `market` from
// /v1/global-metrics/quotes/latest. Key in the X-CMC_PRO_API_KEY header. See ../README.md.
#include <tributary/plugin_util.hpp>

#include <map>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest cmc_manifest() {
  sdk::manifest m;
  m.name = "cmc";
  m.version = "1.0.0";
  m.description = "CoinMarketCap: latest quotes (price) and global metrics (market)";
  m.kinds = {"price", "market"};
  m.secrets = {"api_key"};
  m.secret_envs = {"CMC_API_KEY"};
  m.default_base_url = "https://pro-api.coinmarketcap.com";
  m.default_timeout_ms = 10000;
  m.default_rate_limit = {30, 60000, 5};  // Basic plan: 30 calls a minute (and 10,000 credits a month)
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "api_key": {"type": "string"},
      "ids": {"type": "object", "description": "symbol -> CoinMarketCap id, for symbols that are not unique",
              "additionalProperties": {"type": "integer"}}
    },
    "required": ["api_key"],
    "additionalProperties": false
  })";
  return m;
}

constexpr int64_t kMinute = 60000;
constexpr int64_t kDay = 86400000;

class cmc final : public sdk::plugin {
 public:
  cmc(std::string_view settings_text, sdk::host) {
    json s = json::parse(settings_text.empty() ? "{}" : settings_text);
    key_ = s.value("api_key", "");
    if (key_.empty()) throw sdk::plugin_error(error_class::auth, "api_key is empty (set CMC_API_KEY)");
    if (auto it = s.find("ids"); it != s.end() && it->is_object())
      for (auto& [k, v] : it->items()) ids_[k] = std::to_string(v.get<long long>());
  }

  // native: "SYMBOL:CONVERT" or "#ID:CONVERT" when the symbol has a configured id.
  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (kind == "market") {
      if (subject == "global") return std::string("global");
      return sdk::error{error_class::bad_request, "CoinMarketCap's market data is 'global' only", std::string(subject)};
    }
    auto pair = pu::split_pair(subject);
    if (!pair) return sdk::error{error_class::bad_request, "expected BASE-QUOTE", std::string(subject)};
    if (auto it = ids_.find(pair->first); it != ids_.end()) return "#" + it->second + ":" + pair->second;
    return pair->first + ":" + pair->second;
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    if (feed.kind == "market") {
      out.request(request("/v1/global-metrics/quotes/latest", {{"convert", "USD"}}, ""));
      return;
    }
    // One request per convert currency (the Basic plan allows one convert per call), and
    // symbols and ids asked for separately.
    std::map<std::pair<std::string, bool>, std::string> groups;
    for (const auto& s : feed.subjects) {
      auto colon = s.native.rfind(':');
      std::string what = s.native.substr(0, colon), convert = s.native.substr(colon + 1);
      bool by_id = what[0] == '#';
      auto& list = groups[{convert, by_id}];
      std::string item = by_id ? what.substr(1) : what;
      if (("," + list + ",").find("," + item + ",") == std::string::npos) list += (list.empty() ? "" : ",") + item;
    }
    for (const auto& [key, list] : groups)
      out.request(request("/v2/cryptocurrency/quotes/latest", {{key.second ? "id" : "symbol", list}, {"convert", key.first}},
                          key.first));
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request& req, const sdk::http_response& resp,
             const sdk::output& out) override {
    json body = json::parse(resp.body, nullptr, false);
    if (!body.is_discarded() && body.is_object() && body.contains("status") && body["status"].is_object()) {
      long code = body["status"].value("error_code", 0L);
      if (code != 0 || resp.status != 200) throw classify(resp, code, pu::string_at(body["status"], "error_message"));
    }
    if (auto f = pu::http_failure(resp)) throw *f;
    if (body.is_discarded()) body = pu::parse_json(resp);
    if (resp.status != 200) throw sdk::plugin_error(error_class::bad_request, "HTTP " + std::to_string(resp.status));
    const json& data = body.contains("data") ? body["data"] : json();
    if (!data.is_object()) throw sdk::plugin_error(error_class::bad_data, "answer has no data object");
    if (feed.kind == "market") return parse_global(feed, data, out);
    const std::string convert = req.tag;
    for (const auto& s : feed.subjects) {
      auto colon = s.native.rfind(':');
      if (s.native.substr(colon + 1) != convert) continue;  // another request's subject
      std::string what = s.native.substr(0, colon);
      bool by_id = what[0] == '#';
      std::string key = by_id ? what.substr(1) : what;
      const json* coin = pick(data, key);
      if (!coin) {
        out.fail({error_class::bad_request, "" + std::string(by_id ? "id " : "symbol ") + key + " is not in the answer", s.canonical, 0});
        continue;
      }
      const json& q = (*coin).contains("quote") && (*coin)["quote"].contains(convert) ? (*coin)["quote"][convert] : json();
      auto price = pu::number_at(q, "price");
      if (!price) {
        out.fail({error_class::bad_data, "no " + convert + " price for " + key, s.canonical, 0});
        continue;
      }
      std::string native = by_id ? "id:" + key : pu::string_at(*coin, "symbol");
      sdk::record_builder r("price", s.canonical, native.empty() ? key : native);
      r.number("price", price)
          .number("change_24h_pct", pu::number_at(q, "percent_change_24h"))
          .number("quote_volume_24h", pu::number_at(q, "volume_24h"))
          .number("market_cap", pu::number_at(q, "market_cap"));
      if (auto ts = pu::iso8601_ms(pu::string_at(q, "last_updated"))) r.ts(*ts);
      out.record(r);
    }
  }

 private:
  sdk::http_request request(std::string path, sdk::kv_list query, std::string tag) const {
    sdk::http_request r;
    r.path = std::move(path);
    r.query = std::move(query);
    r.headers = {{"X-CMC_PRO_API_KEY", key_}, {"Accept", "application/json"}};
    r.tag = std::move(tag);
    return r;
  }

  // Symbols are not unique: data.BTC is a list; the best-ranked active coin wins.
  static const json* pick(const json& data, const std::string& key) {
    auto it = data.find(key);
    if (it == data.end()) return nullptr;
    if (it->is_object()) return &*it;
    if (!it->is_array() || it->empty()) return nullptr;
    const json* best = nullptr;
    for (const auto& c : *it) {
      if (!c.is_object()) continue;
      auto rank = pu::number_at(c, "cmc_rank");
      auto best_rank = best ? pu::number_at(*best, "cmc_rank") : std::nullopt;
      if (!best || (rank && (!best_rank || *rank < *best_rank))) best = &c;
    }
    return best;
  }

  static sdk::plugin_error classify(const sdk::http_response& resp, long code, const std::string& msg) {
    std::string what = "HTTP " + std::to_string(resp.status) + ", error_code " + std::to_string(code) + ": " + msg;
    int64_t now = resp.received_ms;
    switch (code) {
      case 1001: case 1002: case 1003: case 1004: case 1005: case 1006: case 1007:
        return sdk::plugin_error(error_class::auth, what);
      case 1008: {  // per-minute limit: wait for the next minute
        int64_t pause = resp.retry_after_ms();
        return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, pause > 0 ? pause : kMinute});
      }
      case 1009: {  // daily limit: until the next UTC midnight
        int64_t pause = now > 0 ? kDay - now % kDay : kDay;
        return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, pause});
      }
      case 1010:  // monthly credits: nothing before the month turns; check back daily
        return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, kDay});
      case 1011:  // IP rate limit
        return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, kMinute});
      default:
        break;
    }
    if (resp.status == 429) return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, kMinute});
    if (resp.status == 401 || resp.status == 402 || resp.status == 403) return sdk::plugin_error(error_class::auth, what);
    if (resp.status >= 500) return sdk::plugin_error(error_class::retryable, what);
    return sdk::plugin_error(error_class::bad_request, what);
  }

  void parse_global(const sdk::feed_request& feed, const json& d, const sdk::output& out) {
    const json& q = d.contains("quote") && d["quote"].contains("USD") ? d["quote"]["USD"] : json();
    const auto& s = feed.subjects.at(0);
    sdk::record_builder r("market", s.canonical, "global");
    r.number("total_market_cap", pu::number_at(q, "total_market_cap"))
        .number("total_volume_24h", pu::number_at(q, "total_volume_24h"))
        .number("market_cap_change_24h_pct", pu::number_at(q, "total_market_cap_yesterday_percentage_change"))
        .number("btc_dominance_pct", pu::number_at(d, "btc_dominance"))
        .number("eth_dominance_pct", pu::number_at(d, "eth_dominance"))
        .number("active_cryptocurrencies", pu::number_at(d, "active_cryptocurrencies"));
    if (!r.has("total_market_cap")) throw sdk::plugin_error(error_class::bad_data, "global metrics have no quote.USD.total_market_cap");
    auto ts = pu::iso8601_ms(pu::string_at(q, "last_updated"));
    if (!ts) ts = pu::iso8601_ms(pu::string_at(d, "last_updated"));
    if (ts) r.ts(*ts);
    out.record(r);
  }

  std::string key_;
  std::map<std::string, std::string, std::less<>> ids_;
};

}  // namespace

TRIBUTARY_PLUGIN(cmc, cmc_manifest)
