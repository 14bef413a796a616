// redis_pubsub: a push source. JSON messages on Redis pub/sub channels or patterns become
// `event` records whose subject is a field of the message. The host holds the subscription
// (ABI 1.1 plan_stream); this plugin names it and maps each message. See ../README.md.
#include <tributary/plugin_util.hpp>

namespace {

namespace sdk = tributary::sdk;
namespace pu = tributary::plugin_util;
using json = nlohmann::json;
using sdk::error_class;

constexpr size_t kMaxPayload = 64 * 1024;

sdk::manifest redis_pubsub_manifest() {
  sdk::manifest m;
  m.name = "redis_pubsub";
  m.version = "1.0.0";
  m.description = "Redis pub/sub: JSON messages on channels or patterns as event records (push)";
  m.kinds = {"event"};
  m.secrets = {};
  m.default_rate_limit = {1e9, 1000, 1e9};  // nothing is polled
  m.settings_schema = R"({
    "type": "object",
    "properties": {
      "redis_url": {"type": "string"},
      "channel": {"type": "string"},
      "channels": {"type": "array", "items": {"type": "string"}},
      "pattern": {"type": "string"},
      "patterns": {"type": "array", "items": {"type": "string"}},
      "subject_field": {"type": "string"},
      "subject_prefix": {"type": "string"}
    },
    "required": ["subject_field"],
    "additionalProperties": false
  })";
  return m;
}

std::vector<std::string> one_or_many(const json& s, const char* one, const char* many) {
  std::vector<std::string> out;
  if (s.contains(one)) out.push_back(s[one].get<std::string>());
  if (s.contains(many))
    for (auto& x : s[many]) out.push_back(x.get<std::string>());
  return out;
}

bool subject_char(unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'; }

class redis_pubsub final : public sdk::plugin {
 public:
  redis_pubsub(std::string_view settings_text, sdk::host) {
    json s = json::parse(settings_text.empty() ? "{}" : settings_text);
    url_ = s.value("redis_url", "redis://127.0.0.1:6379");
    channels_ = one_or_many(s, "channel", "channels");
    patterns_ = one_or_many(s, "pattern", "patterns");
    field_ = s.value("subject_field", "");
    prefix_ = s.value("subject_prefix", "");
    if (channels_.empty() && patterns_.empty())
      throw sdk::plugin_error(error_class::bad_request, "set channel, channels, pattern or patterns");
    if (field_.empty()) throw sdk::plugin_error(error_class::bad_request, "subject_field is empty");
  }

  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (kind != "event") return sdk::error{error_class::bad_request, "redis_pubsub serves event only", std::string(subject)};
    return std::string(subject);
  }

  void plan(const sdk::feed_request&, const sdk::output&) override {
    throw sdk::plugin_error(error_class::bad_request, "redis_pubsub pushes: use mode = \"stream\" on its feed");
  }
  void parse(const sdk::feed_request&, const sdk::http_request&, const sdk::http_response&, const sdk::output&) override {}

  void plan_stream(const sdk::feed_request&, const sdk::output& out) override {
    sdk::stream_plan p;
    p.upstream = TRIB_UPSTREAM_REDIS_PUBSUB;
    p.url = url_;
    p.channels = channels_;
    p.patterns = patterns_;
    out.stream(p);
  }

  void parse_message(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) override {
    if (m.payload.size() > kMaxPayload) throw sdk::plugin_error(error_class::bad_data, "message over 64 KiB");
    auto j = json::parse(m.payload, nullptr, false);
    if (!j.is_object()) throw sdk::plugin_error(error_class::bad_data, "message is not a JSON object");
    auto f = j.find(field_);
    if (f == j.end()) throw sdk::plugin_error(error_class::bad_data, "message has no '" + field_ + "'");
    std::string subject;
    if (f->is_string()) subject = f->get<std::string>();
    else if (f->is_number_integer()) subject = std::to_string(f->get<int64_t>());
    else throw sdk::plugin_error(error_class::bad_data, "'" + field_ + "' is not a string or an integer");
    subject = prefix_ + subject;
    if (subject.empty() || subject.size() > 128 || !std::all_of(subject.begin(), subject.end(), subject_char))
      throw sdk::plugin_error(error_class::bad_data, "'" + field_ + "' is not a subject (1-128 of A-Z a-z 0-9 . _ : -)");
    bool wanted = feed.subjects.empty() || std::any_of(feed.subjects.begin(), feed.subjects.end(), [&](auto& s) {
      return s.canonical == "*" || s.canonical == subject;
    });
    if (!wanted) return;  // the feed names its subjects, and this is not one of them
    sdk::record_builder r(feed.kind, subject, std::string(m.channel));
    r.data_json(std::string(m.payload));
    out.record(r);
  }

 private:
  std::string url_, field_, prefix_;
  std::vector<std::string> channels_, patterns_;
};

}  // namespace

TRIBUTARY_PLUGIN(redis_pubsub, redis_pubsub_manifest)
