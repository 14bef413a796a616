#include "record/canonical_json.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "record/json_text.hpp"

namespace tributary {

namespace dom = simdjson::dom;

namespace {

struct member {
  std::string_view key;
  dom::element value;
  uint32_t order;  // its place in the object: of two with one name, the later counts
};

struct writer {
  dom::parser parser;
  std::vector<member> members;  // a stack: each object sorts its own range

  void value(dom::element v, std::string& out);
  void object(dom::object o, std::string& out);
};

thread_local writer here;

// A string as nlohmann writes it (ensure_ascii off): the text is valid UTF-8 (simdjson checked).
void put_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the bytes copied as they are
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: out.append("\\u00").append(1, hex[c >> 4]).append(1, hex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void writer::object(dom::object o, std::string& out) {
  size_t from = members.size();
  uint32_t order = 0;
  for (auto [key, v] : o) members.push_back({key, v, order++});
  // In place (std::stable_sort would take a buffer from the heap): (name, order) is unique.
  std::sort(members.begin() + static_cast<std::ptrdiff_t>(from), members.end(), [](const member& a, const member& b) {
    int c = a.key.compare(b.key);
    return c < 0 || (c == 0 && a.order < b.order);
  });
  out.push_back('{');
  bool any = false;
  for (size_t i = from; i < members.size(); ++i) {
    if (i + 1 < members.size() && members[i + 1].key == members[i].key) continue;  // the last one counts
    if (std::exchange(any, true)) out.push_back(',');
    put_string(out, members[i].key);
    out.push_back(':');
    value(members[i].value, out);  // pushes and pops above `members.size()` only
  }
  out.push_back('}');
  members.erase(members.begin() + static_cast<std::ptrdiff_t>(from), members.end());
}

void writer::value(dom::element v, std::string& out) {
  switch (v.type()) {
    case dom::element_type::OBJECT: return object(dom::object(v), out);
    case dom::element_type::ARRAY: {
      out.push_back('[');
      bool any = false;
      for (dom::element x : dom::array(v)) {
        if (std::exchange(any, true)) out.push_back(',');
        value(x, out);
      }
      out.push_back(']');
      return;
    }
    case dom::element_type::STRING: return put_string(out, std::string_view(v));
    case dom::element_type::INT64: return put_json_integer(out, int64_t(v));
    case dom::element_type::UINT64: return put_json_integer(out, uint64_t(v));
    case dom::element_type::DOUBLE: return put_json_double(out, double(v));
    case dom::element_type::BOOL: out.append(bool(v) ? "true" : "false"); return;
    case dom::element_type::NULL_VALUE: out.append("null"); return;
  }
}

}  // namespace

canonical_status canonical_object(std::string_view text, std::string& out) {
  out.clear();
  dom::element root;
  if (here.parser.parse(text.data(), text.size(), true).get(root)) return canonical_status::unsupported;
  if (root.type() != dom::element_type::OBJECT) return canonical_status::not_object;
  here.object(dom::object(root), out);
  return canonical_status::ok;
}

}  // namespace tributary
