// kafka: a push source. JSON messages on Kafka topics, read by a consumer group the host owns
// (ABI 1.2), become records whose subject is made by a template over the message, its key, its
// topic and its headers. Offsets are committed only once the records are published (in
// cluster mode: appended to the stream). See ../README.md.
#include <tributary/event_mapping.hpp>
#include <tributary/plugin_util.hpp>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest kafka_manifest() {
  sdk::manifest m;
  m.name = "kafka";
  m.version = "1.0.0";
  m.description = "Kafka topics read with a consumer group: JSON messages as event records (push, at least once, one seq each)";
  m.kinds = {"event"};
  m.modes = TRIB_MODE_STREAM;
  m.secrets = {"sasl_password"};  // masked in logs and errors
  m.secret_envs = {"KAFKA_SASL_PASSWORD"};
  m.default_rate_limit = {1e9, 1000, 1e9};  // nothing is polled
  m.settings_schema = std::string(R"({
    "type": "object",
    "properties": {
      "brokers": {"type": "string"},
      "topic": {"type": "string"},
      "topics": {"type": "array", "items": {"type": "string"}},
      "group": {"type": "string"},
      "start": {"type": "string", "enum": ["latest", "earliest"]},
      "security_protocol": {"type": "string", "enum": ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]},
      "sasl_mechanism": {"type": "string", "enum": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]},
      "sasl_username": {"type": "string"},
      "sasl_password": {"type": "string"},
      "ssl_ca": {"type": "string"},
      "session_timeout_ms": {"type": "integer", "minimum": 1000, "maximum": 300000},
      "expected_interval_ms": {"type": "integer", "minimum": 0},)" +
                                 std::string(pu::mapping_schema_properties) + R"(
    },
    "required": ["brokers"],
    "additionalProperties": false
  })");
  return m;
}

// The plugin's security keys as librdkafka properties.
std::vector<std::pair<std::string, std::string>> client_settings(const json& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [key, property] : {std::pair{"security_protocol", "security.protocol"}, std::pair{"sasl_mechanism", "sasl.mechanism"},
                               std::pair{"sasl_username", "sasl.username"}, std::pair{"sasl_password", "sasl.password"},
                               std::pair{"ssl_ca", "ssl.ca.location"}})
    if (s.contains(key)) out.emplace_back(property, s[key].get<std::string>());
  if (s.contains("session_timeout_ms")) out.emplace_back("session.timeout.ms", std::to_string(s["session_timeout_ms"].get<int64_t>()));
  return out;
}

class kafka final : public pu::push_only {
 public:
  kafka(std::string_view settings_text, sdk::host) : kafka(json::parse(settings_text.empty() ? "{}" : settings_text)) {}
  explicit kafka(const json& s)
      : push_only("kafka"),
        brokers_(s.value("brokers", "")),
        group_(s.value("group", "")),  // empty: the host's default, tributary-<cluster or host name>
        start_(s.value("start", "latest") == "earliest" ? TRIB_START_EARLIEST : TRIB_START_LATEST),
        expected_interval_ms_(s.value("expected_interval_ms", int64_t{0})),
        settings_(client_settings(s)),
        mapping_(s) {
    if (brokers_.empty()) throw sdk::plugin_error(error_class::bad_request, "brokers is empty");
    topics_ = pu::one_or_many(s, "topic", "topics");
    if (topics_.empty()) throw sdk::plugin_error(error_class::bad_request, "set topic or topics");
  }

  void plan_stream(const sdk::feed_request&, const sdk::output& out) override {
    sdk::stream_plan p;
    p.upstream = TRIB_UPSTREAM_KAFKA;
    p.url = brokers_;
    p.channels = topics_;
    p.group = group_;
    p.start = start_;
    p.client_settings = settings_;
    p.expected_interval_ms = expected_interval_ms_;
    out.stream(p);
  }

  void parse_message(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) override {
    mapping_.emit(feed, m, out);
  }

 private:
  std::string brokers_, group_;
  int32_t start_;
  int64_t expected_interval_ms_;
  std::vector<std::string> topics_;
  std::vector<std::pair<std::string, std::string>> settings_;
  pu::event_mapping mapping_;
};

}  // namespace

TRIBUTARY_PLUGIN(kafka, kafka_manifest)
