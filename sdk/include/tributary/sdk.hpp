// Tributary plugin SDK: a header-only C++ layer over abi.h.
//
// An author writes one class deriving from tributary::sdk::plugin and one line:
//     TRIBUTARY_PLUGIN(my_plugin, my_manifest)
// where `my_manifest()` returns a tributary::sdk::manifest and `my_plugin` has a constructor
// `my_plugin(std::string_view settings_json, tributary::sdk::host host)`.
// Everything here is compiled into the plugin; only abi.h types cross the boundary, and every
// exception stops at the trampolines below.
#pragma once

#include <tributary/abi.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <locale>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tributary::sdk {

inline trib_str to_abi(std::string_view s) { return trib_str{s.data(), s.size()}; }
inline std::string_view from_abi(trib_str s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}

enum class error_class : int32_t {
  retryable = TRIB_ERR_RETRYABLE,
  rate_limited = TRIB_ERR_RATE_LIMITED,
  auth = TRIB_ERR_AUTH,
  bad_request = TRIB_ERR_BAD_REQUEST,
  bad_data = TRIB_ERR_BAD_DATA,
  internal = TRIB_ERR_INTERNAL,
};

struct error {
  error_class cls = error_class::internal;
  std::string message;
  std::string subject;         // canonical subject, empty = whole request
  int64_t retry_after_ms = 0;  // for rate_limited
};

// Throw from a hook to fail the whole call with a classified error.
class plugin_error : public std::runtime_error {
 public:
  explicit plugin_error(error e) : std::runtime_error(e.message), err_(std::move(e)) {}
  plugin_error(error_class cls, std::string message, std::string subject = {})
      : plugin_error(error{cls, std::move(message), std::move(subject), 0}) {}
  const error& get() const noexcept { return err_; }

 private:
  error err_;
};

// expected-style result: a value or an error.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  result(error e) : v_(std::move(e)) {}      // NOLINT
  explicit operator bool() const noexcept { return v_.index() == 0; }
  const T& value() const { return std::get<0>(v_); }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

// Parse a decimal number as providers send it ("84250.12000000", "-1.5e-3").
inline std::optional<double> parse_decimal(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
#else
  // A standard library without floating-point from_chars (libc++ before 17): a stream in the
  // classic locale, so "1.5" means 1.5 whatever the process's locale.
  if (s.find_first_not_of("0123456789+-.eE") != std::string_view::npos) return std::nullopt;
  std::istringstream in{std::string(s)};
  in.imbue(std::locale::classic());
  if (!(in >> v) || in.peek() != std::char_traits<char>::eof() || !std::isfinite(v)) return std::nullopt;
#endif
  return v;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct subject {
  std::string canonical;
  std::string native;
};

struct feed_request {
  std::string feed;
  std::string kind;
  std::vector<subject> subjects;

  const subject* by_native(std::string_view native) const {
    for (const auto& s : subjects)
      if (s.native == native) return &s;
    return nullptr;
  }
  const subject* by_canonical(std::string_view canonical) const {
    for (const auto& s : subjects)
      if (s.canonical == canonical) return &s;
    return nullptr;
  }
};

using kv_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method = "GET";
  std::string base_url;  // empty = the configured base_url
  std::string path;
  kv_list query;
  kv_list headers;
  std::string body;
  double weight = 1;
  std::string tag;  // handed back with the response
};

struct http_response {
  int status = 0;
  kv_list headers;
  std::string_view body;
  int64_t received_ms = 0;

  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (iequals(k, name)) return std::string_view(v);
    return std::nullopt;
  }
  // True when the body looks like an HTML page rather than the JSON an API promised.
  bool looks_like_html() const {
    auto b = body;
    while (!b.empty() && std::isspace(static_cast<unsigned char>(b.front()))) b.remove_prefix(1);
    return !b.empty() && b.front() == '<';
  }
  // Retry-After in milliseconds, in its seconds form or its HTTP-date form (taken relative to
  // received_ms); 0 when absent, unparsable or already past.
  int64_t retry_after_ms() const {
    auto h = header("Retry-After");
    if (!h) return 0;
    if (auto v = parse_decimal(*h)) return *v >= 0 ? static_cast<int64_t>(*v * 1000) : 0;
    auto at = parse_http_date(*h);
    return at && *at > received_ms ? *at - received_ms : 0;
  }

  // An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") in ms since the epoch.
  static std::optional<int64_t> parse_http_date(std::string_view d) {
    static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (d.size() != 29 || d.substr(3, 2) != ", " || d.substr(25) != " GMT") return std::nullopt;
    auto num = [&](size_t at, size_t n) -> std::optional<int> {
      int v = 0;
      auto [p, ec] = std::from_chars(d.data() + at, d.data() + at + n, v);
      if (ec != std::errc() || p != d.data() + at + n) return std::nullopt;
      return v;
    };
    auto day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
    auto mon = months.find(d.substr(8, 3));
    if (!day || !year || !hh || !mm || !ss || mon == std::string_view::npos || mon % 3) return std::nullopt;
    int m = static_cast<int>(mon / 3) + 1, y = *year - (m <= 2);
    // Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil).
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400, doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + *day - 1;
    int64_t days = int64_t(era) * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return ((days * 24 + *hh) * 60 + *mm) * 60000 + int64_t(*ss) * 1000;
  }
};

