#include "plugin/wire_binary.hpp"

#include <cstring>

namespace tributary::wire {

namespace {

// ---------------------------------------------------------------- writing

struct writer {
  std::string& out;
  template <class T>
  void put(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(std::string_view s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    out.append(s.data(), s.size());
  }
  void str(trib_str s) { str(s.ptr ? std::string_view(s.ptr, s.len) : std::string_view()); }
  void kvs(const trib_kv* kv, size_t n) {
    put<uint32_t>(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) str(kv[i].key), str(kv[i].value);
  }
  void strs(const trib_str* s, size_t n) {
    put<uint32_t>(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) str(s[i]);
  }
  void feed(const trib_feed_request& f) {
    str(f.feed), str(f.kind);
    put<uint32_t>(static_cast<uint32_t>(f.subject_count));
    for (size_t i = 0; i < f.subject_count; ++i) str(f.subjects[i].canonical), str(f.subjects[i].native);
  }
  void request(const trib_http_request& q) {
    str(q.method), str(q.base_url), str(q.path);
    kvs(q.query, q.query_count);
    kvs(q.headers, q.header_count);
    str(q.body);
    put<double>(q.weight);
    str(q.tag);
  }
  void response(const trib_http_response& r) {
    put<int32_t>(r.status);
    kvs(r.headers, r.header_count);
    str(r.body);
    put<int64_t>(r.received_ms);
  }
  void message(const trib_stream_message& m) {
    str(m.channel), str(m.payload);
    put<int64_t>(m.received_ms);
    bool kafka = TRIB_HAS_MEMBER(&m, trib_stream_message, header_count);
    str(kafka ? m.key : trib_str{});
    kvs(kafka ? m.headers : nullptr, kafka ? m.header_count : 0);
  }
};

// ---------------------------------------------------------------- reading

// Bounds-checked reads from a frame; after the first failure every read fails.
struct reader {
  std::string_view in;
  size_t pos = 0;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    if (!ok || in.size() - pos < sizeof v) return ok = false, v;
    std::memcpy(&v, in.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  trib_str str() {
    auto n = get<uint32_t>();
    if (!ok || in.size() - pos < n) return ok = false, trib_str{};
    trib_str s{in.data() + pos, n};
    pos += n;
    return s;
  }
  // A count of items of at least `min_bytes` each that the rest of the frame can hold.
  uint32_t count(size_t min_bytes) {
    auto n = get<uint32_t>();
    if (ok && n > (in.size() - pos) / min_bytes) ok = false;
    return ok ? n : 0;
  }
  void kvs(std::vector<trib_kv>& out) {
    out.clear();
    for (uint32_t i = 0, n = count(8); i < n; ++i) {
      trib_str k = str(), v = str();
      out.push_back({k, v});
    }
  }
  void strs(std::vector<trib_str>& out) {
    out.clear();
    for (uint32_t i = 0, n = count(4); i < n; ++i) out.push_back(str());
  }
  void feed(trib_feed_request& f, std::vector<trib_subject>& subjects) {
    f.struct_size = sizeof f;
    f.feed = str(), f.kind = str();
    subjects.clear();
    for (uint32_t i = 0, n = count(8); i < n; ++i) {
      trib_str c = str(), nat = str();
      subjects.push_back({c, nat});
    }
    f.subjects = subjects.data();
    f.subject_count = subjects.size();
  }
  void request(trib_http_request& q, std::vector<trib_kv>& query, std::vector<trib_kv>& headers) {
    q.struct_size = sizeof q;
    q.method = str(), q.base_url = str(), q.path = str();
    kvs(query), kvs(headers);
    q.query = query.data(), q.query_count = query.size();
    q.headers = headers.data(), q.header_count = headers.size();
    q.body = str();
    q.weight = get<double>();
    q.tag = str();
  }
  void response(trib_http_response& r, std::vector<trib_kv>& headers) {
    r.struct_size = sizeof r;
    r.status = get<int32_t>();
    kvs(headers);
    r.headers = headers.data(), r.header_count = headers.size();
    r.body = str();
    r.received_ms = get<int64_t>();
  }
  void message(trib_stream_message& m, std::vector<trib_kv>& headers) {
    m.struct_size = sizeof m;
    m.channel = str(), m.payload = str();
    m.received_ms = get<int64_t>();
    m.key = str();
    kvs(headers);
    m.headers = headers.data(), m.header_count = headers.size();
  }
};

// Storage for replaying one item into a trib_output.
struct replay {
  std::vector<trib_kv> kv1, kv2;
  std::vector<trib_field> fields;
  std::vector<trib_str> s1, s2, s3;
};

void read_record(reader& r, replay& tmp, trib_record& rec) {
  rec = {};
  rec.struct_size = sizeof rec;
  rec.kind = r.str(), rec.subject = r.str(), rec.native = r.str();
  rec.ts_ms = r.get<int64_t>();
  if (r.get<uint8_t>()) {
    rec.data_json = r.str();
    return;
  }
  tmp.fields.clear();
  for (uint32_t i = 0, n = r.count(25); i < n; ++i) {
    trib_field f{};
    f.name = r.str();
    f.type = r.get<int32_t>();
    f.number = r.get<double>();
    f.string = r.str();
    f.boolean = r.get<int32_t>();
    tmp.fields.push_back(f);
  }
  rec.fields = tmp.fields.data();
  rec.field_count = tmp.fields.size();
}

void read_stream(reader& r, replay& tmp, trib_stream_plan& p) {
  p = {};
  p.struct_size = sizeof p;
  p.upstream = r.get<int32_t>();
  p.url = r.str();
  r.strs(tmp.s1), r.strs(tmp.s2);
  p.channels = tmp.s1.data(), p.channel_count = tmp.s1.size();
  p.patterns = tmp.s2.data(), p.pattern_count = tmp.s2.size();
  p.group = r.str(), p.consumer = r.str();
  p.expected_interval_ms = r.get<int64_t>();
  r.strs(tmp.s3);
  p.subscribe_frames = tmp.s3.data(), p.subscribe_frame_count = tmp.s3.size();
  p.max_connection_ms = r.get<int64_t>();
  p.start = r.get<int32_t>();
  r.kvs(tmp.kv1);
  p.client_settings = tmp.kv1.data(), p.client_setting_count = tmp.kv1.size();
}

std::string_view sv(trib_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

// Reads (and with `apply`, replays) every item of an answer frame.
bool read_items(reader& r, bool apply, const trib_output& out, const trib_host_api* host, answer_state& st) {
  replay tmp;
  while (r.ok && r.pos < r.in.size()) {
    auto it = static_cast<item>(r.get<uint8_t>());
    switch (it) {
      case item::result:
        st.status = r.get<int32_t>();
        st.done = r.ok;
        return r.ok && r.pos == r.in.size();
      case item::request: {
        trib_http_request q{};
        r.request(q, tmp.kv1, tmp.kv2);
        if (apply && r.ok) out.emit_request(out.ctx, &q);
        break;
      }
      case item::record: {
        trib_record rec{};
        read_record(r, tmp, rec);
        if (apply && r.ok) out.emit_record(out.ctx, &rec);
        break;
      }
      case item::error: {
        trib_error e{};
        e.struct_size = sizeof e;
        e.status = r.get<int32_t>();
        e.retry_after_ms = r.get<int64_t>();
        e.message = r.str(), e.subject = r.str();
        if (apply && r.ok) out.emit_error(out.ctx, &e);
        break;
      }
      case item::stream: {
        trib_stream_plan p{};
        read_stream(r, tmp, p);
        if (apply && r.ok) out.emit_stream(out.ctx, &p);
        break;
      }
      case item::native:
        if (auto s = r.str(); apply && r.ok) st.native = sv(s);
        break;
      case item::manifest:
        if (auto s = r.str(); apply && r.ok) st.manifest_json = sv(s);
        break;
      case item::log: {
        auto level = r.get<int32_t>();
        auto text = r.str();
        if (apply && r.ok && host) host->log(host->host_ctx, level, text);
        break;
      }
      case item::count: {
        auto name = r.str();
        auto v = r.get<double>();
        if (apply && r.ok && host) host->counter_add(host->host_ctx, name, v);
        break;
      }
      default: return false;
    }
  }
  return r.ok;
}

}  // namespace

void write_call(const call_args& c, std::string& out) {
  out.assign(1, binary_magic);
  writer w{out};
  w.put<uint8_t>(static_cast<uint8_t>(c.o));
  w.put<int64_t>(c.now);
  switch (c.o) {
    case op::create: w.str(c.a); break;
    case op::map_subject: w.str(c.a), w.str(c.b); break;
    case op::plan:
    case op::plan_stream: w.feed(*c.feed); break;
    case op::parse: w.feed(*c.feed), w.request(*c.request), w.response(*c.response); break;
    case op::parse_message: w.feed(*c.feed), w.message(*c.message); break;
    case op::manifest:
    case op::destroy: break;
  }
}

std::optional<std::string> read_call(std::string_view frame, read_call_result& r) {
  if (frame.empty() || frame.front() != binary_magic) return std::string("not a binary call");
  reader in{frame.substr(1)};
  auto& c = r.args;
  c.o = static_cast<op>(in.get<uint8_t>());
  c.now = in.get<int64_t>();
  switch (c.o) {
    case op::create: c.a = sv(in.str()); break;
    case op::map_subject: c.a = sv(in.str()), c.b = sv(in.str()); break;
    case op::plan:
    case op::plan_stream: in.feed(r.feed, r.subjects); break;
    case op::parse:
      in.feed(r.feed, r.subjects);
      in.request(r.request, r.query, r.headers);
      in.response(r.response, r.response_headers);
      break;
    case op::parse_message:
      in.feed(r.feed, r.subjects);
      in.message(r.message, r.message_headers);
      break;
    case op::manifest:
    case op::destroy: break;
    default: return "unknown call " + std::to_string(static_cast<int>(c.o));
  }
  if (!in.ok || in.pos != in.in.size()) return std::string("a truncated or overlong call");
  c.feed = &r.feed, c.request = &r.request, c.response = &r.response, c.message = &r.message;
  return std::nullopt;
}

void answer_writer::request(const trib_http_request& q) {
  writer w{buf_};
  w.put(item::request);
  w.request(q);
}

void answer_writer::record(const trib_record& r) {
  writer w{buf_};
  w.put(item::record);
  w.str(r.kind), w.str(r.subject), w.str(r.native);
  w.put<int64_t>(r.ts_ms);
  bool as_json = TRIB_HAS_MEMBER(&r, trib_record, data_json) && r.data_json.len > 0;
  w.put<uint8_t>(as_json);
  if (as_json) return w.str(r.data_json);
  w.put<uint32_t>(static_cast<uint32_t>(r.field_count));
  for (size_t i = 0; i < r.field_count; ++i) {
    const trib_field& f = r.fields[i];
    w.str(f.name);
    w.put<int32_t>(f.type);
    w.put<double>(f.number);
    w.str(f.type == TRIB_FIELD_STRING ? f.string : trib_str{});
    w.put<int32_t>(f.boolean);
  }
}

void answer_writer::error(const trib_error& e) {
  writer w{buf_};
  w.put(item::error);
  w.put<int32_t>(e.status);
  w.put<int64_t>(e.retry_after_ms);
  w.str(e.message), w.str(e.subject);
}

void answer_writer::stream(const trib_stream_plan& p) {
  writer w{buf_};
  w.put(item::stream);
  w.put<int32_t>(p.upstream);
  w.str(p.url);
  w.strs(p.channels, p.channel_count);
  w.strs(p.patterns, p.pattern_count);
  w.str(p.group), w.str(p.consumer);
  w.put<int64_t>(p.expected_interval_ms);
  bool v11 = TRIB_HAS_MEMBER(&p, trib_stream_plan, max_connection_ms);
  w.strs(v11 ? p.subscribe_frames : nullptr, v11 ? p.subscribe_frame_count : 0);
  w.put<int64_t>(v11 ? p.max_connection_ms : 0);
  bool v12 = TRIB_HAS_MEMBER(&p, trib_stream_plan, client_setting_count);
  w.put<int32_t>(v12 ? p.start : TRIB_START_LATEST);
  w.kvs(v12 ? p.client_settings : nullptr, v12 ? p.client_setting_count : 0);
}

void answer_writer::native(std::string_view s) {
  writer w{buf_};
  w.put(item::native);
  w.str(s);
}

void answer_writer::manifest(std::string_view json_text) {
  writer w{buf_};
  w.put(item::manifest);
  w.str(json_text);
}

const std::string& answer_writer::finish(int32_t status) {
  writer w{buf_};
  w.put(item::result);
  w.put<int32_t>(status);
  return buf_;
}

std::string answer_writer::log(int32_t level, std::string_view text) {
  std::string out(1, binary_magic);
  writer w{out};
  w.put(item::log);
  w.put<int32_t>(level);
  w.str(text);
  return out;
}

std::string answer_writer::count(std::string_view name, double value) {
  std::string out(1, binary_magic);
  writer w{out};
  w.put(item::count);
  w.str(name);
  w.put<double>(value);
  return out;
}

std::optional<std::string> read_answer(std::string_view frame, const trib_output& out, const trib_host_api* host, answer_state& st) {
  if (frame.empty() || frame.front() != binary_magic) return std::string("a message that is not the binary protocol");
  reader check{frame.substr(1)};
  answer_state probe;
  if (!read_items(check, false, out, host, probe)) return std::string("a truncated or malformed answer");
  reader apply{frame.substr(1)};
  read_items(apply, true, out, host, st);
  return std::nullopt;
}

}  // namespace tributary::wire
