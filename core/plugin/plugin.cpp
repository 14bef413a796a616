#include "plugin/plugin.hpp"

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <tributary/abi.h>

#include "util/clock.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string_view name_of(error_class c) {
  switch (c) {
    case error_class::retryable: return "retryable";
    case error_class::rate_limited: return "rate_limited";
    case error_class::auth: return "auth";
    case error_class::bad_request: return "bad_request";
    case error_class::bad_data: return "bad_data";
    case error_class::internal: return "internal";
  }
  return "internal";
}

std::string fetch_error::str() const {
  std::string s(name_of(cls));
  s += ": ";
  if (!subject.empty()) s += subject + ": ";
  s += message;
  return s;
}

static error_class class_of(int32_t status) {
  switch (status) {
    case TRIB_ERR_RETRYABLE: return error_class::retryable;
    case TRIB_ERR_RATE_LIMITED: return error_class::rate_limited;
    case TRIB_ERR_AUTH: return error_class::auth;
    case TRIB_ERR_BAD_REQUEST: return error_class::bad_request;
    case TRIB_ERR_BAD_DATA: return error_class::bad_data;
    default: return error_class::internal;
  }
}

static std::string str(trib_str s) { return s.ptr ? std::string(s.ptr, s.len) : std::string(); }
static trib_str abi(std::string_view s) { return trib_str{s.data(), s.size()}; }

json plugin_manifest::declared_json() const {
  json out = json::object();
  for (auto& k : declared_kinds) {
    json fields = json::object();
    for (auto& [n, t] : k.fields)
      fields[n] = t == vocabulary::field_type::number ? "number" : t == vocabulary::field_type::string ? "string" : "bool";
    out[k.name] = {{"fields", fields}, {"required", k.required}};
  }
  return out;
}

json plugin_manifest::modes_json() const {
  json m = json::array();
  if (polls) m.push_back("poll");
  if (streams) m.push_back("stream");
  return m;
}

json plugin_manifest::to_json() const {
  return json{{"name", name},
              {"version", version},
              {"description", description},
              {"kinds", kinds},
              {"secrets", secrets},
              {"secret_envs", secret_envs},
              {"default_base_url", default_base_url},
              {"default_timeout", format_duration(default_timeout)},
              {"default_rate_limit",
               {{"requests", default_rate_limit.requests},
                {"per", format_duration(default_rate_limit.per)},
                {"burst", default_rate_limit.burst}}},
              {"settings_schema", settings_schema},
              {"budget_header", budget_header.name.empty()
                                    ? json(nullptr)
                                    : json{{"name", budget_header.name},
                                           {"counts", budget_header.counts_used ? "used" : "remaining"},
                                           {"window", budget_header.window}}},
              {"declared_kinds", declared_json()},
              {"modes", modes_json()},
              {"abi", std::to_string(abi_major) + "." + std::to_string(abi_minor)},
              {"path", path.string()}};
}

// ---------------------------------------------------------------- library

struct plugin_library::impl {
  boost::dll::shared_library lib;
};

plugin_library::~plugin_library() = default;

