#include "plugin/wire_json.hpp"

#include "plugin/backend.hpp"

namespace tributary::wire {

using json = nlohmann::json;

namespace {

constexpr std::string_view status_names[] = {"ok", "retryable", "rate_limited", "auth", "bad_request", "bad_data", "internal"};
constexpr std::string_view upstream_names[] = {"", "websocket", "redis_pubsub", "redis_stream", "kafka"};

std::string_view sv(trib_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }
std::string str(trib_str s) { return std::string(sv(s)); }
trib_str abi(const std::string& s) { return trib_str{s.data(), s.size()}; }

json kv_json(const trib_kv* kv, size_t n) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(json::array({sv(kv[i].key), sv(kv[i].value)}));
  return a;
}

json strings_json(const trib_str* s, size_t n) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(sv(s[i]));
  return a;
}

// A member that must be a string when present; "" when absent.
std::optional<std::string> read_str(const json& j, const char* key, trib_str& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out = {"", 0}, std::nullopt;
  if (!it->is_string()) return where + "." + key + " must be a string";
  out = abi(it->get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<std::string> read_kv(const json& j, const char* key, std::vector<trib_kv>& out, const std::string& where) {
  out.clear();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return where + "." + key + " must be an array of [name, value] pairs";
  for (auto& p : *it) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
      return where + "." + key + " must be an array of [name, value] pairs of strings";
    out.push_back({abi(p[0].get_ref<const std::string&>()), abi(p[1].get_ref<const std::string&>())});
  }
  return std::nullopt;
}

int64_t integer(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
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
  h.weight = w != q.end() && w->is_number() && w->get<double>() > 0 ? w->get<double>() : 1;
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

json record_json(const trib_record& r) {
  json data;
  if (TRIB_HAS_MEMBER(&r, trib_record, data_json) && r.data_json.len > 0) {
    data = json::parse(sv(r.data_json), nullptr, false);
    if (data.is_discarded()) data = str(r.data_json);  // the host says it is not an object
  } else {
    data = json::object();
    for (size_t i = 0; i < r.field_count; ++i) {
      const trib_field& f = r.fields[i];
      auto& v = data[str(f.name)];
      if (f.type == TRIB_FIELD_NUMBER) v = f.number;
      else if (f.type == TRIB_FIELD_STRING) v = sv(f.string);
      else if (f.type == TRIB_FIELD_BOOL) v = f.boolean != 0;
    }
  }
  return {{"kind", sv(r.kind)}, {"subject", sv(r.subject)}, {"native", sv(r.native)}, {"ts", r.ts_ms}, {"data", std::move(data)}};
}

json error_json(const trib_error& e) {
  return {{"class", status_name(e.status)}, {"message", sv(e.message)}, {"subject", sv(e.subject)}, {"retry_after_ms", e.retry_after_ms}};
}

json stream_json(const trib_stream_plan& p) {
  json j{{"upstream", p.upstream >= 1 && p.upstream <= 4 ? upstream_names[p.upstream] : "unknown"},
         {"url", sv(p.url)},
         {"channels", strings_json(p.channels, p.channel_count)},
         {"patterns", strings_json(p.patterns, p.pattern_count)},
         {"group", sv(p.group)},
         {"consumer", sv(p.consumer)},
         {"expected_interval_ms", p.expected_interval_ms}};
  if (TRIB_HAS_MEMBER(&p, trib_stream_plan, max_connection_ms)) {
    j["subscribe_frames"] = strings_json(p.subscribe_frames, p.subscribe_frame_count);
    j["max_connection_ms"] = p.max_connection_ms;
  }
  if (TRIB_HAS_MEMBER(&p, trib_stream_plan, client_setting_count)) {
    j["start"] = p.start == TRIB_START_EARLIEST ? "earliest" : "latest";
    j["client_settings"] = kv_json(p.client_settings, p.client_setting_count);
  }
  return j;
}

std::optional<std::string> abi_call::read_feed(const json& src) {
  auto it = src.find("feed");
  if (it == src.end() || !it->is_object()) return std::string("feed must be an object");
  const json& f = *it;
  feed.struct_size = sizeof feed;
  if (auto why = read_str(f, "feed", feed.feed, "feed")) return why;
  if (auto why = read_str(f, "kind", feed.kind, "feed")) return why;
  subjects.clear();
  if (auto s = f.find("subjects"); s != f.end() && s->is_array())
    for (auto& sub : *s) {
      trib_subject t{};
      if (!sub.is_object()) return std::string("feed.subjects must hold objects {canonical, native}");
      if (auto why = read_str(sub, "canonical", t.canonical, "feed.subjects[]")) return why;
      if (auto why = read_str(sub, "native", t.native, "feed.subjects[]")) return why;
      subjects.push_back(t);
    }
  feed.subjects = subjects.data();
  feed.subject_count = subjects.size();
  return std::nullopt;
}

std::optional<std::string> abi_call::read_request(const json& src) {
  auto it = src.find("request");
  if (it == src.end() || !it->is_object()) return std::string("request must be an object");
  const json& q = *it;
  request.struct_size = sizeof request;
  for (auto [key, field] : {std::pair{"method", &request.method}, {"base_url", &request.base_url}, {"path", &request.path},
                            {"body", &request.body}, {"tag", &request.tag}})
    if (auto why = read_str(q, key, *field, "request")) return why;
  if (auto why = read_kv(q, "query", query, "request")) return why;
  if (auto why = read_kv(q, "headers", headers, "request")) return why;
  request.query = query.data();
  request.query_count = query.size();
  request.headers = headers.data();
  request.header_count = headers.size();
  auto w = q.find("weight");
  request.weight = w != q.end() && w->is_number() ? w->get<double>() : 1;
  return std::nullopt;
}

std::optional<std::string> abi_call::read_response(const json& src) {
  auto it = src.find("response");
  if (it == src.end() || !it->is_object()) return std::string("response must be an object");
  const json& r = *it;
  response.struct_size = sizeof response;
  response.status = static_cast<int32_t>(integer(r, "status"));
  response.received_ms = integer(r, "received_ms");
  if (auto why = read_str(r, "body", response.body, "response")) return why;
  if (auto why = read_kv(r, "headers", response_headers, "response")) return why;
  response.headers = response_headers.data();
  response.header_count = response_headers.size();
  return std::nullopt;
}

std::optional<std::string> abi_call::read_message(const json& src) {
  auto it = src.find("message");
  if (it == src.end() || !it->is_object()) return std::string("message must be an object");
  const json& m = *it;
  message.struct_size = sizeof message;
  for (auto [key, field] : {std::pair{"channel", &message.channel}, {"payload", &message.payload}, {"key", &message.key}})
    if (auto why = read_str(m, key, *field, "message")) return why;
  if (auto why = read_kv(m, "headers", headers, "message")) return why;
  message.headers = headers.data();
  message.header_count = headers.size();
  message.received_ms = integer(m, "received_ms");
  return std::nullopt;
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
