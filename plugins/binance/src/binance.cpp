// Binance spot market data: `price` from /api/v3/ticker/24hr, `candle` from /api/v3/klines,
// and, with `mode = "stream"`, `price` from the <symbol>@ticker WebSocket streams.
// See ../README.md for endpoints, weights and the field mapping.
#include <tributary/plugin_util.hpp>

#include <map>
#include <set>

namespace {

namespace sdk = tributary::sdk;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest binance_manifest() {
  sdk::manifest m;
  m.name = "binance";
  m.version = "1.0.0";
  m.description = "Binance spot market data: 24h tickers (price, polled or streamed) and klines (candle)";
  m.kinds = {"price", "candle"};
  m.modes = TRIB_MODE_POLL | TRIB_MODE_STREAM;
  m.default_base_url = "https://api.binance.com";
  m.default_timeout_ms = 5000;
  // REQUEST_WEIGHT limit of /api/v3/exchangeInfo: 6000 per minute per IP.
  m.default_rate_limit = {6000, 60000, 300};
  // Binance reports the weight used in the current minute on every answer.
  m.budget_header = "X-MBX-USED-WEIGHT-1M";
  m.budget_header_counts = TRIB_BUDGET_USED;
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "symbols": {"type": "object", "description": "canonical subject -> Binance symbol overrides",
                  "additionalProperties": {"type": "string"}},
      "stream_url": {"type": "string", "description": "WebSocket base URL of the market streams, for mode = stream"},
      "stream_style": {"type": "string", "description": "combined: /stream?streams=...; subscribe: /ws and a SUBSCRIBE frame"}
    },
    "additionalProperties": false
  })";
  return m;
}

const std::set<std::string, std::less<>> kIntervals = {"1s", "1m", "3m", "5m", "15m", "30m",
                                                       "1h", "2h", "4h", "6h", "8h", "12h",
                                                       "1d", "3d", "1w", "1M"};

// Weight of GET /api/v3/ticker/24hr with `symbols`, by how many symbols are asked for.
double ticker_weight(size_t n) { return n <= 20 ? 2 : n <= 100 ? 40 : 80; }

std::optional<double> num(const json& j, const char* key) { return tributary::plugin_util::number_at(j, key); }

// The fields of a 24h ticker, under their REST names and their stream event names.
struct ticker_keys {
  const char *price, *change, *change_pct, *open, *high, *low, *volume, *quote_volume, *bid, *ask;
};
constexpr ticker_keys kRestTicker{"lastPrice", "priceChange", "priceChangePercent", "openPrice", "highPrice",
                                  "lowPrice", "volume", "quoteVolume", "bidPrice", "askPrice"};
constexpr ticker_keys kStreamTicker{"c", "p", "P", "o", "h", "l", "v", "q", "b", "a"};

// A `price` record from one ticker; false when it has no price.
bool ticker_record(const sdk::subject& s, const json& t, const ticker_keys& k, int64_t ts, const sdk::output& out) {
  auto price = num(t, k.price);
  if (!price) return false;
  sdk::record_builder r("price", s.canonical, s.native);
  r.number("price", price)
      .number("change_24h", num(t, k.change))
      .number("change_24h_pct", num(t, k.change_pct))
      .number("open_24h", num(t, k.open))
      .number("high_24h", num(t, k.high))
      .number("low_24h", num(t, k.low))
      .number("volume_24h", num(t, k.volume))
      .number("quote_volume_24h", num(t, k.quote_volume))
      .number("bid", num(t, k.bid))
      .number("ask", num(t, k.ask));
  if (ts > 0) r.ts(ts);
  out.record(r);
  return true;
}

constexpr size_t kMaxStreamsPerConnection = 1024;      // Binance's limit per connection
constexpr int64_t kMaxConnectionMs = 23 * 3600000 + 50 * 60000;  // Binance ends connections at 24 h

std::optional<double> num_at(const json& arr, size_t i) {
  if (!arr.is_array() || i >= arr.size()) return std::nullopt;
  return tributary::plugin_util::number(arr[i]);
}

std::string subjects_of(const sdk::feed_request& f) {
  std::string s;
  for (const auto& x : f.subjects) s += (s.empty() ? "" : ", ") + x.canonical;
  return s;
}

