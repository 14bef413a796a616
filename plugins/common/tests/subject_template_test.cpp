// Subject templates of the push sources (subject_template.hpp) and the mapping that uses them.
#include <gtest/gtest.h>

#include <tributary/event_mapping.hpp>
#include <tributary/subject_template.hpp>

namespace tributary::plugin_util {
namespace {

using nlohmann::json;

// A message's body as a template reads it; valid until the next call.
simdjson::dom::element parsed(const json& j) {
  static simdjson::dom::parser parser;
  return parser.parse(j.dump()).value();
}

sdk::error_class class_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdk::plugin_error& e) {
    return e.get().cls;
  }
  return sdk::error_class::internal;  // did not throw
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdk::plugin_error& e) {
    return e.get().message;
  }
  return "";
}

TEST(SubjectTemplate, FillsMembersNestedMembersKeyTopicAndHeaders) {
  sdk::stream_message m{"orders", "{}", 0, "k-9", {{"tenant", "acme"}}};
  message_context ctx{"orders", "k-9", &m};
  auto body = parsed(json{{"userId", 42}, {"a", {{"b", "x"}}}, {"s", "abc"}});
  EXPECT_EQ(subject_template("user.{userId}.orders").render(body, ctx), "user.42.orders");
  EXPECT_EQ(subject_template("{a.b}:{s}").render(body, ctx), "x:abc");
  EXPECT_EQ(subject_template("{topic}.{key}.{header:tenant}").render(body, ctx), "orders.k-9.acme");
  EXPECT_EQ(subject_template::of_field("s", "user.").render(body, ctx), "user.abc");
}

TEST(SubjectTemplate, APlaceholderWithNoValueRejectsTheMessage) {
  sdk::stream_message m{"orders", "{}", 0, "", {}};
  message_context ctx{"orders", "", &m};
  auto body = parsed(json{{"userId", 1.5}, {"e", ""}, {"o", {{"x", 1}}}});
  for (const char* t : {"{missing}", "{key}", "{header:tenant}", "{o.y}", "{userId}", "{e}", "{o}"})
    EXPECT_EQ(class_of([&] { subject_template(t).render(body, ctx); }), sdk::error_class::bad_data) << t;
  EXPECT_NE(message_of([&] { subject_template("u.{missing}").render(body, ctx); }).find("no value for {missing}"), std::string::npos);
}

TEST(SubjectTemplate, TheResultMustBeASubject) {
  message_context ctx{"a b", "", nullptr};
  EXPECT_EQ(class_of([&] { subject_template("u.{topic}").render(parsed(json::object()), ctx); }), sdk::error_class::bad_data);
  EXPECT_EQ(class_of([&] { subject_template("u v.{s}").render(parsed(json{{"s", "a"}}), ctx); }), sdk::error_class::bad_data);
  EXPECT_EQ(class_of([&] { subject_template("{s}").render(parsed(json{{"s", std::string(513, 'a')}}), ctx); }), sdk::error_class::bad_data);
  EXPECT_EQ(class_of([&] { subject_template("{s}").render(parsed(json{{"s", std::string(171, '@')}}), ctx); }), sdk::error_class::bad_data);
  EXPECT_EQ(subject_template("{s}").render(parsed(json{{"s", std::string(512, 'a')}}), ctx).size(), 512u);
}

// A value from the message is one segment, encoded as the server encodes a token's user: it
// cannot add segments, and the same id gives the same segment on both sides.
TEST(SubjectTemplate, AValueIsOneSegmentInTheTopicSegmentEncoding) {
  sdk::stream_message m{"orders", "{}", 0, "auth0|64f1c2", {{"tenant", "a.b"}}};
  message_context ctx{"orders", m.key, &m};
  auto body = parsed(json{{"userId", "alice@example.com"}, {"evil", "bob.orders"}, {"path", "x/../y"}});
  EXPECT_EQ(subject_template("user.{userId}.orders").render(body, ctx), "user.alice:40example:2Ecom.orders");
  EXPECT_EQ(subject_template("user.{userId}.orders").render(body, ctx), "user." + encode_topic_segment("alice@example.com") + ".orders");
  EXPECT_EQ(subject_template("user.{evil}").render(body, ctx), "user.bob:2Eorders");
  EXPECT_EQ(subject_template("{path}").render(body, ctx), "x:2F:2E:2E:2Fy");
  EXPECT_EQ(subject_template("user.{key}.{header:tenant}").render(body, ctx), "user.auth0:7C64f1c2.a:2Eb");
  EXPECT_EQ(subject_template::of_field("userId", "user.").render(body, ctx), "user.alice:40example:2Ecom");
}