namespace {

// Why a descriptor cannot be used by this host (ABI version, size, required functions).
std::optional<std::string> check_descriptor(const trib_plugin_descriptor* d) {
  std::string host_v = std::to_string(TRIB_ABI_MAJOR) + "." + std::to_string(TRIB_ABI_MINOR);
  std::string plug_v = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  if (d->abi_major != TRIB_ABI_MAJOR)
    return "plugin ABI " + plug_v + " is incompatible with host ABI " + host_v + " (major versions differ)";
  if (d->abi_minor > TRIB_ABI_MINOR) return "plugin ABI " + plug_v + " is newer than host ABI " + host_v + " (upgrade the host)";
  if (d->struct_size < offsetof(trib_plugin_descriptor, parse) + sizeof(d->parse))
    return "descriptor is too small (" + std::to_string(d->struct_size) + " bytes) for ABI " + plug_v;
  if (!d->manifest || !d->create || !d->destroy || !d->plan || !d->parse || !d->map_subject)
    return "descriptor lacks a manifest or a required function";
  const trib_manifest* m = d->manifest;
  if (m->struct_size < offsetof(trib_manifest, settings_schema) + sizeof(m->settings_schema))
    return "manifest is too small for ABI " + plug_v;
  return std::nullopt;
}

// The fields every ABI 1.x manifest has.
std::optional<std::string> read_base_manifest(const trib_manifest* m, plugin_manifest& mf) {
  mf.name = str(m->name);
  mf.version = str(m->version);
  mf.description = str(m->description);
  for (size_t i = 0; i < m->kind_count; ++i) mf.kinds.push_back(str(m->kinds[i]));
  for (size_t i = 0; i < m->secret_count; ++i) mf.secrets.push_back(str(m->secrets[i]));
  for (size_t i = 0; i < m->secret_env_count; ++i) mf.secret_envs.push_back(str(m->secret_envs[i]));
  mf.default_base_url = str(m->default_base_url);
  mf.default_timeout = millis(m->default_timeout_ms > 0 ? m->default_timeout_ms : 10000);
  mf.default_rate_limit = {m->default_rate_limit.requests, millis(m->default_rate_limit.per_ms), m->default_rate_limit.burst};
  mf.settings_schema = json::parse(str(m->settings_schema), nullptr, false);
  if (mf.settings_schema.is_discarded()) return "manifest's settings_schema is not valid JSON";
  if (mf.name.empty()) return "manifest has no name";
  return std::nullopt;
}

// What later minor versions added: budget header (1.1), declared kinds and modes.
std::optional<std::string> read_later_manifest(const trib_plugin_descriptor* d, plugin_manifest& mf) {
  const trib_manifest* m = d->manifest;
  if (m->struct_size >= offsetof(trib_manifest, budget_header_window) + sizeof(m->budget_header_window)) {  // ABI 1.1
    mf.budget_header.name = str(m->budget_header);
    mf.budget_header.counts_used = m->budget_header_counts == TRIB_BUDGET_USED;
    mf.budget_header.window = m->budget_header_window > 0 ? static_cast<size_t>(m->budget_header_window) : 0;
  }
  if (TRIB_HAS_MEMBER(m, trib_manifest, declared_kinds)) {
    auto parsed = vocabulary::parse_declared_kinds(str(m->declared_kinds), mf.name);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    mf.declared_kinds = std::get<std::vector<vocabulary::declared_kind>>(parsed);
    for (auto& k : mf.declared_kinds)
      if (auto why = vocabulary::declare(k)) return *why;
  }
  if (TRIB_HAS_MEMBER(m, trib_manifest, modes) && m->modes != 0) {
    mf.polls = (m->modes & TRIB_MODE_POLL) != 0;
    mf.streams = (m->modes & TRIB_MODE_STREAM) != 0;
  }
  if (mf.streams && !(TRIB_HAS_MEMBER(d, trib_plugin_descriptor, parse_message) && d->plan_stream && d->parse_message))
    return "manifest says it streams, but the descriptor has no plan_stream / parse_message";
  for (auto& k : mf.kinds)
    if (!vocabulary::known_kind(k)) return "manifest declares unknown record kind '" + k + "'";
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<plugin_library>, std::string> plugin_library::load(const fs::path& path) {
  std::shared_ptr<plugin_library> self(new plugin_library());
  self->impl_ = std::make_unique<impl>();
  std::error_code ec;
  self->impl_->lib.load(path, ec, boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  if (ec) return path.string() + ": cannot load: " + ec.message();
  if (!self->impl_->lib.has(TRIB_ENTRY_SYMBOL))
    return path.string() + ": not a Tributary plugin: no entry symbol `" TRIB_ENTRY_SYMBOL "`";
  auto entry = self->impl_->lib.get<const trib_plugin_descriptor*()>(TRIB_ENTRY_SYMBOL);
  const trib_plugin_descriptor* d = entry();
  if (!d) return path.string() + ": the entry symbol returned no descriptor";
  plugin_manifest& mf = self->manifest_;
  auto why = check_descriptor(d);
  if (!why) why = read_base_manifest(d->manifest, mf);
  mf.abi_major = d->abi_major;
  mf.abi_minor = d->abi_minor;
  mf.path = path;
  if (!why) why = read_later_manifest(d, mf);
  if (why) return path.string() + ": " + *why;
  self->desc_ = d;
  return self;
}

std::vector<discovered_plugin> discover_plugins(const std::vector<fs::path>& dirs) {
  std::vector<discovered_plugin> out;
  std::set<std::string> seen;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      auto fn = p.filename().string();
      if (fn.rfind("lib", 0) != 0 || p.extension() != ".so") continue;
      auto name = fn.substr(3, fn.size() - 6);
      if (seen.insert(name).second) out.push_back({name, p});
    }
  }
  return out;
}

std::optional<fs::path> find_plugin(const std::vector<fs::path>& dirs, const std::string& name) {
  for (const auto& d : dirs) {
    auto p = d / ("lib" + name + ".so");
    if (fs::exists(p)) return p;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- http_request

// Percent-encodes all but RFC 3986 unreserved characters (and those in `keep`).
static std::string url_encode(std::string_view s, std::string_view keep = {}) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || keep.find(static_cast<char>(c)) != std::string_view::npos)
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string http_request::url() const {
  std::string u = base_url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  u += url_encode(path, "/:@!$&'()*+,;=");
  for (size_t i = 0; i < query.size(); ++i)
    u += (i == 0 ? "?" : "&") + url_encode(query[i].first) + "=" + url_encode(query[i].second);
  return u;
}

// ---------------------------------------------------------------- instance

namespace {

// Collects what a plugin emits during one call.
struct collector {
  std::string kind_filter;
  call_result r;
  std::optional<stream_plan> plan;
  trib_output out{};

  collector() {
    out.struct_size = sizeof out;
    out.ctx = this;
    out.emit_request = [](void* ctx, const trib_http_request* q) {
      auto* self = static_cast<collector*>(ctx);
      http_request h;
      h.method = q->method.len ? str(q->method) : "GET";
      h.base_url = str(q->base_url);
      h.path = str(q->path);
      for (size_t i = 0; i < q->query_count; ++i)
        h.query.emplace_back(str(q->query[i].key), str(q->query[i].value));
      for (size_t i = 0; i < q->header_count; ++i)
        h.headers.emplace_back(str(q->headers[i].key), str(q->headers[i].value));
      h.body = str(q->body);
      h.weight = q->weight > 0 ? q->weight : 1;
      h.tag = str(q->tag);
      self->r.requests.push_back(std::move(h));
    };
    out.emit_record = [](void* ctx, const trib_record* rec) {
      static_cast<collector*>(ctx)->add_record(rec);
    };
    out.emit_error = [](void* ctx, const trib_error* e) {
      fetch_error f;
      f.cls = class_of(e->status);
      f.message = str(e->message);
      f.subject = str(e->subject);
      f.retry_after_ms = e->retry_after_ms;
      static_cast<collector*>(ctx)->r.errors.push_back(std::move(f));
    };
    out.emit_stream = [](void* ctx, const trib_stream_plan* p) {
      stream_plan sp;
      sp.upstream = p->upstream == TRIB_UPSTREAM_WEBSOCKET      ? stream_plan::kind::websocket
                    : p->upstream == TRIB_UPSTREAM_REDIS_PUBSUB ? stream_plan::kind::redis_pubsub
                    : p->upstream == TRIB_UPSTREAM_REDIS_STREAM ? stream_plan::kind::redis_stream
                    : p->upstream == TRIB_UPSTREAM_KAFKA        ? stream_plan::kind::kafka
                                                                : stream_plan::kind::unknown;
      sp.url = str(p->url);
      for (size_t i = 0; i < p->channel_count; ++i) sp.channels.push_back(str(p->channels[i]));
      for (size_t i = 0; i < p->pattern_count; ++i) sp.patterns.push_back(str(p->patterns[i]));
      sp.group = str(p->group);
      sp.consumer = str(p->consumer);
      sp.expected_interval_ms = std::max<int64_t>(0, p->expected_interval_ms);
      if (TRIB_HAS_MEMBER(p, trib_stream_plan, max_connection_ms)) {
        for (size_t i = 0; i < p->subscribe_frame_count; ++i) sp.subscribe_frames.push_back(str(p->subscribe_frames[i]));
        sp.max_connection_ms = std::max<int64_t>(0, p->max_connection_ms);
      }
      if (TRIB_HAS_MEMBER(p, trib_stream_plan, client_setting_count)) {
        sp.start = p->start == TRIB_START_EARLIEST ? stream_plan::start_at::earliest : stream_plan::start_at::latest;
        for (size_t i = 0; i < p->client_setting_count; ++i)
          sp.client_settings.emplace_back(str(p->client_settings[i].key), str(p->client_settings[i].value));
      }
      static_cast<collector*>(ctx)->plan = std::move(sp);
    };
  }

  // Data as one JSON object (ABI 1.1 data_json): kept as is for a free-form kind (`event`);
  // for a kind with a vocabulary (a declared one), held to its fields like typed fields are.
  bool add_json_data(const trib_record* rec, record& x) {
    if (!TRIB_HAS_MEMBER(rec, trib_record, data_json) || rec->data_json.len == 0) return false;
    if (rec->data_json.len > vocabulary::max_free_form_bytes) {
      r.errors.push_back({error_class::bad_data, "message data over 64 KiB", x.subject, 0});
      return true;
    }
    auto j = json::parse(str(rec->data_json), nullptr, false);
    if (!j.is_object()) {
      r.errors.push_back({error_class::bad_data, "message data is not a JSON object", x.subject, 0});
      return true;
    }
    if (vocabulary::free_form(x.kind)) x.data = std::move(j);
    else
      for (auto& [name, v] : j.items()) keep_field(x, name, v);
    finish_record(std::move(x));
    return true;
  }

  void keep_field(record& x, const std::string& name, const json& v) {
    auto type = vocabulary::field(x.kind, name);
    bool fits = type && ((*type == vocabulary::field_type::number && v.is_number()) ||
                         (*type == vocabulary::field_type::string && v.is_string()) ||
                         (*type == vocabulary::field_type::boolean && v.is_boolean()));
    if (fits) x.data[name] = v;
    else if (!v.is_null()) r.problems.push_back("field '" + name + "' is not a " + x.kind + " field of that type; dropped");
  }

  void finish_record(record x) {
    for (const auto& req : vocabulary::required_fields(x.kind))
      if (!x.data.contains(req)) {
        r.problems.push_back("record " + x.topic() + " lacks required field '" + req + "'; dropped");
        r.errors.push_back({error_class::bad_data, "no '" + req + "' in the answer", x.subject, 0});
        return;
      }
    r.records.push_back(std::move(x));
  }

  void add_record(const trib_record* rec) {
    record x;
    x.kind = str(rec->kind);
    x.subject = str(rec->subject);
    x.native = str(rec->native);
    x.ts = rec->ts_ms;
    if (!vocabulary::known_kind(x.kind)) {
      r.problems.push_back("record of unknown kind '" + x.kind + "' dropped");
      return;
    }
    if (auto why = vocabulary::check_subject(x.kind, x.subject)) {
      r.problems.push_back("record with bad subject '" + x.subject + "' dropped: " + *why);
      return;
    }
    if (add_json_data(rec, x)) return;
    for (size_t i = 0; i < rec->field_count; ++i) {
      const trib_field& f = rec->fields[i];
      std::string name = str(f.name);
      auto type = vocabulary::field(x.kind, name);
      if (!type) {
        r.problems.push_back("field '" + name + "' is not in the " + x.kind + " vocabulary; dropped");
        continue;
      }
      switch (*type) {
        case vocabulary::field_type::number:
          if (f.type != TRIB_FIELD_NUMBER) r.problems.push_back("field '" + name + "' must be a number; dropped");
          else if (!std::isfinite(f.number)) r.problems.push_back("field '" + name + "' is not a finite number; dropped");
          else if (std::trunc(f.number) == f.number && std::fabs(f.number) < 9007199254740992.0)
            x.data[name] = static_cast<int64_t>(f.number);  // integral: 1773154799999, not 1773154799999.0
          else x.data[name] = f.number;
          break;
        case vocabulary::field_type::string:
          if (f.type == TRIB_FIELD_STRING) x.data[name] = str(f.string);
          else r.problems.push_back("field '" + name + "' must be a string; dropped");
          break;
        case vocabulary::field_type::boolean:
          if (f.type == TRIB_FIELD_BOOL) x.data[name] = f.boolean != 0;
          else r.problems.push_back("field '" + name + "' must be a boolean; dropped");
          break;
      }
    }
    finish_record(std::move(x));
  }
};

struct abi_feed {
  std::vector<trib_subject> subjects;
  trib_feed_request req{};
  explicit abi_feed(const feed_request& f) {
    for (const auto& [c, n] : f.subjects) subjects.push_back({abi(c), abi(n)});
    req.struct_size = sizeof req;
    req.feed = abi(f.feed);
    req.kind = abi(f.kind);
    req.subjects = subjects.data();
    req.subject_count = subjects.size();
  }
};

}  // namespace

std::variant<std::unique_ptr<plugin_instance>, fetch_error> plugin_instance::create(
    std::shared_ptr<plugin_library> lib, std::string instance_name, const json& settings,
    plugin_services services) {
  std::unique_ptr<plugin_instance> self(new plugin_instance());
  self->lib_ = std::move(lib);
  self->name_ = std::move(instance_name);
  self->services_ = std::move(services);
  self->api_ = std::make_unique<trib_host_api>();
  auto* api = self->api_.get();
  api->struct_size = sizeof *api;
  api->abi_major = TRIB_ABI_MAJOR;
  api->abi_minor = TRIB_ABI_MINOR;
  api->host_ctx = self.get();
  api->log = [](void* ctx, int32_t level, trib_str msg) {
    auto* s = static_cast<plugin_instance*>(ctx);
    if (s->services_.log) s->services_.log(level, std::string_view(msg.ptr, msg.len));
  };
  api->now_ms = [](void* ctx) -> int64_t {
    auto* s = static_cast<plugin_instance*>(ctx);
    return s->services_.clock ? s->services_.clock->now_ms() : system_clock_source().now_ms();
  };
  api->counter_add = [](void* ctx, trib_str name, double v) {
    auto* s = static_cast<plugin_instance*>(ctx);
    if (s->services_.count) s->services_.count(std::string_view(name.ptr, name.len), v);
  };
  collector c;
  std::string text = settings.dump();
  trib_instance* inst = nullptr;
  int32_t rc = self->lib_->descriptor()->create(api, abi(text), &inst, &c.out);
  if (rc != TRIB_OK || !inst) {
    fetch_error e = c.r.errors.empty() ? fetch_error{class_of(rc), "create failed", {}, 0} : c.r.errors.front();
    if (e.cls == error_class::internal || rc == TRIB_OK) e.cls = error_class::bad_request;
    if (inst) self->lib_->descriptor()->destroy(inst);
    return e;
  }
  self->inst_ = inst;
  return self;
}

plugin_instance::~plugin_instance() {
  if (inst_) lib_->descriptor()->destroy(inst_);
}

bool plugin_instance::serves(std::string_view kind) const {
  const auto& k = manifest().kinds;
  return std::find(k.begin(), k.end(), kind) != k.end() || std::find(extra_kinds_.begin(), extra_kinds_.end(), kind) != extra_kinds_.end();
}

std::variant<std::string, fetch_error> plugin_instance::map_subject(const std::string& kind,
                                                                   const std::string& subject) {
  std::lock_guard lk(mu_);
  collector c;
  std::string buf(256, '\0');
  size_t len = 0;
  int32_t rc = lib_->descriptor()->map_subject(inst_, abi(kind), abi(subject), buf.data(),
                                               buf.size(), &len, &c.out);
  if (rc == TRIB_OK && len > buf.size()) {
    buf.assign(len, '\0');
    rc = lib_->descriptor()->map_subject(inst_, abi(kind), abi(subject), buf.data(), buf.size(),
                                         &len, &c.out);
  }
  if (rc != TRIB_OK) {
    if (!c.r.errors.empty()) return c.r.errors.front();
    return fetch_error{class_of(rc), "cannot map subject", subject, 0};
  }
  buf.resize(std::min(len, buf.size()));
  return buf;
}

call_result plugin_instance::plan(const feed_request& feed) {
  std::lock_guard lk(mu_);
  collector c;
  abi_feed f(feed);
  c.r.status = lib_->descriptor()->plan(inst_, &f.req, &c.out);
  if (c.r.status != TRIB_OK && c.r.errors.empty())
    c.r.errors.push_back({class_of(c.r.status), "plan failed", {}, 0});
  return std::move(c.r);
}

bool plugin_instance::streams() const { return manifest().streams; }
bool plugin_instance::polls() const { return manifest().polls; }

std::variant<stream_plan, fetch_error> plugin_instance::plan_stream(const feed_request& feed) {
  if (!streams()) return fetch_error{error_class::bad_request, "plugin '" + manifest().name + "' does not stream", {}, 0};
  std::lock_guard lk(mu_);
  collector c;
  abi_feed f(feed);
  int32_t rc = lib_->descriptor()->plan_stream(inst_, &f.req, &c.out);
  if (rc != TRIB_OK || !c.plan)
    return c.r.errors.empty() ? fetch_error{class_of(rc == TRIB_OK ? TRIB_ERR_INTERNAL : rc), "plan_stream named no upstream", {}, 0}
                              : c.r.errors.front();
  if (c.plan->upstream == stream_plan::kind::unknown) return fetch_error{error_class::bad_request, "unknown upstream kind", {}, 0};
  if (c.plan->upstream == stream_plan::kind::redis_stream && (c.plan->group.empty() || c.plan->consumer.empty() || c.plan->channels.empty()))
    return fetch_error{error_class::bad_request, "a Redis stream upstream needs stream keys, a group and a consumer", {}, 0};
  if (c.plan->upstream == stream_plan::kind::kafka && (c.plan->url.empty() || c.plan->channels.empty()))
    return fetch_error{error_class::bad_request, "a Kafka upstream needs brokers and topics", {}, 0};
  return *c.plan;
}

call_result plugin_instance::parse_message(const feed_request& feed, const upstream_message& msg) {
  std::lock_guard lk(mu_);
  collector c;
  abi_feed f(feed);
  trib_stream_message m{};
  m.struct_size = sizeof m;
  m.channel = {msg.channel.data(), msg.channel.size()};
  m.payload = {msg.payload.data(), msg.payload.size()};
  m.received_ms = msg.received_ms;
  m.key = {msg.key.data(), msg.key.size()};
  headers_.clear();
  for (size_t i = 0; i < msg.header_count; ++i)
    headers_.push_back({{msg.headers[i].first.data(), msg.headers[i].first.size()}, {msg.headers[i].second.data(), msg.headers[i].second.size()}});
  m.headers = headers_.data();
  m.header_count = headers_.size();
  c.r.status = lib_->descriptor()->parse_message(inst_, &f.req, &m, &c.out);
  if (c.r.status != TRIB_OK && c.r.errors.empty()) c.r.errors.push_back({class_of(c.r.status), "parse_message failed", {}, 0});
  std::erase_if(c.r.records, [&](const record& r) {
    if (r.kind == feed.kind) return false;
    c.r.problems.push_back("record " + r.topic() + " is not of the feed's kind; dropped");
    return true;
  });
  return std::move(c.r);
}

call_result plugin_instance::parse(const feed_request& feed, const http_request& request,
                                   const http_response& response) {
  std::lock_guard lk(mu_);
  collector c;
  abi_feed f(feed);
  std::vector<trib_kv> q, h, rh;
  for (const auto& [k, v] : request.query) q.push_back({abi(k), abi(v)});
  for (const auto& [k, v] : request.headers) h.push_back({abi(k), abi(v)});
  for (const auto& [k, v] : response.headers) rh.push_back({abi(k), abi(v)});
  trib_http_request req{};
  req.struct_size = sizeof req;
  req.method = abi(request.method);
  req.base_url = abi(request.base_url);
  req.path = abi(request.path);
  req.query = q.data();
  req.query_count = q.size();
  req.headers = h.data();
  req.header_count = h.size();
  req.body = abi(request.body);
  req.weight = request.weight;
  req.tag = abi(request.tag);
  trib_http_response resp{};
  resp.struct_size = sizeof resp;
  resp.status = response.status;
  resp.headers = rh.data();
  resp.header_count = rh.size();
  resp.body = abi(response.body);
  resp.received_ms = response.received_ms;
  c.r.status = lib_->descriptor()->parse(inst_, &f.req, &req, &resp, &c.out);
  if (c.r.status != TRIB_OK && c.r.errors.empty())
    c.r.errors.push_back({class_of(c.r.status), "parse failed", {}, 0});
  // A record for a subject the feed did not ask for is a plugin bug.
  std::erase_if(c.r.records, [&](const record& r) {
    bool asked = r.kind == feed.kind &&
                 std::any_of(feed.subjects.begin(), feed.subjects.end(),
                             [&](auto& s) { return s.first == r.subject; });
    if (!asked) c.r.problems.push_back("record " + r.topic() + " was not asked for; dropped");
    return !asked;
  });
  return std::move(c.r);
}

// ---------------------------------------------------------------- settings schema

static bool type_matches(const std::string& t, const json& v) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "number") return v.is_number();
  if (t == "integer") return v.is_number_integer() || v.is_number_unsigned();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  return true;
}

