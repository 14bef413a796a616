// redis_pubsub: a push source. JSON messages on Redis pub/sub channels or patterns become
// `event` records whose subject is a field of the message. The host holds the subscription
// (ABI 1.1 plan_stream); this plugin names it and maps each message. See ../README.md.
#include <tributary/event_mapping.hpp>
#include <tributary/plugin_util.hpp>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

sdk::manifest redis_pubsub_manifest() {
  sdk::manifest m;
  m.name = "redis_pubsub";
  m.version = "1.0.0";
  m.description = "Redis pub/sub: JSON messages on channels or patterns as event records (push)";
  m.kinds = {"event", "task_status"};
  m.modes = TRIB_MODE_STREAM;
  m.secrets = {"redis_url"};  // it may hold a password: masked in logs and errors
  // A declared kind (ABI 1.1), for feeds that want task status typed rather than free-form.
  m.declared_kinds = R"({"task_status": {"fields": {"task_id": "string", "status": "string", "progress": "number",
                                                      "message": "string"}, "required": ["status"]}})";
  m.default_rate_limit = {1e9, 1000, 1e9};  // nothing is polled
  m.settings_schema = std::string(R"({
    "type": "object",
    "properties": {
      "redis_url": {"type": "string"},
      "channel": {"type": "string"},
      "channels": {"type": "array", "items": {"type": "string"}},
      "pattern": {"type": "string"},
      "patterns": {"type": "array", "items": {"type": "string"}},
      "expected_interval_ms": {"type": "integer", "minimum": 0},)" +
                      std::string(pu::mapping_schema_properties) + R"(
    },
    "additionalProperties": false
  })");
  return m;
}

class redis_pubsub final : public pu::push_only {
 public:
  redis_pubsub(std::string_view settings_text, sdk::host) : redis_pubsub(json::parse(settings_text.empty() ? "{}" : settings_text)) {}
  explicit redis_pubsub(const json& s)
      : push_only("redis_pubsub"),
        url_(s.value("redis_url", "redis://127.0.0.1:6379")),
        expected_interval_ms_(s.value("expected_interval_ms", int64_t{0})),
        channels_(pu::one_or_many(s, "channel", "channels")),
        patterns_(pu::one_or_many(s, "pattern", "patterns")),
        mapping_(s) {
    if (channels_.empty() && patterns_.empty())
      throw sdk::plugin_error(error_class::bad_request, "set channel, channels, pattern or patterns");
  }

  void plan_stream(const sdk::feed_request&, const sdk::output& out) override {
    sdk::stream_plan p;
    p.upstream = TRIB_UPSTREAM_REDIS_PUBSUB;
    p.url = url_;
    p.expected_interval_ms = expected_interval_ms_;
    p.channels = channels_;
    p.patterns = patterns_;
    out.stream(p);
  }

  void parse_message(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) override {
    mapping_.emit(feed, m, out);
  }

 private:
  std::string url_;
  int64_t expected_interval_ms_;
  std::vector<std::string> channels_, patterns_;
  pu::event_mapping mapping_;
};

}  // namespace

TRIBUTARY_PLUGIN(redis_pubsub, redis_pubsub_manifest)
