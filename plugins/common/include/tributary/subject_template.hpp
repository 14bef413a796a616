#pragma once
// Subject templates for push sources (redis_pubsub, redis_streams, kafka):
//   "user.{userId}.orders"   {field} or {a.b}: a member of the message, a string or an integer
//                            {key}: the Kafka message key
//                            {topic}: the Kafka topic, Redis channel or stream key
//                            {header:NAME}: a Kafka header
// A value taken from the message ({field}, {key}, {header:NAME}) is one segment of the subject,
// in the topic-segment encoding (tributary/topic_segment.hpp): "alice@example.com" gives
// "alice:40example:2Ecom", the segment the server derives from a token whose user is
// alice@example.com, and a value holding dots cannot add segments ("bob.orders" stays one).
// {topic} is written as it is (the operator names channels and topics).
// A placeholder with no value rejects the message (bad_data), as does a result that is not a
// subject (1-512 of A-Z a-z 0-9 . _ : -). A template has no braces but its placeholders'.
#include <tributary/sdk.hpp>
#include <tributary/topic_segment.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <simdjson.h>

namespace tributary::plugin_util {

// What a message offers a template besides its JSON members.
struct message_context {
  std::string_view topic;  // Kafka topic, Redis channel or stream key
  std::string_view key;    // Kafka message key
  const sdk::stream_message* message = nullptr;  // for {header:NAME}
};

// The member `name` of the object `obj` into `out`: the last one when the name is there twice
// (as a DOM keeps it, and as the host keeps the message's data); false when there is none.
inline bool last_member(simdjson::dom::element obj, std::string_view name, simdjson::dom::element& out) {
  simdjson::dom::object o;
  if (obj.get_object().get(o)) return false;
  bool found = false;
  for (auto [key, value] : o)
    if (key == name) {
      out = value;
      found = true;
    }
  return found;
}

class subject_template {
 public:
  // Throws sdk::plugin_error(bad_request) naming the fault when `text` is not a template.
  explicit subject_template(std::string_view text) : text_(text) { compile(text); }

  // A literal prefix and one member: the short form `subject_field` + `subject_prefix`.
  static subject_template of_field(const std::string& field, const std::string& prefix) {
    if (field.empty()) throw sdk::plugin_error(sdk::error_class::bad_request, "subject_field is empty");
    subject_template t;
    t.text_ = prefix + "{" + field + "}";
    if (!prefix.empty()) t.parts_.push_back({part::literal, prefix, {}});
    t.parts_.push_back({part::member, field, split_path(field)});
    return t;
  }

  const std::string& text() const { return text_; }
  static constexpr size_t max_subject_bytes = 512;

  // The subject for one message; throws sdk::plugin_error(bad_data) saying which placeholder
  // had no value, or why the result is not a subject.
  std::string render(simdjson::dom::element body, const message_context& ctx) const {
    std::string out;
    render_into(body, ctx, out);
    return out;
  }
  // The same into `out` (replaced): no allocation once `out` has the room.
  void render_into(simdjson::dom::element body, const message_context& ctx, std::string& out) const {
    out.clear();
    for (const auto& p : parts_) append(out, p, body, ctx);
    auto ok = [](unsigned char c) { return is_subject_char(c); };
    if (out.empty() || out.size() > max_subject_bytes || !std::all_of(out.begin(), out.end(), ok))
      throw sdk::plugin_error(sdk::error_class::bad_data,
                              "subject template '" + text_ + "' gives '" + clip(out) + "', not a subject (1-512 of A-Z a-z 0-9 . _ : -)");
  }

 private:
  struct part {
    enum kind { literal, member, key, topic, header } k;
    std::string text;               // the literal, the member's name as written, or the header's name
    std::vector<std::string> path;  // member: a.b -> {"a", "b"}
  };

  subject_template() = default;

  static std::vector<std::string> split_path(const std::string& name) {
    std::vector<std::string> path;
    size_t from = 0;
    for (;;) {
      auto dot = name.find('.', from);
      path.push_back(name.substr(from, dot - from));
      if (path.back().empty())
        throw sdk::plugin_error(sdk::error_class::bad_request, "subject template: '{" + name + "}' has an empty member name");
      if (dot == std::string::npos) return path;
      from = dot + 1;
    }
  }

  void compile(std::string_view t) {
    std::string lit;
    for (size_t i = 0; i < t.size(); ++i) {
      char c = t[i];
      if (c == '}') throw bad("a '}' with no '{' at offset " + std::to_string(i));
      if (c != '{') {
        lit += c;
        continue;
      }
      auto end = t.find('}', i);
      if (end == std::string_view::npos) throw bad("'{' at offset " + std::to_string(i) + " is not closed");
      if (!lit.empty()) parts_.push_back({part::literal, std::move(lit), {}});
      lit.clear();
      parts_.push_back(placeholder(std::string(t.substr(i + 1, end - i - 1))));
      i = end;
    }
    if (!lit.empty()) parts_.push_back({part::literal, std::move(lit), {}});
    if (parts_.empty()) throw bad("it is empty");
  }

  sdk::plugin_error bad(const std::string& why) const {
    return sdk::plugin_error(sdk::error_class::bad_request, "subject template '" + text_ + "': " + why);
  }

  part placeholder(const std::string& name) const {
    if (name.empty()) throw bad("'{}' names nothing");
    if (name.find('{') != std::string::npos) throw bad("'{" + name + "' opens a placeholder inside another");
    if (name == "key") return {part::key, name, {}};
    if (name == "topic") return {part::topic, name, {}};
    if (name.rfind("header:", 0) == 0) {
      if (name.size() == 7) throw bad("'{header:}' names no header");
      return {part::header, name.substr(7), {}};
    }
    return {part::member, name, split_path(name)};
  }

  static std::string clip(std::string_view s) { return std::string(s.substr(0, 64)) + (s.size() > 64 ? "..." : ""); }

  static void missing(const part& p) {
    std::string what = p.k == part::header ? "header:" + p.text : p.text;
    throw sdk::plugin_error(sdk::error_class::bad_data, "the message has no value for {" + what + "}");
  }

  static void append(std::string& out, const part& p, simdjson::dom::element body, const message_context& ctx) {
    switch (p.k) {
      case part::literal: out += p.text; return;
      case part::topic:
        if (ctx.topic.empty()) missing(p);
        out += ctx.topic;
        return;
      case part::key:
        if (ctx.key.empty()) missing(p);
        encode_topic_segment(ctx.key, out);
        return;
      case part::header: {
        auto v = ctx.message ? ctx.message->header(p.text) : std::nullopt;
        if (!v || v->empty()) missing(p);
        encode_topic_segment(*v, out);
        return;
      }
      case part::member: append_member(out, p, body); return;
    }
  }

  static void append_member(std::string& out, const part& p, simdjson::dom::element body) {
    simdjson::dom::element at = body;
    for (const auto& name : p.path)
      if (!last_member(at, name, at)) missing(p);
    std::string_view text;
    int64_t i = 0;
    uint64_t u = 0;
    if (!at.get_string().get(text)) {
      if (text.empty()) missing(p);
      encode_topic_segment(text, out);
    } else if (!at.get_int64().get(i)) append_integer(out, i);
    else if (!at.get_uint64().get(u)) append_integer(out, u);
    else throw sdk::plugin_error(sdk::error_class::bad_data, "{" + p.text + "} is not a string or an integer");
  }

  template <class Int>
  static void append_integer(std::string& out, Int v) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    out.append(buf, end);
  }

  std::string text_;
  std::vector<part> parts_;
};

}  // namespace tributary::plugin_util
