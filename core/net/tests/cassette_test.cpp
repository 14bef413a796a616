#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "../../../tests/support/temp_dir.hpp"
#include "net/transport.hpp"
#include "util/clock.hpp"
#include "util/redactor.hpp"

using namespace tributary;
using json = nlohmann::json;
using ::testing::HasSubstr;

namespace {

http_response call(http_transport& t, http_request r) {
  std::promise<http_response> p;
  t.send(std::move(r), [&](http_response resp) { p.set_value(std::move(resp)); });
  return p.get_future().get();
}

http_request get(std::string path, kv_list query = {}, kv_list headers = {}) {
  http_request r;
  r.path = std::move(path);
  r.query = std::move(query);
  r.headers = std::move(headers);
  return r;
}

std::unique_ptr<http_transport> open(const std::filesystem::path& dir, const clock_source& c) {
  auto t = make_cassette_transport(dir, c);
  if (auto* e = std::get_if<std::string>(&t)) ADD_FAILURE() << *e;
  return std::move(std::get<std::unique_ptr<http_transport>>(t));
}

}  // namespace

TEST(Cassettes, ServedInFileNameOrderThenTheLastRepeats) {
  test_support::temp_dir d;
  fake_clock clock(1000);
  d.cassette("b/02-ok.json", "/v1/x", {{"a", "1"}}, 200, {{"ok", true}});
  d.cassette("a/01-429.json", "/v1/x", {{"a", "1"}}, 429, "slow down", {{"Retry-After", "3"}});
  auto t = open(d.path(), clock);
  auto r1 = call(*t, get("/v1/x", {{"a", "1"}}));
  EXPECT_EQ(r1.status, 429);
  EXPECT_EQ(r1.body, "slow down");  // a string body is served as is
  EXPECT_EQ(r1.received_ms, 1000);
  auto r2 = call(*t, get("/v1/x", {{"a", "1"}}));
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(json::parse(r2.body), (json{{"ok", true}}));  // a JSON body is served serialized
  EXPECT_EQ(call(*t, get("/v1/x", {{"a", "1"}})).status, 200);
}

TEST(Cassettes, MatchingRulesAndRedactedWildcards) {
  test_support::temp_dir d;
  fake_clock clock;
  json c{{"request", {{"method", "GET"}, {"path", "/q"}, {"query", {{"symbol", "BTC"}, {"secret", "REDACTED"}}},
                      {"headers", {{"X-Api-Key", "REDACTED"}}}}},
         {"response", {{"status", 200}, {"body", "yes"}}}};
  d.write("c.json", c.dump());
  auto t = open(d.path(), clock);
  EXPECT_EQ(call(*t, get("/q", {{"symbol", "BTC"}, {"secret", "s3cr3t"}}, {{"x-api-key", "k"}, {"Accept", "*/*"}})).body, "yes");
  auto miss = call(*t, get("/q", {{"symbol", "BTC"}, {"secret", "s3cr3t"}}));  // header absent
  EXPECT_EQ(miss.status, 0);
  auto extra = call(*t, get("/q", {{"symbol", "BTC"}, {"secret", "s"}, {"more", "1"}}, {{"X-Api-Key", "k"}}));
  EXPECT_EQ(extra.status, 0);  // the set of query parameters must be equal
  EXPECT_THAT(extra.error, HasSubstr("no cassette matches GET /q?symbol=BTC&secret=s&more=1 in " + d.path().string()));
}

TEST(Cassettes, BrokenFilesAreNamed) {
  test_support::temp_dir d;
  fake_clock clock;
  d.write("x/bad.json", "{ nope");
  auto t = make_cassette_transport(d.path(), clock);
  ASSERT_TRUE(std::holds_alternative<std::string>(t));
  EXPECT_THAT(std::get<std::string>(t), HasSubstr("x/bad.json: not valid JSON"));
  EXPECT_THAT(std::get<std::string>(make_cassette_transport(d.path() / "none", clock)), HasSubstr("does not exist"));
  test_support::temp_dir d2;
  d2.write("m.json", R"({"request":{"method":7,"path":"/x"},"response":{"status":200}})");
  EXPECT_THAT(std::get<std::string>(make_cassette_transport(d2.path(), clock)), HasSubstr("m.json: request.method must be a string"));
  test_support::temp_dir d3;
  d3.write("s.json", R"({"request":{"path":"/x"},"response":{"status":99999999999}})");
  EXPECT_THAT(std::get<std::string>(make_cassette_transport(d3.path(), clock)), HasSubstr("s.json: response.status must be an HTTP status"));
}

// A fake inner transport standing in for the network, so recording can be tested offline.
class canned final : public http_transport {
 public:
  void send(http_request, callback done) override {
    http_response r;
    r.status = 200;
    r.headers = {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}};
    r.body = R"({"echo":"key-abcdef123"})";
    done(std::move(r));
  }
};

TEST(Cassettes, RecordingRedactsSecretsAndReplaysTheSame) {
  test_support::temp_dir d;
  fake_clock clock;
  redactor secrets;
  secrets.add("key-abcdef123");
  auto rec = make_recording_transport(std::make_unique<canned>(), d.path() / "rec", secrets);
  call(*rec, get("/api/v3/price", {{"symbol", "BTC"}, {"apikey", "key-abcdef123"}}, {{"X-Key", "key-abcdef123"}}));
  std::string text;
  for (auto& e : std::filesystem::directory_iterator(d.path() / "rec")) {
    std::ifstream in(e.path());
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(text.find("key-abcdef123"), std::string::npos) << text;
  auto j = json::parse(text);
  EXPECT_EQ(j["request"]["query"]["apikey"], "REDACTED");
  EXPECT_EQ(j["request"]["headers"]["X-Key"], "REDACTED");
  EXPECT_FALSE(j["response"]["headers"].contains("Content-Encoding"));  // body is stored decoded
  auto t = open(d.path() / "rec", clock);
  auto r = call(*t, get("/api/v3/price", {{"symbol", "BTC"}, {"apikey", "another-key"}}, {{"X-Key", "k2"}}));
  EXPECT_EQ(r.status, 200);
}
