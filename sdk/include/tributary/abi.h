/*
 * Tributary plugin ABI — the only thing that crosses a plugin's shared-library boundary.
 *
 * Pure C so that a plugin may be built with another compiler or standard library than the
 * host. Rules:
 *  - every struct starts with `struct_size`; structs only ever grow at the end, and a reader
 *    reads an optional member only when `struct_size` covers it (TRIB_HAS_MEMBER);
 *  - strings are pointer + length, UTF-8, not NUL-terminated unless said;
 *  - ownership is in the names: whatever one side passes to the other is valid for the
 *    duration of that call only; copy what you keep;
 *  - exceptions never cross: C++ plugins use sdk.hpp, whose trampolines catch everything;
 *  - the host calls one plugin instance from one thread at a time.
 *
 * Versioning: TRIB_ABI_MAJOR changes only when an existing member changes meaning or place;
 * TRIB_ABI_MINOR grows when members or functions are appended. The host refuses a plugin whose
 * major differs from its own or whose minor is newer than its own.
 */
#ifndef TRIBUTARY_ABI_H
#define TRIBUTARY_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRIB_ABI_MAJOR 1
#define TRIB_ABI_MINOR 2

/* The one symbol every plugin exports. */
#define TRIB_ENTRY_SYMBOL "tributary_plugin_entry"

#if defined(_WIN32)
#define TRIB_EXPORT __declspec(dllexport)
#else
#define TRIB_EXPORT __attribute__((visibility("default")))
#endif

/* True when a struct of the given size includes `member`. */
#define TRIB_HAS_MEMBER(ptr, type, member) \
  ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type*)0)->member))

typedef struct trib_str {
  const char* ptr;
  size_t len;
} trib_str;

typedef struct trib_kv {
  trib_str key;
  trib_str value;
} trib_kv;

/* Error classes: how the host reacts to a failure. */
typedef enum trib_status {
  TRIB_OK = 0,
  TRIB_ERR_RETRYABLE = 1,    /* transient: 5xx, HTML error page, timeout */
  TRIB_ERR_RATE_LIMITED = 2, /* 429/418 and friends; retry_after_ms says how long to pause */
  TRIB_ERR_AUTH = 3,         /* missing or rejected credentials */
  TRIB_ERR_BAD_REQUEST = 4,  /* the request can never succeed as made (unknown symbol...) */
  TRIB_ERR_BAD_DATA = 5,     /* the answer could not be understood */
  TRIB_ERR_INTERNAL = 6      /* a bug in the plugin (e.g. an exception caught at the waist) */
} trib_status;

typedef struct trib_error {
  size_t struct_size;
  int32_t status;         /* trib_status */
  int64_t retry_after_ms; /* for TRIB_ERR_RATE_LIMITED; 0 = unknown */
  trib_str message;
  trib_str subject; /* canonical subject the error is about; empty = the whole request */
} trib_error;

/* ---- services the host offers the plugin ---- */

typedef enum trib_log_level {
  TRIB_LOG_TRACE = 0,
  TRIB_LOG_DEBUG = 1,
  TRIB_LOG_INFO = 2,
  TRIB_LOG_WARN = 3,
  TRIB_LOG_ERROR = 4
} trib_log_level;

typedef struct trib_host_api {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  void* host_ctx; /* pass back as first argument */
  void (*log)(void* host_ctx, int32_t level, trib_str message);
  int64_t (*now_ms)(void* host_ctx); /* wall clock, ms since the Unix epoch (fake in tests) */
  void (*counter_add)(void* host_ctx, trib_str name, double value);
} trib_host_api;

/* ---- what crosses during plan and parse ---- */

typedef struct trib_subject {
  trib_str canonical; /* as the feed names it: "BTC-USDT", "BTC-USDT.1h" */
  trib_str native;    /* as map_subject answered at start */
} trib_subject;

typedef struct trib_feed_request {
  size_t struct_size;
  trib_str feed; /* feed id */
  trib_str kind; /* record kind asked for */
  const trib_subject* subjects;
  size_t subject_count;
} trib_feed_request;

typedef struct trib_http_request {
  size_t struct_size;
  trib_str method;   /* "GET" if empty */
  trib_str base_url; /* empty = the instance's configured base_url */
  trib_str path;     /* "/api/v3/ticker/24hr", not URL-encoded */
  const trib_kv* query; /* decoded values; the host encodes them */
  size_t query_count;
  const trib_kv* headers;
  size_t header_count;
  trib_str body;  /* empty = none */
  double weight;  /* rate-limit cost; <= 0 means 1 */
  trib_str tag;   /* opaque to the host, handed back with the response */
} trib_http_request;

