#include "plugin/wire_json.hpp"

#include "plugin/backend.hpp"

namespace tributary::wire {

using json = nlohmann::json;

namespace {

constexpr std::string_view status_names[] = {"ok", "retryable", "rate_limited", "auth", "bad_request", "bad_data", "internal"};

std::string_view sv(trib_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

json kv_json(const trib_kv* kv, size_t n) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(json::array({sv(kv[i].key), sv(kv[i].value)}));
  return a;
}




// An integer member; 0 when absent, not a number, or out of the range of int64_t.
int64_t integer(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) return it->get<uint64_t>() <= uint64_t(INT64_MAX) ? static_cast<int64_t>(it->get<uint64_t>()) : 0;
  double d = it->is_number_float() ? it->get<double>() : 0;
  return d > -9.2e18 && d < 9.2e18 ? static_cast<int64_t>(d) : 0;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

kv_list kv_of(const json& j, const char* key) {
  kv_list out;
  if (auto it = j.find(key); it != j.end() && it->is_array())
    for (auto& p : *it)
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) out.emplace_back(p[0], p[1]);
  return out;
}

std::vector<std::string> strings_of(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array())
    for (auto& s : *it)
      if (s.is_string()) out.push_back(s);
  return out;
}

std::optional<std::string> add_request(const json& q, call_output& out) {
  if (!q.is_object()) return "a request is not an object";
  http_request h;
  h.method = text(q, "method");
  if (h.method.empty()) h.method = "GET";
  h.base_url = text(q, "base_url");
  h.path = text(q, "path");
  h.query = kv_of(q, "query");
  h.headers = kv_of(q, "headers");
  h.body = text(q, "body");
  auto w = q.find("weight");
  h.weight = w != q.end() && w->is_number() ? request_weight(w->get<double>()) : 1;
  h.tag = text(q, "tag");
  out.add_request(std::move(h));
  return std::nullopt;
}

std::optional<std::string> add_record(const json& r, call_output& out) {
  if (!r.is_object()) return "a record is not an object";
  record x;
  x.kind = text(r, "kind");
  x.subject = text(r, "subject");
  x.native = text(r, "native");
  x.ts = integer(r, "ts");
  auto data = r.find("data");
  out.add_record(std::move(x), data != r.end() ? *data : json());
  return std::nullopt;
}

std::optional<std::string> add_error(const json& e, call_output& out) {
  if (!e.is_object()) return "an error is not an object";
  auto status = status_of(text(e, "class"));
  out.add_error({class_of_status(status.value_or(TRIB_ERR_INTERNAL)), text(e, "message"), text(e, "subject"), integer(e, "retry_after_ms")});
  return std::nullopt;
}

std::optional<std::string> set_stream(const json& p, call_output& out) {
  if (!p.is_object()) return "stream is not an object";
  stream_plan sp;
  std::string up = text(p, "upstream");
  sp.upstream = up == "websocket"      ? stream_plan::kind::websocket
                : up == "redis_pubsub" ? stream_plan::kind::redis_pubsub
                : up == "redis_stream" ? stream_plan::kind::redis_stream
                : up == "kafka"        ? stream_plan::kind::kafka
                                       : stream_plan::kind::unknown;
  sp.url = text(p, "url");
  sp.channels = strings_of(p, "channels");
  sp.patterns = strings_of(p, "patterns");
  sp.group = text(p, "group");
  sp.consumer = text(p, "consumer");
  sp.expected_interval_ms = std::max<int64_t>(0, integer(p, "expected_interval_ms"));
  sp.subscribe_frames = strings_of(p, "subscribe_frames");
  sp.max_connection_ms = std::max<int64_t>(0, integer(p, "max_connection_ms"));
  sp.start = text(p, "start") == "earliest" ? stream_plan::start_at::earliest : stream_plan::start_at::latest;
  sp.client_settings = kv_of(p, "client_settings");
  out.set_stream(std::move(sp));
  return std::nullopt;
}

// Each item of the array `key` through `add`.
template <class Add>
std::optional<std::string> each(const json& j, const char* key, Add add, call_output& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return std::string(key) + " must be an array";
  for (auto& item : *it)
    if (auto why = add(item, out)) return why;
  return std::nullopt;
}

}  // namespace

std::string_view status_name(int32_t status) {
  return status >= 0 && status <= TRIB_ERR_INTERNAL ? status_names[status] : "internal";
}

std::optional<int32_t> status_of(std::string_view name) {
  for (int32_t i = 0; i <= TRIB_ERR_INTERNAL; ++i)
    if (status_names[i] == name) return i;
  return std::nullopt;
}

json feed_json(const trib_feed_request& f) {
  json subjects = json::array();
  for (size_t i = 0; i < f.subject_count; ++i)
    subjects.push_back({{"canonical", sv(f.subjects[i].canonical)}, {"native", sv(f.subjects[i].native)}});
  return {{"feed", sv(f.feed)}, {"kind", sv(f.kind)}, {"subjects", std::move(subjects)}};
}

json request_json(const trib_http_request& r) {
  return {{"method", r.method.len ? sv(r.method) : std::string_view("GET")},
          {"base_url", sv(r.base_url)},
          {"path", sv(r.path)},
          {"query", kv_json(r.query, r.query_count)},
          {"headers", kv_json(r.headers, r.header_count)},
          {"body", sv(r.body)},
          {"weight", r.weight > 0 ? r.weight : 1},
          {"tag", sv(r.tag)}};
}

json response_json(const trib_http_response& r) {
  return {{"status", r.status}, {"headers", kv_json(r.headers, r.header_count)}, {"body", sv(r.body)}, {"received_ms", r.received_ms}};
}

json message_json(const trib_stream_message& m) {
  return {{"channel", sv(m.channel)},
          {"payload", sv(m.payload)},
          {"received_ms", m.received_ms},
          {"key", sv(m.key)},
          {"headers", kv_json(m.headers, m.header_count)}};
}

std::variant<answer, std::string> read_answer(const json& j, call_output& out) {
  answer a;
  auto result = j.find("result");
  if (result == j.end() || !result->is_string()) return std::string("the answer has no \"result\"");
  auto status = status_of(result->get_ref<const std::string&>());
  if (!status) return "unknown result '" + result->get<std::string>() + "'";
  a.status = *status;
  a.native = text(j, "native");
  if (auto why = each(j, "requests", add_request, out)) return *why;
  if (auto why = each(j, "records", add_record, out)) return *why;
  if (auto why = each(j, "errors", add_error, out)) return *why;
  if (auto s = j.find("stream"); s != j.end() && !s->is_null())
    if (auto why = set_stream(*s, out)) return *why;
  return a;
}

}  // namespace tributary::wire
