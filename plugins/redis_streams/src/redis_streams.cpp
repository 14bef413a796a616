// redis_streams: a push source. Entries of Redis streams, read with a consumer group, become
// `event` records whose subject is a field of the entry. The host reads the group and
// acknowledges an entry only once its record is published, so a restart loses nothing.
// See ../README.md.
#include <tributary/event_mapping.hpp>
#include <tributary/plugin_util.hpp>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest redis_streams_manifest() {
  sdk::manifest m;
  m.name = "redis_streams";
  m.version = "1.0.0";
  m.description = "Redis streams read with a consumer group: entries as event records (push, at least once)";
  m.kinds = {"event"};
  m.modes = TRIB_MODE_STREAM;
  m.secrets = {"redis_url"};  // it may hold a password: masked in logs and errors
  m.default_rate_limit = {1e9, 1000, 1e9};  // nothing is polled
  m.settings_schema = std::string(R"({
    "type": "object",
    "properties": {
      "redis_url": {"type": "string"},
      "stream": {"type": "string"},
      "streams": {"type": "array", "items": {"type": "string"}},
      "group": {"type": "string"},
      "consumer": {"type": "string"},
      "payload_field": {"type": "string"},
      "expected_interval_ms": {"type": "integer", "minimum": 0},)" +
                      std::string(pu::mapping_schema_properties) + R"(
    },
    "additionalProperties": false
  })");
  return m;
}

class redis_streams final : public pu::push_only {
 public:
  redis_streams(std::string_view settings_text, sdk::host) : redis_streams(json::parse(settings_text.empty() ? "{}" : settings_text)) {}
  explicit redis_streams(const json& s)
      : push_only("redis_streams"),
        url_(s.value("redis_url", "redis://127.0.0.1:6379")),
        expected_interval_ms_(s.value("expected_interval_ms", int64_t{0})),
        group_(s.value("group", "tributary")),
        consumer_(s.value("consumer", "tributary")),
        payload_field_(s.value("payload_field", "")),
        mapping_(s) {
    streams_ = pu::one_or_many(s, "stream", "streams");
    if (streams_.empty()) throw sdk::plugin_error(error_class::bad_request, "set stream or streams");
  }

  void plan_stream(const sdk::feed_request&, const sdk::output& out) override {
    sdk::stream_plan p;
    p.upstream = TRIB_UPSTREAM_REDIS_STREAM;
    p.url = url_;
    p.expected_interval_ms = expected_interval_ms_;
    p.channels = streams_;
    p.group = group_;
    p.consumer = consumer_;
    out.stream(p);
  }

  // The host hands an entry as a JSON object of its fields (all strings). With payload_field,
  // that one field holds the message as JSON text; else the fields are the message.
  void parse_message(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) override {
    if (payload_field_.empty()) return mapping_.emit(feed, m, out);
    auto fields = json::parse(m.payload, nullptr, false);
    auto p = fields.is_object() ? fields.find(payload_field_) : fields.end();
    if (p == fields.end() || !p->is_string())
      throw sdk::plugin_error(error_class::bad_data, "entry has no '" + payload_field_ + "' field");
    sdk::stream_message inner = m;
    inner.payload = p->get_ref<const std::string&>();
    mapping_.emit(feed, inner, out);
  }

 private:
  std::string url_;
  int64_t expected_interval_ms_;
  std::string group_, consumer_, payload_field_;
  std::vector<std::string> streams_;
  pu::event_mapping mapping_;
};

}  // namespace

TRIBUTARY_PLUGIN(redis_streams, redis_streams_manifest)