typedef struct trib_http_response {
  size_t struct_size;
  int32_t status; /* HTTP status */
  const trib_kv* headers;
  size_t header_count;
  trib_str body;
  int64_t received_ms;
} trib_http_response;

typedef enum trib_field_type {
  TRIB_FIELD_NUMBER = 0,
  TRIB_FIELD_STRING = 1,
  TRIB_FIELD_BOOL = 2
} trib_field_type;

typedef struct trib_field {
  trib_str name;
  int32_t type; /* trib_field_type */
  double number;
  trib_str string;
  int32_t boolean;
} trib_field;

typedef struct trib_record {
  size_t struct_size;
  trib_str kind;
  trib_str subject; /* canonical */
  trib_str native;
  int64_t ts_ms;    /* source timestamp; 0 = the provider gave none */
  const trib_field* fields;
  size_t field_count;
  /* ABI 1.1: the data as one JSON object text, for kinds with free-form data (`event`); when
   * not empty, `fields` are ignored. At most 64 KiB. */
  trib_str data_json;
} trib_record;

/* ---- ABI 1.1: sources that push ---- */

typedef enum trib_upstream {
  TRIB_UPSTREAM_WEBSOCKET = 1,    /* ws:// or wss:// (TLS, SNI, the system's CA store); the host
                                     answers pings, sends its own and reconnects */
  TRIB_UPSTREAM_REDIS_PUBSUB = 2, /* Redis SUBSCRIBE / PSUBSCRIBE: at most once */
  TRIB_UPSTREAM_REDIS_STREAM = 3, /* Redis streams read with a consumer group: acknowledged
                                     (XACK) only once the records are published */
  TRIB_UPSTREAM_KAFKA = 4         /* ABI 1.2: Kafka topics read with a consumer group: offsets
                                     committed only once the records are published (in cluster
                                     mode: appended to the stream) */
} trib_upstream;

/* ABI 1.2: where a Kafka consumer group with no committed offset starts. */
#define TRIB_START_LATEST 0
#define TRIB_START_EARLIEST 1

/* Where a streaming feed's messages come from. The host owns the connection: it connects,
 * subscribes, reconnects with backoff and jitter, and hands each message to parse_message. */
typedef struct trib_stream_plan {
  size_t struct_size;
  int32_t upstream;  /* trib_upstream */
  trib_str url;      /* ws[s]://host[:port]/path?query, or redis://host:port[/db] */
  const trib_str* channels; /* Redis pub/sub channels */
  size_t channel_count;
  const trib_str* patterns; /* Redis pub/sub patterns ("task:*") */
  size_t pattern_count;
  trib_str group;    /* Redis streams: the consumer group (created at the stream's end if missing) */
  trib_str consumer; /* Redis streams: this reader's name in the group */
  int64_t expected_interval_ms; /* a message at least this often; no message for 3 x this is a
                                   failure (reconnect). 0 = a quiet upstream is fine */
  const trib_str* subscribe_frames; /* WebSocket: text frames sent, in order, after each connect */
  size_t subscribe_frame_count;
  int64_t max_connection_ms; /* WebSocket: reconnect at once after this long (an upstream that
                                ends connections at a fixed age, e.g. Binance's 24 h). 0 = never */
  /* ABI 1.2, Kafka: `url` holds the bootstrap brokers ("host:port,host:port"), `channels` the
   * topics, `group` the consumer group. */
  int32_t start;                    /* TRIB_START_LATEST or TRIB_START_EARLIEST */
  const trib_kv* client_settings;   /* librdkafka properties: security.protocol, sasl.mechanism,
                                       sasl.username, sasl.password, ssl.ca.location */
  size_t client_setting_count;
} trib_stream_plan;

typedef struct trib_stream_message {
  size_t struct_size;
  trib_str channel; /* the channel (or stream key) it came on */
  trib_str payload; /* pub/sub: the message; streams: the entry's fields as one JSON object */
  int64_t received_ms;
  /* ABI 1.2, Kafka: the message's key (empty when it has none) and headers. */
  trib_str key;
  const trib_kv* headers;
  size_t header_count;
} trib_stream_message;

