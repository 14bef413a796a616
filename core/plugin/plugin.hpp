#pragma once
// Loading plugin libraries through the C waist (sdk/include/tributary/abi.h) and calling them.
// Nothing here exposes Boost: the library handle lives behind plugin_library.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <tributary/abi.h>

#include "config/config.hpp"
#include "record/record.hpp"


namespace tributary {

class clock_source;
class plugin_backend;

// plugin_crashed and plugin_timeout: a plugin in its own process died or overran a limit
// during a call (isolation = "process", exec plugins).
enum class error_class { retryable, rate_limited, auth, bad_request, bad_data, internal, plugin_crashed, plugin_timeout };
std::string_view name_of(error_class c);

struct fetch_error {
  error_class cls = error_class::internal;
  std::string message;
  std::string subject;  // canonical; empty = whole request
  int64_t retry_after_ms = 0;
  std::string str() const;  // "rate_limited: HTTP 429 ..."
};

using kv_list = std::vector<std::pair<std::string, std::string>>;

struct plugin_manifest {
  std::string name, version, description;
  std::vector<std::string> kinds, secrets, secret_envs;
  std::string default_base_url;
  millis default_timeout{10000};
  rate_limit_config default_rate_limit;
  nlohmann::json settings_schema;
  struct budget_header_info {
    std::string name;   // empty: the provider reports nothing
    bool counts_used = false;  // else: counts what remains
    size_t window = 0;
  } budget_header;
  std::vector<vocabulary::declared_kind> declared_kinds;  // ABI 1.1
  bool polls = true, streams = false;                     // ABI 1.1 modes (1.0: poll only)
  uint32_t abi_major = 0, abi_minor = 0;
  std::filesystem::path path;
  nlohmann::json to_json() const;
  nlohmann::json declared_json() const;
  nlohmann::json modes_json() const;
};

// A loaded .so. Kept alive by every instance created from it, so the code is unmapped only
// after the last object from it is gone.
class plugin_library {
 public:
  // Loads `path` and checks its ABI; the error says what is wrong and names both versions.
  static std::variant<std::shared_ptr<plugin_library>, std::string> load(
      const std::filesystem::path& path);
  ~plugin_library();
  const plugin_manifest& manifest() const { return manifest_; }
  const trib_plugin_descriptor* descriptor() const { return desc_; }

 private:
  struct impl;
  plugin_library() = default;
  std::unique_ptr<impl> impl_;
  const trib_plugin_descriptor* desc_ = nullptr;
  plugin_manifest manifest_;
};

// Finds lib<name>.so files in plugin_dirs (first directory wins).
struct discovered_plugin {
  std::string name;
  std::filesystem::path path;
};
std::vector<discovered_plugin> discover_plugins(const std::vector<std::filesystem::path>& dirs);
std::optional<std::filesystem::path> find_plugin(const std::vector<std::filesystem::path>& dirs,
                                                 const std::string& name);

struct http_request {
  std::string method = "GET";
  std::string base_url;
  std::string path;
  kv_list query;
  kv_list headers;
  std::string body;
  double weight = 1;
  std::string tag;
  millis timeout{10000};
  std::string url() const;  // base_url + path + encoded query
};

struct http_response {
  int status = 0;  // 0: no HTTP answer (see error)
  kv_list headers;
  std::string body;
  int64_t received_ms = 0;
  std::string error;  // transport failure: timeout, refused, too large...
};

struct feed_request {
  std::string feed;
  std::string kind;
  std::vector<std::pair<std::string, std::string>> subjects;  // canonical, native
};

// The upstream of a streaming feed (ABI 1.1 plan_stream); the host owns the connection.
struct stream_plan {
  enum class kind { unknown, websocket, redis_pubsub, redis_stream, kafka } upstream = kind::unknown;
  enum class start_at { latest, earliest };
  std::string url;                              // kafka: the bootstrap brokers
  std::vector<std::string> channels, patterns;  // channels: stream keys for redis_stream, topics for kafka
  std::string group, consumer;                  // redis_stream; group for kafka
  start_at start = start_at::latest;            // kafka: where a group with no committed offset starts
  std::vector<std::pair<std::string, std::string>> client_settings;  // kafka: librdkafka properties
  int64_t expected_interval_ms = 0;             // no message for 3 x this is a failure
  std::vector<std::string> subscribe_frames;    // websocket: sent after each connect
  int64_t max_connection_ms = 0;                // websocket: reconnect at once after this long
};

// One message from a streaming upstream, as the plugin is shown it (valid for the call).
struct upstream_message {
  using header = std::pair<std::string_view, std::string_view>;
  upstream_message(std::string_view channel, std::string_view payload) : channel(channel), payload(payload) {}
  upstream_message(std::string_view channel, std::string_view payload, std::string_view key, const header* headers, size_t count)
      : channel(channel), payload(payload), key(key), headers(headers), header_count(count) {}
  std::string_view channel;  // channel, stream key or Kafka topic
  std::string_view payload;
  int64_t received_ms = 0;
  std::string_view key;             // Kafka: the message key
  const header* headers = nullptr;  // Kafka: its headers
  size_t header_count = 0;
};

// Everything one plugin call produced.
struct call_result {
  int32_t status = 0;  // trib_status
  std::vector<http_request> requests;
  std::vector<record> records;  // vocabulary-checked, without seq/received/source/feed
  std::vector<fetch_error> errors;
  std::vector<std::string> problems;  // contract breaches by the plugin: dropped fields...

