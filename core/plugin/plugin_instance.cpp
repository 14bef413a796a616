#include <algorithm>

#include "plugin/abi_backend.hpp"
#include "plugin/backend.hpp"
#include "util/clock.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {

trib_str abi(std::string_view s) { return trib_str{s.data(), s.size()}; }

// A feed request in ABI form; its subjects in `subjects`, replaced (a kept vector allocates
// nothing once grown).
struct abi_feed {
  trib_feed_request req{};
  abi_feed(const feed_request& f, std::vector<trib_subject>& subjects) {
    subjects.clear();
    for (const auto& [c, n] : f.subjects) subjects.push_back({abi(c), abi(n)});
    req.struct_size = sizeof req;
    req.feed = abi(f.feed);
    req.kind = abi(f.kind);
    req.subjects = subjects.data();
    req.subject_count = subjects.size();
  }
  explicit abi_feed(const feed_request& f) : abi_feed(f, own) {}
  std::vector<trib_subject> own;
};

std::vector<trib_kv> abi_kv(const kv_list& list) {
  std::vector<trib_kv> out;
  out.reserve(list.size());
  for (const auto& [k, v] : list) out.push_back({abi(k), abi(v)});
  return out;
}

// A failed call with no error of its own gets one naming the call.
call_result& finish(call_output& c, int32_t status, const char* call) {
  auto& r = c.result();
  r.status = status;
  if (status != TRIB_OK && r.errors.empty()) r.errors.push_back({class_of_status(status), std::string(call) + " failed", {}, 0});
  return r;
}

}  // namespace

std::variant<std::unique_ptr<plugin_instance>, fetch_error> plugin_instance::create(
    std::shared_ptr<plugin_library> lib, std::string instance_name, const json& settings, plugin_services services) {
  return create(std::make_unique<abi_backend>(std::move(lib)), std::move(instance_name), settings, std::move(services));
}

std::variant<std::unique_ptr<plugin_instance>, fetch_error> plugin_instance::create(
    std::unique_ptr<plugin_backend> backend, std::string instance_name, const json& settings, plugin_services services) {
  std::unique_ptr<plugin_instance> self(new plugin_instance());
  self->backend_ = std::move(backend);
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
  call_output c;
  int32_t rc = self->backend_->create(*api, settings.dump(), c);
  if (rc != TRIB_OK) {
    auto& errors = c.result().errors;
    fetch_error e = errors.empty() ? fetch_error{class_of_status(rc), "create failed", {}, 0} : errors.front();
    if (e.cls == error_class::internal) e.cls = error_class::bad_request;
    return e;
  }
  return self;
}

plugin_instance::~plugin_instance() = default;

const plugin_manifest& plugin_instance::manifest() const { return backend_->manifest(); }

// Not under mu_: status must not wait for a call in flight (a hung plugin holds it for up to
// call_timeout); each backend's status guards itself.
json plugin_instance::backend_status() const { return backend_->status(); }

bool plugin_instance::serves(std::string_view kind) const {
  const auto& k = manifest().kinds;
  return std::find(k.begin(), k.end(), kind) != k.end() ||
         std::find(extra_kinds_.begin(), extra_kinds_.end(), kind) != extra_kinds_.end();
}

std::variant<std::string, fetch_error> plugin_instance::map_subject(const std::string& kind, const std::string& subject) {
  std::lock_guard lk(mu_);
  call_output c;
  std::string native;
  int32_t rc = backend_->map_subject(kind, subject, native, c);
  if (rc != TRIB_OK) {
    if (!c.result().errors.empty()) return c.result().errors.front();
    return fetch_error{class_of_status(rc), "cannot map subject", subject, 0};
  }
  return native;
}

call_result plugin_instance::plan(const feed_request& feed) {
  std::lock_guard lk(mu_);
  call_output c;
  abi_feed f(feed);
  return std::move(finish(c, backend_->plan(f.req, c), "plan"));
}

bool plugin_instance::streams() const { return manifest().streams; }
bool plugin_instance::polls() const { return manifest().polls; }

std::variant<stream_plan, fetch_error> plugin_instance::plan_stream(const feed_request& feed) {
  if (!streams()) return fetch_error{error_class::bad_request, "plugin '" + manifest().name + "' does not stream", {}, 0};
  std::lock_guard lk(mu_);
  call_output c;
  abi_feed f(feed);
  int32_t rc = backend_->plan_stream(f.req, c);
  auto& plan = c.stream();
  if (rc != TRIB_OK || !plan) {
    auto& errors = c.result().errors;
    return errors.empty() ? fetch_error{class_of_status(rc == TRIB_OK ? TRIB_ERR_INTERNAL : rc), "plan_stream named no upstream", {}, 0}
                          : errors.front();
  }
  if (plan->upstream == stream_plan::kind::unknown) return fetch_error{error_class::bad_request, "unknown upstream kind", {}, 0};
  if (plan->upstream == stream_plan::kind::redis_stream && (plan->group.empty() || plan->consumer.empty() || plan->channels.empty()))
    return fetch_error{error_class::bad_request, "a Redis stream upstream needs stream keys, a group and a consumer", {}, 0};
  if (plan->upstream == stream_plan::kind::kafka && (plan->url.empty() || plan->channels.empty()))
    return fetch_error{error_class::bad_request, "a Kafka upstream needs brokers and topics", {}, 0};
  return *plan;
}

call_result plugin_instance::parse_message(const feed_request& feed, const upstream_message& msg) {
  call_result r;
  parse_message(feed, msg, r);
  return r;
}

void plugin_instance::parse_message(const feed_request& feed, const upstream_message& msg, call_result& into) {
  std::lock_guard lk(mu_);
  call_output c(into);
  abi_feed f(feed, subjects_);
  trib_stream_message m{};
  m.struct_size = sizeof m;
  m.channel = abi(msg.channel);
  m.payload = abi(msg.payload);
  m.received_ms = msg.received_ms;
  m.key = abi(msg.key);
  headers_.clear();
  for (size_t i = 0; i < msg.header_count; ++i) headers_.push_back({abi(msg.headers[i].first), abi(msg.headers[i].second)});
  m.headers = headers_.data();
  m.header_count = headers_.size();
  auto& r = finish(c, backend_->parse_message(f.req, m, c), "parse_message");
  for (size_t i = r.records.size(); i-- > 0;) {  // erase_if, but keeping the storage of what it drops
    if (r.records[i].kind == feed.kind) continue;
    r.problems.push_back("record " + r.records[i].topic() + " is not of the feed's kind; dropped");
    std::rotate(r.records.begin() + static_cast<std::ptrdiff_t>(i), r.records.begin() + static_cast<std::ptrdiff_t>(i) + 1, r.records.end());
    r.drop_last_record();
  }
}

call_result plugin_instance::parse(const feed_request& feed, const http_request& request, const http_response& response) {
  std::lock_guard lk(mu_);
  call_output c;
  abi_feed f(feed);
  auto q = abi_kv(request.query), h = abi_kv(request.headers), rh = abi_kv(response.headers);
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
  auto r = std::move(finish(c, backend_->parse(f.req, req, resp, c), "parse"));
  // A record for a subject the feed did not ask for is a plugin bug.
  std::erase_if(r.records, [&](const record& x) {
    bool asked = x.kind == feed.kind &&
                 std::any_of(feed.subjects.begin(), feed.subjects.end(), [&](auto& s) { return s.first == x.subject; });
    if (!asked) r.problems.push_back("record " + x.topic() + " was not asked for; dropped");
    return !asked;
  });
  return r;
}

}  // namespace tributary
