#pragma once
// Typed, validated deployment config (docs/configuration.md). Parsing never throws: every
// problem becomes a diagnostic naming file:line:col and the key path, and all are collected.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "publish/history_rules.hpp"
#include "config/dialect.hpp"
#include "config/modes.hpp"
#include "util/cron.hpp"
#include "util/duration.hpp"

namespace tributary {

class redactor;

struct source_pos {
  std::string file;
  int line = 0;
  int col = 0;
};

struct diagnostic {
  enum class level { error, warning };
  level severity = level::error;
  source_pos where;
  std::string path;  // key path: feeds.spot.every
  std::string message;
  std::string str() const;  // file:line:col: error: path: message
};

// Where the parts that check a config against its plugins send the errors they find.
using report_error = std::function<void(source_pos where, std::string path, std::string message)>;

struct rate_limit_config {
  double requests = 0;
  millis per{0};
  double burst = 0;
};

struct plugin_instance_config {
  std::string name;    // instance name: the [plugins.X] table name
  std::string plugin;  // plugin (library) name; defaults to the instance name
  std::optional<std::string> base_url;
  std::optional<millis> timeout;
  std::optional<std::vector<rate_limit_config>> rate_limit;  // every window must allow a request
  bool shared_budget = true;       // cluster mode: budget and Retry-After pauses kept in Redis
  int retries = 2;                 // extra attempts after a retryable failure
  millis backoff{250};             // first retry delay (doubled, jittered)
  int circuit_failures = 5;        // consecutive failed runs that open the circuit
  millis circuit_cooldown{30000};  // open this long before one trial run
  // isolation = "process" (and every exec plugin): the plugin runs in a child process, each
  // call within call_timeout and cpu_limit of CPU, in memory_limit bytes of address space.
  plugin_isolation isolation = plugin_isolation::none;
  millis call_timeout{2000};
  millis cpu_limit{0};             // 0 = none
  uint64_t memory_limit = 0;       // 0 = none
  std::vector<std::string> command;  // plugin = "exec": the program and its arguments
  std::filesystem::path workdir;     // where an exec plugin starts: the config file's directory
  bool exec() const { return plugin == "exec"; }
  nlohmann::json settings = nlohmann::json::object();  // plugin-owned keys, env substituted
  // `kinds`: record kinds this instance declares, as a plugin's manifest does
  // ({"order": {"fields": {"orderId": "string"}, "required": ["orderId"]}}); null when none.
  nlohmann::json kinds;
  source_pos kinds_where;
  std::map<std::string, source_pos> setting_pos;        // plugin-owned key -> where
  source_pos where;
  bool enabled = true;
  enum class off_cause : uint8_t { none, config, missing_env } disabled_by = off_cause::none;  // why not enabled
  std::string disabled_reason;
};

struct feed_config {
  std::string id;
  std::string kind;
  std::vector<std::string> subjects;
  millis every{0};
  millis jitter{0};  // default: a tenth of `every`, at most 1s; 0 with `schedule` or `align`
  std::optional<cron_schedule> schedule;  // instead of `every`: cron-style, seconds first, UTC
  bool align = false;                     // runs on multiples of `every` since the epoch (wall clock)
  bool stream = false;  // mode = "stream": the first source pushes; later ones are polled every `every` while it is down
  // adapt = true: runs move further apart than `every` (up to max_every) when the primary
  // source's budget would not last at this pace (rate_budget::stretch).
  bool adapt = false;
  millis max_every{300000};
  // demand = "subscribed": a run asks only for the subjects some client (or a view) wants now,
  // or wanted within demand_linger; "always" (the default) asks for every subject.
  enum class demand_mode : uint8_t { always, subscribed } demand = demand_mode::always;
  millis demand_linger{300000};
  std::vector<std::string> sources;
  source_pos where;
  std::map<std::string, source_pos> key_pos;  // "sources", "subjects", ... -> where
  // Where `key` was written, else where the table starts.
  source_pos pos_of(const std::string& key) const {
    auto it = key_pos.find(key);
    return it != key_pos.end() ? it->second : where;
  }
};

// [dialects.<name>] (docs/clients.md, Dialects).
struct dialect_config : dialect_spec {
  source_pos where;
};

// [views.<name>]: a flat object assembled from fields of several topics (docs/protocol.md, Views).
struct view_field {
  std::string out;    // the key in the view object
  std::string topic;  // input topic
  std::string field;  // field of the input record's data
};

struct view_config {
  std::string name;
  std::string route;  // "" = no HTTP route; always published as topic view.<name>
  bool refresh = false;       // POST <route>/refresh runs its inputs' feeds at once
  bool refresh_auth = false;  // ... with the admin token only
  std::vector<view_field> fields;
  source_pos where;
};

// [sinks.NAME]: publications copied elsewhere (docs/configuration.md, Sinks).
struct sink_config {
  std::string name;
  sink_type type = sink_type::kafka;
  std::vector<std::string> records{"*"};  // topic patterns
  size_t buffer = 10000;                  // records held while the destination is unreachable
  // kafka
  std::string brokers;
  std::string topic = "tributary.{kind}";  // template over kind, subject, topic, source, feed
  std::vector<std::pair<std::string, std::string>> client_settings;  // librdkafka properties
  // redis_stream
  std::string redis_url;  // default: [cluster] redis_url
  std::string key = "tributary:records";
  size_t maxlen = 1000;  // XADD MAXLEN ~
  sink_format format = sink_format::record;
  source_pos where;
};

// [server.auth] (docs/protocol.md, Authentication and authorization).
struct auth_config {
  auth_mode mode = auth_mode::none;
  std::string jwt_secret;      // HS256/384/512
  std::string jwt_public_key;  // PEM text read from the configured file (RS256/ES256 ...)
  std::string jwt_public_key_file;
  std::string issuer;    // checked when set
  std::string audience;  // checked when set
  std::string user_claim = "sub";  // the claim naming the user
  std::string jwks_url;            // RS256/ES256 keys by kid, fetched and refreshed
  millis jwks_refresh{600000};
  std::vector<std::string> public_patterns{"price.*", "market.*", "indicator.*", "quote.*", "candle.*", "sentiment.*", "view.*"};
  millis auth_timeout{10000};
};

struct config {
  std::filesystem::path file;
  struct {
    std::vector<std::filesystem::path> plugin_dirs;  // absolute
    std::string log_level = "info";
    tributary::log_format log_format = log_format::text;
  } host;
  struct {
    std::string listen = "127.0.0.1:8081";
    std::string address = "127.0.0.1";
    unsigned short port = 8081;
    std::string ws_path = "/ws";
    size_t max_connections = 10000;
    size_t max_message_bytes = 65536;
    millis heartbeat{30000};
    size_t queue_limit = 1024;            // frames queued per WebSocket session (the byte bound usually comes first)
    size_t queue_limit_bytes = 1 << 20;   // bytes queued per WebSocket session
    slow_policy slow_consumer = slow_policy::conflate;
    size_t io_threads = 0;                // 0 = one per CPU
    size_t history = 256;                 // updates kept per topic for recovery
    millis history_age{600000};
    std::vector<history_rule> history_rules;  // [[server.history]]: first match wins, else the two above
    std::string admin_token;  // [server.auth] admin_token: protects status, metrics and control
    auth_config auth;
    bool dashboard = true;  // GET / serves the live dashboard page
    std::vector<std::string> allowed_origins;  // empty = any Origin
    std::vector<client_wire> protocols{client_wire::tributary};  // the client protocols served; never empty
    bool require_origin = false;  // true: a WebSocket upgrade without Origin is refused (with allowed_origins set)
    compression_mode compression = compression_mode::automatic;  // permessage-deflate when offered
    size_t compression_min_bytes = 256;  // shorter messages go plain
    bool compression_context_takeover = true;  // sessions on the same topics share a compression context
    struct {
      size_t connections_per_ip = 100;  // 0 = no limit
      std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For / Forwarded is believed
      size_t connections_per_user = 0;          // 0 = no limit; cluster-wide in cluster mode
      size_t messages_per_minute_per_user = 0;  // 0 = no limit
      double messages_per_second = 20;  // client messages per WebSocket connection
      double messages_burst = 50;
    } limits;
  } server;
  struct {
    cluster_mode mode = cluster_mode::standalone;
    std::string redis_url = "redis://127.0.0.1:6379";
    std::string name = "default";
    millis lease{3000};
    millis renew_every{1000};
    millis cache_ttl{3600000};  // TTL of tributary:{name}:latest:* keys
    size_t buffer = 10000;      // leader records kept while Redis is unreachable
    redis_down_policy on_redis_down = redis_down_policy::stop;  // stop: only a leader with a valid lease fetches; fetch: every instance fetches for itself
  } cluster;
  struct {
    bool enabled = false;
    size_t maxlen = 10000;
  } stream;
  std::vector<plugin_instance_config> plugins;
  std::vector<feed_config> feeds;
  std::vector<view_config> views;
  std::vector<dialect_config> dialects;
  std::vector<sink_config> sinks;