// Builds one record; fields left unset are left out (never defaulted).
class record_builder {
 public:
  record_builder(std::string kind, std::string subject, std::string native = {})
      : kind_(std::move(kind)), subject_(std::move(subject)), native_(std::move(native)) {}

  record_builder& ts(int64_t ms) {
    ts_ = ms;
    return *this;
  }
  record_builder& number(std::string name, double v) {
    if (std::isfinite(v)) fields_.push_back({std::move(name), TRIB_FIELD_NUMBER, v, {}, false});
    return *this;
  }
  record_builder& number(std::string name, std::optional<double> v) {
    if (v) number(std::move(name), *v);
    return *this;
  }
  // A decimal string; an empty or unparsable one is left out.
  record_builder& decimal(std::string name, std::string_view text) {
    return number(std::move(name), parse_decimal(text));
  }
  record_builder& text(std::string name, std::string v) {
    fields_.push_back({std::move(name), TRIB_FIELD_STRING, 0, std::move(v), false});
    return *this;
  }
  record_builder& boolean(std::string name, bool v) {
    fields_.push_back({std::move(name), TRIB_FIELD_BOOL, 0, {}, v});
    return *this;
  }
  // The whole data as one JSON object text, for free-form kinds (`event`); fields are ignored.
  record_builder& data_json(std::string json_object) {
    data_json_ = std::move(json_object);
    return *this;
  }
  bool has(std::string_view name) const {
    return std::any_of(fields_.begin(), fields_.end(),
                       [&](const field& f) { return f.name == name; });
  }
  const std::string& subject() const { return subject_; }

 private:
  friend class output;
  struct field {
    std::string name;
    int32_t type;
    double number;
    std::string string;
    bool boolean;
  };
  std::string kind_, subject_, native_, data_json_;
  int64_t ts_ = 0;
  std::vector<field> fields_;
};

// A record of a free-form kind (`event`) given by reference: the strings are the caller's and
// are copied by the host during output::record(). For a push source's hot path, where a
// record_builder would copy each string once more per message.
struct record_view {
  std::string_view kind, subject, native;
  std::string_view data_json;  // the whole data as one JSON object text
  int64_t ts_ms = 0;           // 0: the time the message arrived
};

// Where a streaming feed's messages come from (ABI 1.1).
struct stream_plan {
  trib_upstream upstream = TRIB_UPSTREAM_REDIS_PUBSUB;
  std::string url;
  std::vector<std::string> channels, patterns;  // channels: stream keys for REDIS_STREAM
  std::string group, consumer;                  // REDIS_STREAM only
  int64_t expected_interval_ms = 0;  // no message for 3 x this is a failure; 0 = quiet is fine
  std::vector<std::string> subscribe_frames;  // WEBSOCKET: text frames sent after each connect
  int64_t max_connection_ms = 0;              // WEBSOCKET: reconnect at once after this long; 0 = never
  // ABI 1.2, KAFKA: url = bootstrap brokers, channels = topics, group = the consumer group.
  int32_t start = TRIB_START_LATEST;  // where a group with no committed offset starts
  std::vector<std::pair<std::string, std::string>> client_settings;  // librdkafka properties
};

struct stream_message {
  std::string_view channel, payload;
  int64_t received_ms = 0;
  std::string_view key;  // ABI 1.2, Kafka: the message key
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // ABI 1.2, Kafka
  // The value of header `name`, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return std::nullopt;
  }
};

// The plugin's side of trib_output: requests, records and errors go out through it.
class output {
 public:
  explicit output(const trib_output* out) : out_(out) {}