/* Where a plugin puts what it produces during one call; valid for that call only. */
typedef struct trib_output {
  size_t struct_size;
  void* ctx;
  void (*emit_request)(void* ctx, const trib_http_request* request);
  void (*emit_record)(void* ctx, const trib_record* record);
  void (*emit_error)(void* ctx, const trib_error* error);
  /* ABI 1.1: the upstream of a streaming feed (plan_stream only). */
  void (*emit_stream)(void* ctx, const trib_stream_plan* plan);
} trib_output;

/* ---- the manifest ---- */

typedef struct trib_rate_limit {
  double requests; /* weight allowed per period */
  int64_t per_ms;
  double burst;
} trib_rate_limit;

typedef struct trib_manifest {
  size_t struct_size;
  trib_str name; /* library is lib<name>.so */
  trib_str version;
  trib_str description;
  const trib_str* kinds; /* record kinds it can produce */
  size_t kind_count;
  const trib_str* secrets; /* settings keys that hold secrets ("api_key") */
  size_t secret_count;
  const trib_str* secret_envs; /* the env vars those secrets usually come from */
  size_t secret_env_count;
  trib_str default_base_url;
  int64_t default_timeout_ms;
  trib_rate_limit default_rate_limit;
  trib_str settings_schema; /* JSON schema (object, properties, types) of plugin keys */
  /* ABI 1.1: a response header in which the provider reports its own view of the budget; the
   * host corrects the source's rate budget from it. Empty = none. */
  trib_str budget_header;       /* "X-MBX-USED-WEIGHT-1M", "X-RateLimit-Remaining" */
  int32_t budget_header_counts; /* TRIB_BUDGET_USED or TRIB_BUDGET_REMAINING */
  int32_t budget_header_window; /* the rate_limit window it describes; 0 = the first */
  /* ABI 1.1: record kinds this plugin adds, as JSON text:
   *   {"task_status": {"fields": {"status": "string", "progress": "number", "done": "bool"},
   *                    "required": ["status"]}}
   * The host validates their records like the built-in kinds'. List them in `kinds` too. */
  trib_str declared_kinds;
  /* ABI 1.1: how its feeds may run, TRIB_MODE_POLL | TRIB_MODE_STREAM. Absent or 0 = poll only.
   * A plugin that streams sets plan_stream and parse_message in its descriptor too. */
  uint32_t modes;
} trib_manifest;

#define TRIB_MODE_POLL 1u   /* plan / parse over HTTP */
#define TRIB_MODE_STREAM 2u /* plan_stream / parse_message: the host holds the upstream */

#define TRIB_BUDGET_USED 0      /* the header counts what was spent in the window */
#define TRIB_BUDGET_REMAINING 1 /* the header counts what is left in the window */

typedef struct trib_instance trib_instance; /* the plugin's own, opaque to the host */

typedef struct trib_plugin_descriptor {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const trib_manifest* manifest;

  /* Create an instance from its settings (a JSON object text). On failure return non-OK
   * and emit an error through `out`. `host` outlives the instance. */
  int32_t (*create)(const trib_host_api* host, trib_str settings_json, trib_instance** instance,
                    const trib_output* out);
  void (*destroy)(trib_instance* instance);

  /* Map a canonical subject of `kind` to the provider's identifier. Writes at most `cap`
   * bytes to `native_buf` and stores the full length in *native_len. Non-OK: cannot map. */
  int32_t (*map_subject)(trib_instance* instance, trib_str kind, trib_str subject,
                         char* native_buf, size_t cap, size_t* native_len, const trib_output* out);

  /* Turn a feed request into HTTP requests (emit_request). */
  int32_t (*plan)(trib_instance* instance, const trib_feed_request* feed, const trib_output* out);

  /* Turn one HTTP response into records (emit_record) and errors (emit_error). Returns the
   * class of a failure of the whole response, or TRIB_OK. */
  int32_t (*parse)(trib_instance* instance, const trib_feed_request* feed,
                   const trib_http_request* request, const trib_http_response* response,
                   const trib_output* out);

  /* ABI 1.1, may be NULL: a plugin that streams. plan_stream names the upstream of a feed
   * with `mode = "stream"` (emit_stream); parse_message turns one upstream message into
   * records and errors, as parse does for HTTP. A message that cannot be understood is an
   * error for that message only: the subscription goes on. */
  int32_t (*plan_stream)(trib_instance* instance, const trib_feed_request* feed, const trib_output* out);
  int32_t (*parse_message)(trib_instance* instance, const trib_feed_request* feed,
                           const trib_stream_message* message, const trib_output* out);
} trib_plugin_descriptor;

typedef const trib_plugin_descriptor* (*trib_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TRIBUTARY_ABI_H */
