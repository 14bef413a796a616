#include "record/record_bytes.hpp"

#include <string>
#include <initializer_list>

#include <simdjson.h>

namespace tributary {

namespace od = simdjson::ondemand;

namespace {

struct reader {
  od::parser parser;
  std::string buffer;  // the bytes with simdjson's padding; grows to the largest record seen

  simdjson::padded_string_view pad(std::string_view json) {
    if (buffer.size() < json.size() + simdjson::SIMDJSON_PADDING) buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
    buffer.replace(0, json.size(), json);
    return simdjson::padded_string_view(buffer.data(), json.size(), buffer.size());
  }
};

thread_local reader here;

bool take(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out.assign(s);
  return true;
}

// One member of the object into `r`; false when it has the wrong type.
bool take_field(std::string_view key, od::value v, record& r, bool& schema) {
  if (key == "schema") {
    std::string_view s;
    schema = !v.get_string().get(s) && s == "tributary.v1";
    return true;
  }
  if (key == "kind") return take(v, r.kind);
  if (key == "subject") return take(v, r.subject);
  if (key == "source") return take(v, r.source);
  if (key == "feed") return take(v, r.feed);
  if (key == "native") return take(v, r.native);
  if (key == "ts") return !v.get_int64().get(r.ts);
  if (key == "received") return !v.get_int64().get(r.received);
  if (key == "seq") return !v.get_uint64().get(r.seq);
  if (key == "stale") return !v.get_bool().get(r.stale);
  return true;  // topic (derived), data (read when needed), anything newer
}

}  // namespace

bool read_record_header(std::string_view json, record& r) {
  od::document doc;
  if (here.parser.iterate(here.pad(json)).get(doc)) return false;
  od::object obj;
  if (doc.get_object().get(obj)) return false;
  for (auto* s : {&r.kind, &r.subject, &r.source, &r.feed, &r.native}) s->clear();
  r.ts = r.received = 0;
  r.seq = 0;
  r.stale = false;
  r.data = nullptr;
  bool schema = false, kind = false, subject = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return false;
    kind |= key == "kind";
    subject |= key == "subject";
    if (!take_field(key, v, r, schema)) return false;
  }
  return schema && kind && subject;
}

std::string_view record_data_text(std::string_view json, std::string_view member) {
  od::document doc;
  od::value data;
  if (here.parser.iterate(here.pad(json)).get(doc) || doc.find_field_unordered("data").get(data)) return {};
  if (!member.empty()) {
    od::value m;
    if (data.find_field_unordered(member).get(m)) return {};
    data = m;
  }
  // simdjson 3.0 has raw_json for objects and arrays; a scalar is its one token.
  std::string_view raw;
  od::json_type type;
  if (data.type().get(type)) return {};
  if (type == od::json_type::object) {
    od::object o;
    if (data.get_object().get(o) || o.raw_json().get(raw)) return {};
  } else if (type == od::json_type::array) {
    od::array a;
    if (data.get_array().get(a) || a.raw_json().get(raw)) return {};
  } else {
    raw = data.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) raw.remove_suffix(1);
  }
  return raw;
}

nlohmann::json read_record_data(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return nlohmann::json::object();
  auto it = j.find("data");
  return it == j.end() ? nlohmann::json::object() : std::move(*it);
}

}  // namespace tributary