  void request(const http_request& r) const {
    std::vector<trib_kv> q, h;
    for (const auto& [k, v] : r.query) q.push_back({to_abi(k), to_abi(v)});
    for (const auto& [k, v] : r.headers) h.push_back({to_abi(k), to_abi(v)});
    trib_http_request req{};
    req.struct_size = sizeof req;
    req.method = to_abi(r.method);
    req.base_url = to_abi(r.base_url);
    req.path = to_abi(r.path);
    req.query = q.data();
    req.query_count = q.size();
    req.headers = h.data();
    req.header_count = h.size();
    req.body = to_abi(r.body);
    req.weight = r.weight;
    req.tag = to_abi(r.tag);
    out_->emit_request(out_->ctx, &req);
  }

  void record(const record_builder& b) const {
    std::vector<trib_field> f;
    f.reserve(b.fields_.size());
    for (const auto& x : b.fields_)
      f.push_back({to_abi(x.name), x.type, x.number, to_abi(x.string), x.boolean ? 1 : 0});
    trib_record rec = abi_record({b.kind_, b.subject_, b.native_, b.data_json_, b.ts_});
    rec.fields = f.data();
    rec.field_count = f.size();
    out_->emit_record(out_->ctx, &rec);
  }

  void record(const record_view& v) const {
    trib_record rec = abi_record(v);
    out_->emit_record(out_->ctx, &rec);
  }

  void stream(const stream_plan& p) const {
    if (out_->struct_size < offsetof(trib_output, emit_stream) + sizeof out_->emit_stream || !out_->emit_stream)
      throw plugin_error(error_class::internal, "this host does not take streams (ABI 1.0)");
    std::vector<trib_str> c, pt;
    for (const auto& x : p.channels) c.push_back(to_abi(x));
    for (const auto& x : p.patterns) pt.push_back(to_abi(x));
    std::vector<trib_str> frames;
    for (const auto& x : p.subscribe_frames) frames.push_back(to_abi(x));
    trib_stream_plan abi{};
    abi.struct_size = sizeof abi;
    abi.upstream = p.upstream;
    abi.url = to_abi(p.url);
    abi.channels = c.data();
    abi.channel_count = c.size();
    abi.patterns = pt.data();
    abi.pattern_count = pt.size();
    abi.group = to_abi(p.group);
    abi.consumer = to_abi(p.consumer);
    abi.expected_interval_ms = p.expected_interval_ms;
    abi.subscribe_frames = frames.data();
    abi.subscribe_frame_count = frames.size();
    abi.max_connection_ms = p.max_connection_ms;
    std::vector<trib_kv> settings;
    for (const auto& [k, v] : p.client_settings) settings.push_back({to_abi(k), to_abi(v)});
    abi.start = p.start;
    abi.client_settings = settings.data();
    abi.client_setting_count = settings.size();
    out_->emit_stream(out_->ctx, &abi);
  }

  void fail(const error& e) const {
    trib_error err{};
    err.struct_size = sizeof err;
    err.status = static_cast<int32_t>(e.cls);
    err.retry_after_ms = e.retry_after_ms;
    err.message = to_abi(e.message);
    err.subject = to_abi(e.subject);
    out_->emit_error(out_->ctx, &err);
  }

 private:
  static trib_record abi_record(const record_view& v) {
    trib_record rec{};
    rec.struct_size = sizeof rec;
    rec.kind = to_abi(v.kind);
    rec.subject = to_abi(v.subject);
    rec.native = to_abi(v.native);
    rec.ts_ms = v.ts_ms;
    rec.data_json = to_abi(v.data_json);
    return rec;
  }
  const trib_output* out_;
};

// Host services, as handed to the plugin at create time.
class host {
 public:
  host() = default;
  explicit host(const trib_host_api* api) : api_(api) {}
  void log(trib_log_level level, std::string_view msg) const {
    if (api_ && api_->log) api_->log(api_->host_ctx, level, to_abi(msg));
  }
  int64_t now_ms() const { return api_ && api_->now_ms ? api_->now_ms(api_->host_ctx) : 0; }
  void count(std::string_view name, double v = 1) const {
    if (api_ && api_->counter_add) api_->counter_add(api_->host_ctx, to_abi(name), v);
  }

 private:
  const trib_host_api* api_ = nullptr;
};

struct manifest {
  std::string name, version, description;
  std::vector<std::string> kinds;
  std::vector<std::string> secrets;      // settings keys holding secrets
  std::vector<std::string> secret_envs;  // the env vars they usually come from
  std::string default_base_url;
  int64_t default_timeout_ms = 10000;
  trib_rate_limit default_rate_limit{60, 60000, 10};
  std::string settings_schema = R"({"type":"object","properties":{}})";
  // A response header reporting the provider's view of the budget (ABI 1.1): the host
  // corrects the source's budget window `budget_header_window` from it.
  std::string budget_header;
  int32_t budget_header_counts = TRIB_BUDGET_REMAINING;
  int32_t budget_header_window = 0;
  // Record kinds this plugin adds (ABI 1.1), as JSON text; see abi.h. List them in `kinds` too.
  std::string declared_kinds;
  // How its feeds may run (ABI 1.1): TRIB_MODE_POLL and/or TRIB_MODE_STREAM. A plugin that
  // streams overrides plan_stream and parse_message.
  uint32_t modes = TRIB_MODE_POLL;
};

