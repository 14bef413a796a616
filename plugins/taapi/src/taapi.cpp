// TAAPI.io technical indicators as `indicator` records: a direct call (GET /rsi) for one
// subject, POST /bulk when a feed asks for several. The secret travels in the query (or the
// bulk body); the host masks it everywhere. See ../README.md.
#include <tributary/plugin_util.hpp>

#include <cctype>
#include <map>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest taapi_manifest() {
  sdk::manifest m;
  m.name = "taapi";
  m.version = "1.0.0";
  m.description = "TAAPI.io technical indicators: rsi, macd and others (indicator)";
  m.kinds = {"indicator"};
  m.secrets = {"secret"};
  m.secret_envs = {"TAAPI_SECRET"};
  m.default_base_url = "https://api.taapi.io";
  m.default_timeout_ms = 15000;
  m.default_rate_limit = {1, 15000, 1};  // free plan: 1 request every 15 seconds
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "secret": {"type": "string"},
      "exchange": {"type": "string"},
      "params": {"type": "object", "description": "indicator -> extra parameters, e.g. { rsi = { period = 14 } }",
                 "additionalProperties": {"type": "object"}}
    },
    "required": ["secret"],
    "additionalProperties": false
  })";
  return m;
}

struct parts {
  std::string instrument, indicator, interval;
};

std::optional<parts> split(std::string_view subject) {
  auto a = subject.find('.');
  auto b = subject.rfind('.');
  if (a == std::string_view::npos || a == b) return std::nullopt;
  return parts{std::string(subject.substr(0, a)), std::string(subject.substr(a + 1, b - a - 1)), std::string(subject.substr(b + 1))};
}

// valueMACDSignal -> macd_signal
std::string snake(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0 && !std::isupper(static_cast<unsigned char>(s[i - 1]))) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