  // Empties the result for another call, keeping its records' storage: a result reused message
  // after message (a stream feed's) allocates nothing once its strings have grown. It keeps
  // up to 64 records (see keep_at_most), and none with a string past 16 KiB.
  void reset();
  // A cleared record appended to `records`, made from kept storage when there is some.
  record& next_record();
  // Removes the last record (one that turned out unfit), keeping its storage.
  void drop_last_record();
  // Keeps at most `n` records (64 unless set): for one of many results kept side by side.
  void keep_at_most(size_t n) { spare_limit_ = n; }

 private:
  void keep_spare(record&& r);
  std::vector<record> spare_;
  size_t spare_limit_ = 64;
};

// Host services a plugin may call; one per instance.
struct plugin_services {
  std::function<void(int level, std::string_view msg)> log;
  const clock_source* clock = nullptr;
  std::function<void(std::string_view name, double value)> count;
};

// One configured instance of a plugin, in this process or in a child process (backend.hpp).
// Calls are serialized: the SDK promises a plugin one thread at a time per instance.
class plugin_instance {
 public:
  // Creates the instance; on failure returns the plugin's error.
  static std::variant<std::unique_ptr<plugin_instance>, fetch_error> create(
      std::unique_ptr<plugin_backend> backend, std::string instance_name, const nlohmann::json& settings,
      plugin_services services);
  // In this process, from a loaded library.
  static std::variant<std::unique_ptr<plugin_instance>, fetch_error> create(
      std::shared_ptr<plugin_library> lib, std::string instance_name, const nlohmann::json& settings,
      plugin_services services);
  ~plugin_instance();

  const std::string& name() const { return name_; }
  const plugin_manifest& manifest() const;
  bool serves(std::string_view kind) const;
  // Kinds this instance's config declares ([plugins.X] kinds), served besides the manifest's.
  void also_serves(std::vector<std::string> kinds) { extra_kinds_ = std::move(kinds); }
  // Where it runs: {"isolation": "none"}, or the child process's state.
  nlohmann::json backend_status() const;

  std::variant<std::string, fetch_error> map_subject(const std::string& kind,
                                                     const std::string& subject);
  call_result plan(const feed_request& feed);
  call_result parse(const feed_request& feed, const http_request& request,
                    const http_response& response);
  // Streaming (ABI 1.1): whether the plugin can, its upstream for a feed, and one message.
  bool streams() const;
  bool polls() const;
  std::variant<stream_plan, fetch_error> plan_stream(const feed_request& feed);
  call_result parse_message(const feed_request& feed, const upstream_message& m);
  // The same into `into` (reset first): a caller that keeps its result allocates nothing per
  // message at steady state.
  void parse_message(const feed_request& feed, const upstream_message& m, call_result& into);

 private:
  plugin_instance() = default;
  std::string name_;
  std::unique_ptr<trib_host_api> api_;
  plugin_services services_;
  std::mutex mu_;
  std::vector<std::string> extra_kinds_;
  std::vector<trib_kv> headers_;          // parse_message: the message's headers in ABI form (reused, under mu_)
  std::vector<trib_subject> subjects_;    // parse_message: the feed's subjects in ABI form (reused, under mu_)
  std::unique_ptr<plugin_backend> backend_;  // last: destroyed first, while api_ still lives
};

// A manifest as JSON (plugin_manifest::to_json), read back: what a plugin in another process
// answers to "manifest". Checks what loading a library checks (declared kinds, known kinds).
std::variant<plugin_manifest, std::string> manifest_from_json(const nlohmann::json& j);

// Checks plugin settings against the manifest's JSON schema (the subset plugins use: type,
// properties, additionalProperties, required, enum, items, minimum, maximum). Each problem is
// (key path relative to the settings object, message).
std::vector<std::pair<std::string, std::string>> validate_settings(const nlohmann::json& schema,
                                                                   const nlohmann::json& value);

}  // namespace tributary
