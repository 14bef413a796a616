// Finnhub: `quote` from /api/v1/quote, one request per symbol. See ../README.md.
#include <tributary/plugin_util.hpp>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest finnhub_manifest() {
  sdk::manifest m;
  m.name = "finnhub";
  m.version = "1.0.0";
  m.description = "Finnhub real-time quotes of stocks, ETFs and indices (quote)";
  m.kinds = {"quote"};
  m.secrets = {"api_key"};
  m.secret_envs = {"FINNHUB_API_KEY"};
  m.default_base_url = "https://finnhub.io";
  m.default_timeout_ms = 10000;
  // Free plan: 60 calls a minute, and never more than 30 in one second.
  m.default_rate_limit = {60, 60000, 30};
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "api_key": {"type": "string"},
      "symbols": {"type": "object", "additionalProperties": {"type": "string"}}
    },
    "required": ["api_key"],
    "additionalProperties": false
  })";
  return m;
}

class finnhub final : public sdk::plugin {
 public:
  finnhub(std::string_view settings_text, sdk::host) {
    json s = json::parse(settings_text.empty() ? "{}" : settings_text);
    key_ = s.value("api_key", "");
    if (key_.empty()) throw sdk::plugin_error(error_class::auth, "api_key is empty (set FINNHUB_API_KEY)");
    overrides_ = pu::string_map(s, "symbols");
  }

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (kind != "quote") return sdk::error{error_class::bad_request, "finnhub serves quote only", std::string(subject)};
    if (auto it = overrides_.find(subject); it != overrides_.end()) return it->second;
    return std::string(subject);
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    for (const auto& s : feed.subjects) {
      sdk::http_request r;
      r.path = "/api/v1/quote";
      r.query = {{"symbol", s.native}};
      r.headers = {{"X-Finnhub-Token", key_}};
      r.tag = s.canonical;
      out.request(r);
    }
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request& req, const sdk::http_response& resp,
             const sdk::output& out) override {
    const auto* s = feed.by_canonical(req.tag);
    if (!s) throw sdk::plugin_error(error_class::internal, "answer for a subject not asked for");
    if (auto f = pu::http_failure(resp)) throw *f;
    json body = pu::parse_json(resp);
    // Errors: {"error": "Invalid API key"} (401/403), also seen with other statuses.
    if (body.is_object() && body.contains("error")) {
      std::string what = "HTTP " + std::to_string(resp.status) + ": " + pu::string_at(body, "error");
      if (resp.status == 403 || resp.status == 401) throw sdk::plugin_error(error_class::auth, what);
      throw sdk::plugin_error(error_class::bad_request, what, s->canonical);
    }
    if (resp.status == 403) throw sdk::plugin_error(error_class::auth, "HTTP 403 (no access to this resource)");
    if (resp.status != 200 || !body.is_object())
      throw sdk::plugin_error(error_class::bad_data, "unexpected answer (HTTP " + std::to_string(resp.status) + ")");
    // An unknown symbol answers 200 with zeros and nulls: that is no quote, not a price of 0.
    auto price = pu::number_at(body, "c");
    auto t = pu::number_at(body, "t");
    if (!price || *price == 0 || !t || *t == 0)
      throw sdk::plugin_error(error_class::bad_request, "no quote for symbol '" + s->native + "' (unknown symbol?)",
                              s->canonical);
    sdk::record_builder r("quote", s->canonical, s->native);
    r.number("price", price)
        .number("change", pu::number_at(body, "d"))
        .number("change_pct", pu::number_at(body, "dp"))
        .number("open", pu::number_at(body, "o"))
        .number("high", pu::number_at(body, "h"))
        .number("low", pu::number_at(body, "l"))
        .number("prev_close", pu::number_at(body, "pc"));
    r.ts(static_cast<int64_t>(*t) * 1000);
    out.record(r);
  }

 private:
  std::string key_;
  std::map<std::string, std::string, std::less<>> overrides_;
};

}  // namespace

TRIBUTARY_PLUGIN(finnhub, finnhub_manifest)
