#pragma once
// Pushed JSON messages as `event` records, shared by the redis_pubsub and redis_streams plugins:
// the subject is a field of the message (with an optional prefix), the data the message as is.
#include <tributary/sdk.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tributary::plugin_util {

struct event_mapping {
  std::string subject_field;   // required
  std::string subject_prefix;  // prepended to the field's value

  static constexpr size_t max_bytes = 64 * 1024;

  explicit event_mapping(const nlohmann::json& settings)
      : subject_field(settings.value("subject_field", "")), subject_prefix(settings.value("subject_prefix", "")) {
    if (subject_field.empty())
      throw sdk::plugin_error(sdk::error_class::bad_request, "subject_field is empty");
  }

  // One message (a JSON object) as one record of the feed's kind; throws bad_data when it is
  // not fit. Subjects the feed does not name are skipped (a feed of subjects = ["*"] takes all).
  void emit(const sdk::feed_request& feed, std::string_view channel, std::string_view text, const sdk::output& out) const {
    using sdk::error_class;
    if (text.size() > max_bytes) throw sdk::plugin_error(error_class::bad_data, "message over 64 KiB");
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) throw sdk::plugin_error(error_class::bad_data, "message is not a JSON object");
    auto f = j.find(subject_field);
    if (f == j.end()) throw sdk::plugin_error(error_class::bad_data, "message has no '" + subject_field + "'");
    std::string subject;
    if (f->is_string()) subject = f->get<std::string>();
    else if (f->is_number_integer()) subject = std::to_string(f->get<int64_t>());
    else throw sdk::plugin_error(error_class::bad_data, "'" + subject_field + "' is not a string or an integer");
    subject = subject_prefix + subject;
    auto ok = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'; };
    if (subject.empty() || subject.size() > 128 || !std::all_of(subject.begin(), subject.end(), ok))
      throw sdk::plugin_error(error_class::bad_data, "'" + subject_field + "' is not a subject (1-128 of A-Z a-z 0-9 . _ : -)");
    bool wanted = feed.subjects.empty() || std::any_of(feed.subjects.begin(), feed.subjects.end(), [&](auto& s) {
      return s.canonical == "*" || s.canonical == subject;
    });
    if (!wanted) return;
    out.record(sdk::record_builder(feed.kind, subject, std::string(channel)).data_json(std::string(text)));
  }
};

// Base of plugins that only push: subjects are taken as they are, and polling is refused.
class push_only : public sdk::plugin {
 public:
  push_only(std::string name, std::vector<std::string> kinds) : name_(std::move(name)), kinds_(std::move(kinds)) {}
  sdk::result<std::string> map_subject(std::string_view kind, std::string_view subject) override {
    if (std::find(kinds_.begin(), kinds_.end(), kind) == kinds_.end())
      return sdk::error{sdk::error_class::bad_request, name_ + " does not serve kind '" + std::string(kind) + "'", std::string(subject)};
    return std::string(subject);
  }
  void plan(const sdk::feed_request&, const sdk::output&) override {
    throw sdk::plugin_error(sdk::error_class::bad_request, name_ + " pushes: use mode = \"stream\" on its feed");
  }
  void parse(const sdk::feed_request&, const sdk::http_request&, const sdk::http_response&, const sdk::output&) override {}

 private:
  std::string name_;
  std::vector<std::string> kinds_;
};

}  // namespace tributary::plugin_util