class taapi final : public sdk::plugin {
 public:
  taapi(std::string_view settings_text, sdk::host) {
    json s = json::parse(settings_text.empty() ? "{}" : settings_text);
    secret_ = s.value("secret", "");
    if (secret_.empty()) throw sdk::plugin_error(error_class::auth, "secret is empty (set TAAPI_SECRET)");
    exchange_ = s.value("exchange", "binance");
    params_ = s.value("params", json::object());
  }

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    auto p = split(subject);
    auto pair = p ? pu::split_pair(p->instrument) : std::nullopt;
    if (kind != "indicator" || !p || !pair || p->indicator.empty() || p->interval.empty())
      return sdk::error{error_class::bad_request, "expected INSTRUMENT.NAME.INTERVAL, e.g. BTC-USDT.rsi.1d", std::string(subject)};
    return pair->first + "/" + pair->second;
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    if (feed.subjects.size() == 1) {
      const auto& s = feed.subjects[0];
      auto p = *split(s.canonical);
      sdk::http_request r;
      r.path = "/" + p.indicator;
      r.query = {{"secret", secret_}, {"exchange", exchange_}, {"symbol", s.native}, {"interval", p.interval}};
      const json extra = params_.value(p.indicator, json::object());
      for (auto& [k, v] : extra.items())
        r.query.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
      r.tag = s.canonical;
      out.request(r);
      return;
    }
    // One construct per (symbol, interval); each indicator's id is its canonical subject.
    std::map<std::pair<std::string, std::string>, json> constructs;
    for (const auto& s : feed.subjects) {
      auto p = *split(s.canonical);
      json ind = {{"id", s.canonical}, {"indicator", p.indicator}};
      const json extra = params_.value(p.indicator, json::object());
      for (auto& [k, v] : extra.items()) ind[k] = v;
      auto& c = constructs[{s.native, p.interval}];
      if (c.is_null()) c = {{"exchange", exchange_}, {"symbol", s.native}, {"interval", p.interval}, {"indicators", json::array()}};
      c["indicators"].push_back(ind);
    }
    json list = json::array();
    for (auto& [_, c] : constructs) list.push_back(c);
    sdk::http_request r;
    r.method = "POST";
    r.path = "/bulk";
    r.headers = {{"Content-Type", "application/json"}};
    r.body = json{{"secret", secret_}, {"construct", list.size() == 1 ? list[0] : list}}.dump();
    out.request(r);
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request& req, const sdk::http_response& resp,
             const sdk::output& out) override {
    if (resp.status == 429) {
      int64_t pause = resp.retry_after_ms();
      throw sdk::plugin_error(sdk::error{error_class::rate_limited, "HTTP 429 (request limit)", {}, pause > 0 ? pause : 15000});
    }
    if (auto f = pu::http_failure(resp)) throw *f;
    json body = pu::parse_json(resp);
    // Errors may come with any status, 200 included: {"error": "..."} or {"errors": ["..."]}.
    if (auto err = error_text(body); !err.empty()) throw classify(resp.status, err);
    if (resp.status != 200) throw classify(resp.status, "unexpected answer");
    if (req.path != "/bulk") {
      emit(*feed.by_canonical(req.tag), body, out);
      return;
    }
    const json& data = body.contains("data") ? body["data"] : json();
    if (!data.is_array()) throw sdk::plugin_error(error_class::bad_data, "bulk answer has no data list");
    for (const auto& s : feed.subjects) {
      auto it = std::find_if(data.begin(), data.end(), [&](const json& d) { return d.is_object() && d.value("id", "") == s.canonical; });
      if (it == data.end()) {
        out.fail({error_class::bad_data, "no result for " + s.canonical, s.canonical, 0});
        continue;
      }
      if (auto err = error_text(*it); !err.empty()) {
        out.fail({error_class::bad_request, "" + err, s.canonical, 0});
        continue;
      }
      emit(s, it->value("result", json()), out);
    }
  }

 private:
  static std::string error_text(const json& j) {
    if (!j.is_object()) return {};
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) return e->is_string() ? e->get<std::string>() : e->dump();
    if (auto e = j.find("errors"); e != j.end() && e->is_array() && !e->empty())
      return (*e)[0].is_string() ? (*e)[0].get<std::string>() : (*e)[0].dump();
    return {};
  }

  static sdk::plugin_error classify(int status, const std::string& msg) {
    std::string what = "HTTP " + std::to_string(status) + ": " + msg;
    std::string m = pu::lower(msg);
    if (status == 401 || status == 403 || m.find("secret") != std::string::npos || m.find("api key") != std::string::npos ||
        m.find("authenticat") != std::string::npos)
      return sdk::plugin_error(error_class::auth, what);
    if (m.find("limit") != std::string::npos) return sdk::plugin_error(sdk::error{error_class::rate_limited, what, {}, 15000});
    if (status >= 500) return sdk::plugin_error(error_class::retryable, what);
    return sdk::plugin_error(error_class::bad_request, what);
  }

  void emit(const sdk::subject& s, const json& result, const sdk::output& out) {
    if (!result.is_object()) {
      out.fail({error_class::bad_data, "no result object for " + s.canonical, s.canonical, 0});
      return;
    }
    auto p = *split(s.canonical);
    sdk::record_builder r("indicator", s.canonical, s.native);
    if (p.indicator == "macd") {
      r.number("value", pu::number_at(result, "valueMACD"))
          .number("macd", pu::number_at(result, "valueMACD"))
          .number("signal", pu::number_at(result, "valueMACDSignal"))
          .number("histogram", pu::number_at(result, "valueMACDHist"));
    } else {
      r.number("value", pu::number_at(result, "value"));
      for (auto& [k, v] : result.items())  // multi-valued: valueUpperBand -> upper_band
        if (k.size() > 5 && k.rfind("value", 0) == 0) r.number(snake(k.substr(5)), pu::number(v));
    }
    if (auto per = pu::number_at(params_.value(p.indicator, json::object()), "period")) r.number("period", per);
    out.record(r);
  }

  std::string secret_, exchange_;
  json params_;
};

}  // namespace

TRIBUTARY_PLUGIN(taapi, taapi_manifest)