  const plugin_instance_config* plugin(std::string_view name) const;
};

// Whether two configs of a plugin instance, or of a feed, ask for the same thing (where in the
// file they are does not count): a reload keeps what did not change.
bool same_instance(const plugin_instance_config& a, const plugin_instance_config& b);
bool same_feed(const feed_config& a, const feed_config& b);

struct config_result {
  std::optional<config> cfg;  // set when there is no error (warnings allowed)
  // With errors but valid TOML: what could be read, the faulty values left out or at their
  // defaults. Only for checking further (plugins, settings, subjects) in the same pass.
  std::optional<config> partial;
  std::vector<diagnostic> diagnostics;
  bool ok() const { return cfg.has_value(); }
  size_t error_count() const;
};

// Looks up an environment variable; injected so tests need not touch the real environment.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;
env_lookup process_env();

// Secrets found while parsing (values of secret-looking plugin keys) are added to `secrets`.
config_result parse_config(std::string_view text, const std::filesystem::path& file,
                           const env_lookup& env, redactor* secrets);
config_result load_config(const std::filesystem::path& file, const env_lookup& env,
                          redactor* secrets);

// Closest candidate within a small edit distance, for "did you mean" hints.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// True for plugin keys that hold secrets whatever the manifest says (api_key, token, ...).
bool looks_secret(std::string_view key);

}  // namespace tributary
