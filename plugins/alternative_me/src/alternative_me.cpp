// alternative.me's Crypto Fear & Greed Index as `sentiment.fear_greed` records (README.md):
// GET /fng/?limit=1, errors reported inside a 200, values and times as strings.
#include <tributary/sdk.hpp>

#include <nlohmann/json.hpp>

namespace {

namespace sdk = tributary::sdk;
using json = nlohmann::json;

sdk::manifest alternative_me_manifest() {
  sdk::manifest m;
  m.name = "alternative_me";
  m.version = "1.0.0";
  m.description = "Crypto Fear & Greed Index from alternative.me (sentiment.fear_greed)";
  m.kinds = {"sentiment"};
  m.default_base_url = "https://api.alternative.me";
  m.default_timeout_ms = 5000;
  m.default_rate_limit = {60, 60000, 5};  // documented: 60 requests per minute over 10 minutes
  m.settings_schema = R"({"type":"object","properties":{},"additionalProperties":false})";
  return m;
}

class alternative_me final : public sdk::plugin {
 public:
  alternative_me(std::string_view, sdk::host) {}

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (kind == "sentiment" && subject == "fear_greed") return std::string("fng");
    return sdk::error{sdk::error_class::bad_request, "only sentiment.fear_greed is served", std::string(subject)};
  }

  void plan(const sdk::feed_request&, const sdk::output& out) override {
    sdk::http_request r;
    r.path = "/fng/";
    r.query = {{"limit", "1"}};
    out.request(r);
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request&, const sdk::http_response& resp,
             const sdk::output& out) override {
    if (resp.status == 429)
      throw sdk::plugin_error(sdk::error{sdk::error_class::rate_limited, "HTTP 429", {}, resp.retry_after_ms()});
    if (resp.status >= 500 || resp.looks_like_html())
      throw sdk::plugin_error(sdk::error_class::retryable, "HTTP " + std::to_string(resp.status) + (resp.looks_like_html() ? " (an HTML page)" : ""));
    if (resp.status != 200) throw sdk::plugin_error(sdk::error_class::bad_request, "HTTP " + std::to_string(resp.status));
    json body = json::parse(resp.body, nullptr, false);
    if (body.is_discarded()) throw sdk::plugin_error(sdk::error_class::bad_data, "body is not JSON");
    // Errors come inside a 200: {"metadata": {"error": "..."}}
    if (!body.is_object()) throw sdk::plugin_error(sdk::error_class::bad_data, "body is not a JSON object");
    if (auto err = body.value("metadata", json::object()); err.is_object() && err.value("error", json()).is_string())
      throw sdk::plugin_error(sdk::error_class::bad_request, "alternative.me: " + err["error"].get<std::string>());
    const json d = body.value("data", json());
    if (!d.is_array() || d.empty() || !d[0].is_object())
      throw sdk::plugin_error(sdk::error_class::bad_data, "no data point in the answer");
    const auto& s = feed.subjects.at(0);
    sdk::record_builder r("sentiment", s.canonical, s.native);
    auto text = [&](const char* k) { auto v = d[0].find(k); return v != d[0].end() && v->is_string() ? v->get<std::string>() : std::string(); };
    if (!sdk::parse_decimal(text("value"))) throw sdk::plugin_error(sdk::error_class::bad_data, "the data point has no numeric value");
    r.decimal("value", text("value"));
    if (auto c = text("value_classification"); !c.empty()) r.text("classification", c);
    if (auto ts = sdk::parse_decimal(text("timestamp")); ts && *ts > 0 && *ts < 1e11) r.ts(static_cast<int64_t>(*ts) * 1000);
    out.record(r);
  }
};

}  // namespace

TRIBUTARY_PLUGIN(alternative_me, alternative_me_manifest)