class plugin {
 public:
  virtual ~plugin() = default;
  // The provider's identifier for a canonical subject, or an error saying why not.
  virtual result<std::string> map_subject(std::string_view kind, std::string_view subject) = 0;
  virtual void plan(const feed_request& feed, const output& out) = 0;
  virtual void parse(const feed_request& feed, const http_request& request,
                     const http_response& response, const output& out) = 0;
  // Streaming (ABI 1.1): the upstream of a `mode = "stream"` feed, and one message of it.
  virtual void plan_stream(const feed_request&, const output&) {
    throw plugin_error(error_class::bad_request, "this plugin does not stream");
  }
  virtual void parse_message(const feed_request&, const stream_message&, const output&) {
    throw plugin_error(error_class::bad_request, "this plugin does not stream");
  }
};

namespace detail {

// `f` into `r` (replaced): no allocation once `r` has held a request as large.
inline void assign_cpp(const trib_feed_request* f, feed_request& r) {
  r.feed.assign(from_abi(f->feed));
  r.kind.assign(from_abi(f->kind));
  r.subjects.resize(f->subject_count);
  for (size_t i = 0; i < f->subject_count; ++i) {
    r.subjects[i].canonical.assign(from_abi(f->subjects[i].canonical));
    r.subjects[i].native.assign(from_abi(f->subjects[i].native));
  }
}

inline feed_request to_cpp(const trib_feed_request* f) {
  feed_request r;
  assign_cpp(f, r);
  return r;
}

inline kv_list to_cpp(const trib_kv* kv, size_t n) {
  kv_list r;
  for (size_t i = 0; i < n; ++i)
    r.emplace_back(std::string(from_abi(kv[i].key)), std::string(from_abi(kv[i].value)));
  return r;
}

inline http_request to_cpp(const trib_http_request* q) {
  http_request r;
  r.method = std::string(from_abi(q->method));
  r.base_url = std::string(from_abi(q->base_url));
  r.path = std::string(from_abi(q->path));
  r.query = to_cpp(q->query, q->query_count);
  r.headers = to_cpp(q->headers, q->header_count);
  r.body = std::string(from_abi(q->body));
  r.weight = q->weight;
  r.tag = std::string(from_abi(q->tag));
  return r;
}

// Runs `fn`, turning every exception into an emitted error and a status.
template <class Fn>
int32_t guarded(const trib_output* out, Fn&& fn) noexcept {
  try {
    fn();
    return TRIB_OK;
  } catch (const plugin_error& e) {
    try {
      output(out).fail(e.get());
    } catch (...) {
    }
    return static_cast<int32_t>(e.get().cls);
  } catch (const std::exception& e) {
    try {
      output(out).fail({error_class::internal, std::string("plugin threw: ") + e.what(), {}, 0});
    } catch (...) {
    }
  } catch (...) {
    try {
      output(out).fail({error_class::internal, "plugin threw a non-standard exception", {}, 0});
    } catch (...) {
    }
  }
  return TRIB_ERR_INTERNAL;
}

struct manifest_storage {
  manifest m;
  std::vector<trib_str> kinds, secrets, secret_envs;
  trib_manifest abi{};
  explicit manifest_storage(manifest src) : m(std::move(src)) {
    for (const auto& k : m.kinds) kinds.push_back(to_abi(k));
    for (const auto& k : m.secrets) secrets.push_back(to_abi(k));
    for (const auto& k : m.secret_envs) secret_envs.push_back(to_abi(k));
    abi.struct_size = sizeof abi;
    abi.name = to_abi(m.name);
    abi.version = to_abi(m.version);
    abi.description = to_abi(m.description);
    abi.kinds = kinds.data();
    abi.kind_count = kinds.size();
    abi.secrets = secrets.data();
    abi.secret_count = secrets.size();
    abi.secret_envs = secret_envs.data();
    abi.secret_env_count = secret_envs.size();
    abi.default_base_url = to_abi(m.default_base_url);
    abi.default_timeout_ms = m.default_timeout_ms;
    abi.default_rate_limit = m.default_rate_limit;
    abi.settings_schema = to_abi(m.settings_schema);
    abi.budget_header = to_abi(m.budget_header);
    abi.budget_header_counts = m.budget_header_counts;
    abi.budget_header_window = m.budget_header_window;
    abi.declared_kinds = to_abi(m.declared_kinds);
    abi.modes = m.modes;
  }
};

template <class T>
struct adapter {
  static T* self(trib_instance* i) { return reinterpret_cast<T*>(i); }