class binance final : public sdk::plugin {
 public:
  binance(std::string_view settings, sdk::host) {
    json j = json::parse(settings.empty() ? "{}" : settings);
    overrides_ = tributary::plugin_util::string_map(j, "symbols");
    stream_url_ = j.value("stream_url", "wss://stream.binance.com:9443");
    while (!stream_url_.empty() && stream_url_.back() == '/') stream_url_.pop_back();
    std::string style = j.value("stream_style", "combined");
    if (style != "combined" && style != "subscribe")
      throw sdk::plugin_error(error_class::bad_request, "stream_style must be combined or subscribe, not '" + style + "'");
    subscribe_ = style == "subscribe";
  }

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    std::string instrument(subject);
    if (kind == "candle") {
      auto dot = subject.rfind('.');
      if (dot == std::string_view::npos || !kIntervals.count(subject.substr(dot + 1)))
        return sdk::error{error_class::bad_request,
                          "candle subject must be INSTRUMENT.INTERVAL with a Binance interval "
                          "(1m, 5m, 1h, 1d, ...)",
                          std::string(subject)};
      instrument = std::string(subject.substr(0, dot));
    } else if (kind != "price") {
      return sdk::error{error_class::bad_request, "binance does not serve kind " +
                                                      std::string(kind), std::string(subject)};
    }
    if (auto it = overrides_.find(instrument); it != overrides_.end()) return it->second;
    auto dash = instrument.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == instrument.size() ||
        instrument.find('-', dash + 1) != std::string::npos)
      return sdk::error{error_class::bad_request,
                        "expected BASE-QUOTE (e.g. BTC-USDT); add it to `symbols` to map it",
                        std::string(subject)};
    std::string native;
    for (char c : instrument)
      if (c != '-') native += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return native;
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    if (feed.kind == "price") {
      json symbols = json::array();
      for (const auto& s : feed.subjects) symbols.push_back(s.native);
      sdk::http_request r;
      r.path = "/api/v3/ticker/24hr";
      r.query = {{"symbols", symbols.dump()}};
      r.weight = ticker_weight(feed.subjects.size());
      out.request(r);
      return;
    }
    for (const auto& s : feed.subjects) {  // candle: one klines call per subject
      sdk::http_request r;
      r.path = "/api/v3/klines";
      r.query = {{"symbol", s.native},
                 {"interval", s.canonical.substr(s.canonical.rfind('.') + 1)},
                 {"limit", "1"}};
      r.weight = 2;
      r.tag = s.canonical;
      out.request(r);
    }
  }

  // mode = "stream": the <symbol>@ticker stream of every subject on one connection.
  void plan_stream(const sdk::feed_request& feed, const sdk::output& out) override {
    if (feed.kind != "price")
      throw sdk::plugin_error(error_class::bad_request, "binance streams only kind price (<symbol>@ticker)");
    if (feed.subjects.empty() || feed.subjects.size() > kMaxStreamsPerConnection)
      throw sdk::plugin_error(error_class::bad_request, "a binance stream feed names 1 to 1024 subjects");
    json names = json::array();
    std::string joined;
    for (const auto& s : feed.subjects) {
      std::string name;
      for (char c : s.native) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      name += "@ticker";
      joined += (joined.empty() ? "" : "/") + name;
      names.push_back(std::move(name));
    }
    sdk::stream_plan p;
    p.upstream = TRIB_UPSTREAM_WEBSOCKET;
    p.expected_interval_ms = 10000;  // tickers come every second; 30 s of silence is a dead connection
    p.max_connection_ms = kMaxConnectionMs;
    if (subscribe_) {
      p.url = stream_url_ + "/ws";
      p.subscribe_frames.push_back(json{{"method", "SUBSCRIBE"}, {"params", names}, {"id", 1}}.dump());
    } else {
      p.url = stream_url_ + "/stream?streams=" + joined;
    }
    out.stream(p);
  }

  // One message: a ticker event, raw or wrapped as {"stream", "data"} by a combined stream, or
  // the answer to a SUBSCRIBE ({"result": null, "id": 1}), or an error ({"error": {...}}).
  void parse_message(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) override {
    json j = json::parse(m.payload, nullptr, false);
    if (!j.is_object()) throw sdk::plugin_error(error_class::bad_data, "message is not a JSON object");
    if (auto e = j.find("error"); e != j.end())
      throw sdk::plugin_error(error_class::bad_request, "Binance refused a request: " + e->dump());
    if (j.contains("code") && j.contains("msg"))
      throw sdk::plugin_error(error_class::bad_request, "Binance error: " + j.dump());
    if (j.contains("id") && j.contains("result")) return;  // the answer to SUBSCRIBE
    const json& ev = j.contains("stream") && j.contains("data") ? j["data"] : j;
    auto type = ev.is_object() ? ev.find("e") : ev.end();
    if (!ev.is_object() || type == ev.end() || *type != "24hrTicker" || !ev.contains("s") || !ev["s"].is_string())
      throw sdk::plugin_error(error_class::bad_data, "not a 24hrTicker event");
    const auto* s = feed.by_native(ev["s"].get<std::string>());
    if (!s) return;  // a symbol this feed did not ask for
    auto at = num(ev, "E");
    if (!ticker_record(*s, ev, kStreamTicker, at ? static_cast<int64_t>(*at) : 0, out))
      throw sdk::plugin_error(error_class::bad_data, "ticker event has no price (c)", s->canonical);
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request& req,
             const sdk::http_response& resp, const sdk::output& out) override {
    std::string about = req.tag.empty() ? subjects_of(feed) : req.tag;
    if (resp.status != 200) throw classify_failure(resp, about, req.tag);
    if (resp.looks_like_html())
      throw sdk::plugin_error(error_class::retryable, "HTML page instead of JSON (HTTP 200)");
    json body = json::parse(resp.body, nullptr, false);
    if (body.is_discarded())
      throw sdk::plugin_error(error_class::bad_data, "response body is not JSON");
    if (body.is_object() && body.contains("code") && body.contains("msg"))
      throw classify_failure(resp, about, req.tag);
    if (feed.kind == "price")
      parse_tickers(feed, body, out);
    else
      parse_kline(feed, req.tag, body, resp.received_ms, out);
  }

 private:
  sdk::plugin_error classify_failure(const sdk::http_response& resp, const std::string& about,
                                     const std::string& subject) const {
    json body = json::parse(resp.body, nullptr, false);
    long code = 0;
    std::string msg;
    if (body.is_object()) {
      code = body.value("code", 0L);
      msg = body.value("msg", "");
    }
    std::string what = "HTTP " + std::to_string(resp.status);
    if (code != 0) what += ", Binance code " + std::to_string(code) + ": " + msg;
    if (resp.status == 429 || resp.status == 418) {
      int64_t pause = resp.retry_after_ms();
      sdk::error e{error_class::rate_limited,
                   what + (resp.status == 418 ? " (IP banned for repeated limit violations)"
                                              : " (request weight limit exceeded)"),
                   {}, pause > 0 ? pause : 60000};
      return sdk::plugin_error(e);
    }
    if (resp.status == 403)  // WAF limit violated
      return sdk::plugin_error(sdk::error{error_class::rate_limited, what + " (WAF limit)", {},
                                          60000});
    if (resp.status >= 500 || resp.status == 0 || resp.looks_like_html())
      return sdk::plugin_error(error_class::retryable,
                               what + (resp.looks_like_html() ? " with an HTML page" : ""));
    if (code == -1121 || code == -1100)
      return sdk::plugin_error(error_class::bad_request, what + " (subjects: " + about + ")",
                               subject);
    if (code == -2014 || code == -2015 || resp.status == 401)
      return sdk::plugin_error(error_class::auth, what);
    if (code == -1003)
      return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, 60000});
    if (resp.status >= 400) return sdk::plugin_error(error_class::bad_request, what, subject);
    return sdk::plugin_error(error_class::bad_data, what);
  }

  void parse_tickers(const sdk::feed_request& feed, const json& body, const sdk::output& out) {
    json list = body.is_array() ? body : json::array({body});
    std::set<std::string> seen;
    for (const auto& t : list) {
      if (!t.is_object() || !t.contains("symbol") || !t["symbol"].is_string()) continue;
      const auto* s = feed.by_native(t["symbol"].get<std::string>());
      if (!s) continue;
      auto ct = num(t, "closeTime");
      if (!ticker_record(*s, t, kRestTicker, ct ? static_cast<int64_t>(*ct) : 0, out)) {
        out.fail({error_class::bad_data, "ticker has no lastPrice", s->canonical, 0});
        continue;
      }
      seen.insert(s->canonical);
    }
    for (const auto& s : feed.subjects)
      if (!seen.count(s.canonical))
        out.fail({error_class::bad_data, "no ticker for " + s.native + " in the answer",
                  s.canonical, 0});
  }

  void parse_kline(const sdk::feed_request& feed, const std::string& subject, const json& body,
                   int64_t now, const sdk::output& out) {
    const auto* s = feed.by_canonical(subject);
    if (!s) throw sdk::plugin_error(error_class::internal, "klines answer for unknown subject");
    if (!body.is_array() || body.empty() || !body.back().is_array() || body.back().size() < 7)
      throw sdk::plugin_error(error_class::bad_data, "klines answer is not a list of candles",
                              subject);
    const json& k = body.back();
    sdk::record_builder r("candle", s->canonical, s->native);
    auto open_time = num_at(k, 0), close_time = num_at(k, 6);
    r.number("open", num_at(k, 1))
        .number("high", num_at(k, 2))
        .number("low", num_at(k, 3))
        .number("close", num_at(k, 4))
        .number("volume", num_at(k, 5))
        .number("open_time", open_time)
        .number("close_time", close_time);
    if (close_time) r.boolean("closed", *close_time < static_cast<double>(now));
    if (open_time) r.ts(static_cast<int64_t>(*open_time));
    out.record(r);
  }

  std::map<std::string, std::string, std::less<>> overrides_;
  std::string stream_url_;
  bool subscribe_ = false;  // stream_style = "subscribe": /ws and a SUBSCRIBE frame
};

}  // namespace

TRIBUTARY_PLUGIN(binance, binance_manifest)
