#pragma once
// Pushed JSON messages as records, shared by the redis_pubsub, redis_streams and kafka plugins:
// the subject comes from a template over the message (subject_template.hpp), or in the short
// form from one member (`subject_field`) with an optional `subject_prefix`; the data is the
// message as it is, or only the members named in `keep`.
#include <tributary/sdk.hpp>
#include <tributary/subject_template.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace tributary::plugin_util {

// The settings keys of a push source's mapping, for its settings_schema's "properties".
inline constexpr const char* mapping_schema_properties = R"(
      "subject": {"type": "string"},
      "subject_field": {"type": "string"},
      "subject_prefix": {"type": "string"},
      "keep": {"type": "array", "items": {"type": "string"}})";

// A setting given as one value or a list ("channel" / "channels", "topic" / "topics"): both, in order.
inline std::vector<std::string> one_or_many(const nlohmann::json& s, const char* one, const char* many) {
  std::vector<std::string> out;
  if (s.contains(one)) out.push_back(s[one].get<std::string>());
  if (s.contains(many))
    for (auto& x : s[many]) out.push_back(x.get<std::string>());
  return out;
}

class event_mapping {
 public:
  static constexpr size_t max_bytes = 64 * 1024;

  explicit event_mapping(const nlohmann::json& settings) : subject_(template_of(settings)) {
    if (auto k = settings.find("keep"); k != settings.end())
      for (auto& name : *k) keep_.emplace_back(name.get<std::string>(), name.dump());
  }

  // One message (a JSON object) as one record of the feed's kind; throws bad_data when it is
  // not fit. Subjects the feed does not name are skipped (a feed of subjects = ["*"] takes all).
  // The message is read with simdjson (one parser per thread, no DOM of its own) and its data
  // handed to the host as the text it came as, which the host writes canonically.
  void emit(const sdk::feed_request& feed, const sdk::stream_message& m, const sdk::output& out) const {
    using sdk::error_class;
    if (m.payload.size() > max_bytes)
      throw sdk::plugin_error(error_class::bad_data, "message of " + std::to_string(m.payload.size()) + " bytes is over 64 KiB");
    simdjson::dom::element body = parse(m.payload);
    thread_local std::string subject, data;  // reused: no allocation per message once grown
    subject_.render_into(body, message_context{m.channel, m.key, &m}, subject);
    bool wanted = feed.subjects.empty() || std::any_of(feed.subjects.begin(), feed.subjects.end(), [&](auto& s) {
      return s.canonical == "*" || s.canonical == subject;
    });
    if (!wanted) return;
    std::string_view text = m.payload;
    if (!keep_.empty()) text = kept_into(body, data);
    out.record(sdk::record_view{feed.kind, subject, m.channel, text});
  }

 private:
  static simdjson::dom::parser& parser() {
    thread_local simdjson::dom::parser p;
    return p;
  }

  // The message as an object; valid until this thread parses again.
  static simdjson::dom::element parse(std::string_view text) {
    simdjson::dom::element body;
    auto error = parser().parse(text.data(), text.size()).get(body);
    if (error == simdjson::NUMBER_ERROR) {
      // An integer past 64 bits (or a number simdjson does not take): read as JSON's usual
      // double, as a DOM would, and the message read again in that form.
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_discarded()) {
        thread_local std::string again;
        again = j.dump();
        error = parser().parse(again).get(body);
      }
    }
    if (error || !body.is_object()) throw sdk::plugin_error(sdk::error_class::bad_data, "message is not a JSON object");
    return body;
  }

  // The members named in `keep`, as one object's text in `data` (replaced).
  std::string_view kept_into(simdjson::dom::element body, std::string& data) const {
    data.assign(1, '{');
    for (const auto& [name, quoted] : keep_) {
      simdjson::dom::element v;
      if (!last_member(body, name, v)) continue;
      if (data.size() > 1) data += ',';
      data += quoted;
      data += ':';
      data += simdjson::minify(v);
    }
    data += '}';
    return data;
  }

  static subject_template template_of(const nlohmann::json& s) {
    if (s.contains("subject")) {
      if (s.contains("subject_field") || s.contains("subject_prefix"))
        throw sdk::plugin_error(sdk::error_class::bad_request, "set either subject (a template) or subject_field, not both");
      return subject_template(s["subject"].get<std::string>());
    }
    if (!s.contains("subject_field")) throw sdk::plugin_error(sdk::error_class::bad_request, "set subject (a template) or subject_field");
    return subject_template::of_field(s.value("subject_field", ""), s.value("subject_prefix", ""));
  }

  subject_template subject_;
  std::vector<std::pair<std::string, std::string>> keep_;  // a member's name, and as JSON text
};

// Base of plugins that only push: subjects are taken as they are, and polling is refused. Any
// kind is mapped: a message's members become the data of a record of the feed's kind, and the
// host decides which kinds an instance serves (its manifest's, and those its config declares
// with `kinds`), and holds a declared kind's records to its fields.
class push_only : public sdk::plugin {
 public:
  explicit push_only(std::string name) : name_(std::move(name)) {}
  sdk::result<std::string> map_subject(std::string_view, std::string_view subject) override { return std::string(subject); }
  void plan(const sdk::feed_request&, const sdk::output&) override {
    throw sdk::plugin_error(sdk::error_class::bad_request, name_ + " pushes: use mode = \"stream\" on its feed");
  }
  void parse(const sdk::feed_request&, const sdk::http_request&, const sdk::http_response&, const sdk::output&) override {}

 private:
  std::string name_;
};

}  // namespace tributary::plugin_util