  static int32_t create(const trib_host_api* api, trib_str settings, trib_instance** inst,
                        const trib_output* out) {
    *inst = nullptr;
    return guarded(out, [&] {
      *inst = reinterpret_cast<trib_instance*>(new T(from_abi(settings), host(api)));
    });
  }
  static void destroy(trib_instance* i) {
    try {
      delete self(i);
    } catch (...) {
    }
  }
  static int32_t map_subject(trib_instance* i, trib_str kind, trib_str subject, char* buf,
                             size_t cap, size_t* len, const trib_output* out) {
    int32_t status = TRIB_OK;
    int32_t rc = guarded(out, [&] {
      auto r = self(i)->map_subject(from_abi(kind), from_abi(subject));
      if (!r) {
        output(out).fail(r.err());
        status = static_cast<int32_t>(r.err().cls);
        return;
      }
      *len = r.value().size();
      std::copy_n(r.value().data(), std::min(cap, r.value().size()), buf);
    });
    return rc != TRIB_OK ? rc : status;
  }
  static int32_t plan(trib_instance* i, const trib_feed_request* f, const trib_output* out) {
    return guarded(out, [&] { self(i)->plan(to_cpp(f), output(out)); });
  }
  static int32_t parse(trib_instance* i, const trib_feed_request* f, const trib_http_request* q,
                       const trib_http_response* r, const trib_output* out) {
    return guarded(out, [&] {
      http_response resp;
      resp.status = r->status;
      resp.headers = to_cpp(r->headers, r->header_count);
      resp.body = from_abi(r->body);
      resp.received_ms = r->received_ms;
      self(i)->parse(to_cpp(f), to_cpp(q), resp, output(out));
    });
  }

  static int32_t plan_stream(trib_instance* i, const trib_feed_request* f, const trib_output* out) {
    return guarded(out, [&] { self(i)->plan_stream(to_cpp(f), output(out)); });
  }
  static int32_t parse_message(trib_instance* i, const trib_feed_request* f, const trib_stream_message* m,
                               const trib_output* out) {
    return guarded(out, [&] {
      // Kept per thread and refilled: a message costs the plugin no allocation of the SDK's.
      thread_local feed_request feed;
      thread_local stream_message msg;
      assign_cpp(f, feed);
      msg.channel = from_abi(m->channel);
      msg.payload = from_abi(m->payload);
      msg.received_ms = m->received_ms;
      msg.key = {};
      msg.headers.clear();
      if (TRIB_HAS_MEMBER(m, trib_stream_message, header_count)) {  // a host of ABI 1.2 or later
        msg.key = from_abi(m->key);
        for (size_t k = 0; k < m->header_count; ++k) msg.headers.emplace_back(from_abi(m->headers[k].key), from_abi(m->headers[k].value));
      }
      self(i)->parse_message(feed, msg, output(out));
    });
  }

  static const trib_plugin_descriptor* descriptor(manifest (*manifest_fn)()) noexcept {
    try {
      static const manifest_storage storage(manifest_fn());
      static const trib_plugin_descriptor d = [] {
        trib_plugin_descriptor x{};
        x.struct_size = sizeof x;
        x.abi_major = TRIB_ABI_MAJOR;
        x.abi_minor = TRIB_ABI_MINOR;
        x.manifest = &storage.abi;
        x.create = &create;
        x.destroy = &destroy;
        x.map_subject = &map_subject;
        x.plan = &plan;
        x.parse = &parse;
        x.plan_stream = &plan_stream;
        x.parse_message = &parse_message;
        return x;
      }();
      return &d;
    } catch (...) {
      return nullptr;
    }
  }
};

}  // namespace detail
}  // namespace tributary::sdk

// Exports the plugin's entry symbol. PLUGIN_CLASS derives from tributary::sdk::plugin;
// MANIFEST_FN is a function `tributary::sdk::manifest f()`.
#define TRIBUTARY_PLUGIN(PLUGIN_CLASS, MANIFEST_FN)                                         \
  extern "C" TRIB_EXPORT const trib_plugin_descriptor* tributary_plugin_entry(void) {       \
    return ::tributary::sdk::detail::adapter<PLUGIN_CLASS>::descriptor(&MANIFEST_FN);        \
  }