TEST(SubjectTemplate, ABadTemplateIsAConfigError) {
  for (const char* t : {"", "user.{", "user.}", "{}", "{a..b}", "{header:}", "{a{b}", "a{{b}}"})
    EXPECT_EQ(class_of([&] { subject_template{t}; }), sdk::error_class::bad_request) << t;
}

TEST(EventMapping, KeepsOnlyTheNamedMembers) {
  event_mapping m(json{{"subject", "user.{userId}"}, {"keep", {"status", "orderId"}}});
  std::vector<std::string> data;
  trib_output out{};
  out.struct_size = sizeof out;
  out.ctx = &data;
  out.emit_record = [](void* ctx, const trib_record* r) { static_cast<std::vector<std::string>*>(ctx)->emplace_back(r->data_json.ptr, r->data_json.len); };
  sdk::feed_request feed;
  feed.kind = "event";
  std::string payload = R"({"userId":"u1","status":"filled","orderId":7,"secret":"x"})";
  m.emit(feed, sdk::stream_message{"orders", payload, 0, "", {}}, sdk::output(&out));
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(json::parse(data[0]), (json{{"status", "filled"}, {"orderId", 7}}));
  EXPECT_EQ(class_of([] { event_mapping(json{{"subject", "a"}, {"subject_field", "b"}}); }), sdk::error_class::bad_request);
  EXPECT_EQ(class_of([] { event_mapping(json::object()); }), sdk::error_class::bad_request);
}

// What a mapping made of one message: (subject, data) per record.
std::vector<std::pair<std::string, std::string>> mapped(const event_mapping& m, std::string_view payload) {
  std::vector<std::pair<std::string, std::string>> made;
  trib_output out{};
  out.struct_size = sizeof out;
  out.ctx = &made;
  out.emit_record = [](void* ctx, const trib_record* r) {
    static_cast<std::vector<std::pair<std::string, std::string>>*>(ctx)->emplace_back(std::string(r->subject.ptr, r->subject.len),
                                                                                       std::string(r->data_json.ptr, r->data_json.len));
  };
  sdk::feed_request feed;
  feed.kind = "event";
  m.emit(feed, sdk::stream_message{"orders", payload, 0, "", {}}, sdk::output(&out));
  return made;
}

TEST(EventMapping, ReadsTheMessageAsADomWouldAndRefusesWhatIsNotAnObject) {
  event_mapping m(json{{"subject", "user.{user}"}, {"keep", {"user", "n"}}});
  // A name given twice: the last counts, for the subject as for the data (and the host's copy).
  auto made = mapped(m, R"({"user":"alice","n":1,"user":"bob","n":2})");
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].first, "user.bob");
  EXPECT_EQ(json::parse(made[0].second), (json{{"user", "bob"}, {"n", 2}}));
  // An integer past 64 bits is read as a double, as before.
  made = mapped(m, R"({"user":"carol","n":123456789012345678901234567890})");
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].first, "user.carol");
  EXPECT_DOUBLE_EQ(json::parse(made[0].second)["n"].get<double>(), 1.2345678901234568e29);
  for (std::string bad : std::vector<std::string>{"[1]", "{\"user\":", "{\"user\":\"\xff\"}", "{\"n\":1e400}", "{\"a\":" + std::string(2000, '[') + std::string(2000, ']') + "}"})
    EXPECT_EQ(message_of([&] { mapped(m, bad); }), "message is not a JSON object") << bad;
  // The parser is fine after all of that.
  EXPECT_EQ(mapped(m, R"({"user":"dave"})").at(0).first, "user.dave");
}

}  // namespace
}  // namespace tributary::plugin_util