static void validate(const json& schema, const json& v, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>& out) {
  if (!schema.is_object()) return;
  if (auto t = schema.find("type"); t != schema.end() && t->is_string() &&
                                    !type_matches(t->get<std::string>(), v)) {
    out.emplace_back(path, "must be of type " + t->get<std::string>());
    return;
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array() &&
                                    std::find(e->begin(), e->end(), v) == e->end()) {
    out.emplace_back(path, "must be one of " + e->dump());
  }
  if (v.is_number()) {
    if (auto m = schema.find("minimum"); m != schema.end() && v.get<double>() < m->get<double>())
      out.emplace_back(path, "must be at least " + m->dump());
    if (auto m = schema.find("maximum"); m != schema.end() && v.get<double>() > m->get<double>())
      out.emplace_back(path, "must be at most " + m->dump());
  }
  if (v.is_array())
    if (auto items = schema.find("items"); items != schema.end())
      for (size_t i = 0; i < v.size(); ++i)
        validate(*items, v[i], path + "[" + std::to_string(i) + "]", out);
  if (!v.is_object()) return;
  auto props = schema.find("properties");
  auto extra = schema.find("additionalProperties");
  std::vector<std::string> known;
  if (props != schema.end() && props->is_object())
    for (auto& [k, _] : props->items()) known.push_back(k);
  for (auto& [k, val] : v.items()) {
    std::string kp = path.empty() ? k : path + "." + k;
    if (props != schema.end() && props->contains(k)) {
      validate((*props)[k], val, kp, out);
    } else if (extra != schema.end() && extra->is_boolean() && !extra->get<bool>()) {
      std::string msg = "unknown key '" + k + "'";
      if (auto c = closest(k, known)) msg += " (did you mean '" + *c + "'?)";
      out.emplace_back(kp, msg);
    } else if (extra != schema.end() && extra->is_object()) {
      validate(*extra, val, kp, out);
    }
  }
  if (auto req = schema.find("required"); req != schema.end() && req->is_array())
    for (auto& r : *req)
      if (r.is_string() && !v.contains(r.get<std::string>()))
        out.emplace_back(path, "missing required key '" + r.get<std::string>() + "'");
}

std::vector<std::pair<std::string, std::string>> validate_settings(const json& schema, const json& value) {
  std::vector<std::pair<std::string, std::string>> out;
  validate(schema, value, "", out);
  return out;
}

}  // namespace tributary
