// The runtime end to end in process: real binance plugin .so through the real loader, the
// cassette transport, and a fake clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include "../../../tests/support/temp_dir.hpp"
#include "app/host.hpp"
#include "util/clock.hpp"
#include "obs/log.hpp"
#include "util/redactor.hpp"

using namespace tributary;
using json = nlohmann::json;
using ::testing::HasSubstr;

namespace {

json ticker(const std::string& sym, const std::string& price) {
  return {{"symbol", sym}, {"lastPrice", price}, {"priceChangePercent", "1.5"}, {"closeTime", 1773153015000}};
}

const json kQuery = {{"symbols", R"(["BTCUSDT"])"}};

// One binance instance with `plugin_keys`, serving a BTC-USDT price feed every `every`.
std::string one_source(const std::string& plugin_keys, const std::string& every = "5s") {
  return "[plugins.binance]\n" + plugin_keys + "\n[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"" + every +
         "\"\nsources = [\"binance\"]\n";
}

struct fixture {
  test_support::temp_dir dir;
  fake_clock clock{1773153015123};
  std::shared_ptr<redactor> secrets = std::make_shared<redactor>();
  std::unique_ptr<host> h;
  std::vector<diagnostic> diags;

  void start(const std::string& plugins_and_feeds) {
    auto text = "[host]\nplugin_dirs = [\"" TRIBUTARY_PLUGIN_DIR "\"]\n" + plugins_and_feeds;
    auto file = dir.write("tributary.toml", text);
    auto res = load_config(file, [](const std::string&) { return std::nullopt; }, secrets.get());
    ASSERT_TRUE(res.ok()) << (res.diagnostics.empty() ? "" : res.diagnostics[0].str());
    host_options o;
    o.replay = dir.path() / "cassettes";
    std::filesystem::create_directories(*o.replay);
    h = host::create(*res.cfg, o, secrets, make_logger("test", "off", secrets), diags, &clock);
    ASSERT_TRUE(h) << (diags.empty() ? "" : diags[0].str());
  }
  json status() { return json::parse(h->status_json()); }
  // Runs a feed once; delayed retries happen by moving the fake clock to them.
  host::fetch_result fetch(const std::string& id) {
    return h->fetch(id, [this](int64_t due) { clock.set(std::max(clock.now_ms(), due)); });
  }

  // Builds a host from `body` (after a [host] table) expecting it to fail; returns every diagnostic.
  std::string wiring_errors(const std::string& body) {
    auto file = dir.write("bad.toml", std::string("[host]\nplugin_dirs = [\"" TRIBUTARY_PLUGIN_DIR "\"]\n") + body);
    auto res = load_config(file, [](const std::string&) { return std::nullopt; }, secrets.get());
    EXPECT_TRUE(res.ok());
    auto made = host::create(*res.cfg, {}, secrets, make_logger("test", "off", secrets), diags, &clock);
    EXPECT_FALSE(made);
    std::string all;
    for (auto& d : diags) all += d.str() + "\n";
    return all;
  }
};

// Two binance instances, "primary" (with `primary_keys`) then "backup", serving BTC-USDT.
std::string two_sources(const std::string& primary_keys = "") {
  return "[plugins.primary]\nplugin = \"binance\"\n" + primary_keys + R"(
[plugins.backup]
plugin = "binance"
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
every = "5s"
sources = ["primary", "backup"]
)";
}

}  // namespace

TEST(Host, FallsBackToNextSourceAndHonoursRetryAfter) {
  fixture f;
  // The first request (primary) is refused with 429; every later one succeeds.
  f.dir.cassette("cassettes/01-429.json", "/api/v3/ticker/24hr", kQuery, 429, {{"code", -1003}, {"msg", "Too much request weight used"}},
                 {{"Retry-After", "30"}});
  f.dir.cassette("cassettes/02-ok.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "84250.12")}));
  f.start(two_sources());
  auto r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.records.size(), 1u);
  auto rec = json::parse(r.records[0]);
  EXPECT_EQ(rec["source"], "backup");
  EXPECT_EQ(rec["data"]["price"], 84250.12);
  EXPECT_EQ(rec["seq"], 1);
  EXPECT_EQ(r.first_error_class, "rate_limited");
  EXPECT_THAT(r.errors.front(), HasSubstr("(primary paused for 30000ms)"));  // fetch shows the pause

  // Within the 30 s pause the primary is skipped without a request.
  f.clock.advance(5000);
  r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records[0])["source"], "backup");
  EXPECT_EQ(json::parse(r.records[0])["seq"], 2);
  auto st = f.status();
  EXPECT_EQ(st["feeds"][0]["last_source"], "backup");
  EXPECT_THAT(st["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("primary: paused"));
  EXPECT_EQ(st["plugins"][0]["last_error_class"], "rate_limited");
  EXPECT_GT(st["plugins"][0]["paused_for_ms"].get<int64_t>(), 20000);

  // After the pause the primary is asked again and serves.
  f.clock.advance(30000);
  r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records[0])["source"], "primary");
  EXPECT_THAT(f.h->metrics_text(), HasSubstr("tributary_rate_limit_skips_total{source=\"primary\",reason=\"retry_after\"} 1"));
  EXPECT_THAT(f.h->metrics_text(), HasSubstr("tributary_fetch_errors_total{source=\"primary\",class=\"rate_limited\"} 1"));
  // Each window's remaining weight, and its forecast (a few requests a minute run out nothing here).
  EXPECT_THAT(f.h->metrics_text(), HasSubstr("tributary_budget_remaining{source=\"primary\",window=\""));
  st = f.status();
  ASSERT_TRUE(st["plugins"][0]["budget_forecast"].is_array());
  EXPECT_EQ(st["plugins"][0]["budget_forecast"].size(), st["plugins"][0]["rate_budget"]["windows"].size());
}

TEST(Host, KeepsLastGoodRecordAndMarksItStaleOnceWhenAllSourcesFail) {
  fixture f;
  f.dir.cassette("cassettes/01-ok.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "84250.12")}));
  f.dir.cassette("cassettes/02-502.json", "/api/v3/ticker/24hr", kQuery, 502, "<html><body>502 Bad Gateway</body></html>");
  f.start(one_source(""));
  auto r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  auto first = json::parse(r.records.at(0));
  f.clock.advance(5000);
  r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_error_class, "retryable");
  ASSERT_EQ(r.records.size(), 1u);  // the stale re-announcement
  auto stale = json::parse(r.records[0]);
  EXPECT_TRUE(stale["stale"].get<bool>());
  EXPECT_EQ(stale["seq"], 2);
  EXPECT_EQ(stale["data"], first["data"]);  // nothing fabricated
  EXPECT_EQ(stale["ts"], first["ts"]);
  f.clock.advance(5000);
  r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.records.empty());  // announced once, not on every failed run
  EXPECT_TRUE(f.status()["feeds"][0]["stale"].get<bool>());
}

TEST(Host, NeverFabricatesWhenNothingWasEverFetched) {
  fixture f;
  f.dir.cassette("cassettes/01-502.json", "/api/v3/ticker/24hr", kQuery, 503, "Service Unavailable");
  f.start(one_source(""));
  auto r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.records.empty());
  auto feed = f.status()["feeds"][0];
  EXPECT_FALSE(feed["stale"].get<bool>());  // nothing to keep, so nothing stale
  EXPECT_EQ(feed["unserved"], nlohmann::json::array({"BTC-USDT"}));
  EXPECT_TRUE(feed["last_source"].is_null());
}

TEST(Host, RateBudgetInRequestWeightSkipsWithoutWaiting) {
  fixture f;
  f.dir.cassette("cassettes/01-ok.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "1")}));
  // The ticker with one symbol weighs 2; a burst of 3 allows one request, then 1 token per second.
  f.start(one_source(R"(rate_limit = { requests = 60, per = "1m", burst = 3 })", "1s"));
  EXPECT_TRUE(f.fetch("spot").ok);
  auto r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.errors.back(), HasSubstr("rate budget spent"));
  f.clock.advance(1000);
  EXPECT_TRUE(f.fetch("spot").ok);  // 1 left + 1 refilled = 2
}

TEST(Host, WiringErrorsPointIntoTheConfig) {
  fixture f;
  auto all = f.wiring_errors(R"(
[plugins.binance]
symbol = { "BTC-USDT" = "XBTUSDT" }
[plugins.ghost]
)");
  EXPECT_THAT(all, HasSubstr("bad.toml:5:10: error: plugins.binance.symbol: unknown key 'symbol' (did you mean 'symbols'?)"));
  EXPECT_THAT(all, HasSubstr("bad.toml:6:1: error: plugins.ghost: plugin 'ghost' not found: no libghost.so in"));
}

TEST(Host, SourceMustServeTheKindAndMapEverySubject) {
  fixture f;
  auto all = f.wiring_errors(R"(
[plugins.binance]
[feeds.global]
kind = "market"
subjects = ["global"]
every = "5s"
sources = ["binance"]
[feeds.candles]
kind = "candle"
subjects = ["BTC-USDT.7h"]
every = "5s"
sources = ["binance"]
)");
  EXPECT_THAT(all, HasSubstr("feeds.global.sources: source 'binance' cannot serve kind 'market' (it serves price, candle)"));
  EXPECT_THAT(all, HasSubstr("bad.toml:12:12: error: feeds.candles.subjects: feed 'candles', source 'binance' cannot map subject 'BTC-USDT.7h'"));
}

TEST(Host, RetriesATransientFailureWithBackoffInsideTheDeadline) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 502, "<html>Bad Gateway</html>");
  f.dir.cassette("cassettes/02.json", "/api/v3/ticker/24hr", kQuery, 503, "busy");
  f.dir.cassette("cassettes/03.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "7")}));
  f.start(one_source(R"(retries = 2
backoff = "200ms")"));
  int64_t start = f.clock.now_ms();
  auto r = f.fetch("spot");
  ASSERT_TRUE(r.ok) << (r.errors.empty() ? "" : r.errors.back());
  EXPECT_EQ(json::parse(r.records[0])["data"]["price"], 7);
  // Two jittered waits: 200ms * [0.5, 1.5) then 400ms * [0.5, 1.5).
  EXPECT_GE(f.clock.now_ms() - start, 300);
  EXPECT_LT(f.clock.now_ms() - start, 900);
  EXPECT_THAT(f.h->metrics_text(), HasSubstr("tributary_retries_total{source=\"binance\"} 2"));
}

TEST(Host, RetriesStopAtTheFeedDeadline) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 502, "<html>Bad Gateway</html>");
  f.start(one_source(R"(retries = 5
backoff = "2s")", "3s"));
  int64_t start = f.clock.now_ms();
  auto r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_LT(f.clock.now_ms() - start, 3000);  // never waits past the next run of the feed
}

TEST(Host, CircuitOpensAfterFailuresSkipsWithoutRequestsAndRecovers) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 500, "oops");
  f.dir.cassette("cassettes/02.json", "/api/v3/ticker/24hr", kQuery, 500, "oops");
  f.dir.cassette("cassettes/03.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "9")}));
  f.start(one_source(R"(retries = 0
circuit = { failures = 2, cooldown = "30s" })"));
  EXPECT_FALSE(f.fetch("spot").ok);
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "closed");
  EXPECT_FALSE(f.fetch("spot").ok);
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "open");
  f.clock.advance(10000);
  auto r = f.fetch("spot");  // open: skipped, so cassette 03 is still unused
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(f.status()["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("binance: circuit open"));
  f.clock.advance(20000);
  r = f.fetch("spot");  // half-open trial gets cassette 03
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records[0])["data"]["price"], 9);
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "closed");
  auto m = f.h->metrics_text();
  EXPECT_THAT(m, HasSubstr("tributary_circuit_transitions_total{source=\"binance\",to=\"open\"} 1"));
  EXPECT_THAT(m, HasSubstr("tributary_circuit_transitions_total{source=\"binance\",to=\"half_open\"} 1"));
  EXPECT_THAT(m, HasSubstr("tributary_circuit_transitions_total{source=\"binance\",to=\"closed\"} 1"));
}

TEST(Host, AnOpenCircuitFallsBackToTheNextSource) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 500, "oops");   // primary, run 1
  f.dir.cassette("cassettes/02.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "3")}));
  f.start(two_sources(R"(retries = 0
circuit = { failures = 1, cooldown = "1m" })"));
  auto r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records[0])["source"], "backup");
  f.clock.advance(5000);
  r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records[0])["source"], "backup");
  EXPECT_THAT(f.status()["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("primary: circuit open"));
  EXPECT_THAT(f.h->metrics_text(), HasSubstr("tributary_fallbacks_total{feed=\"spot\",to=\"backup\"} 2"));
}

TEST(Host, FallsBackAcrossProvidersAndRecovers) {
  fixture f;
  const json sq = {{"ids", "bitcoin"}, {"vs_currencies", "usd"}, {"include_market_cap", "true"}, {"include_24hr_vol", "true"},
                   {"include_24hr_change", "true"}, {"include_last_updated_at", "true"}};
  const json cq = {{"symbol", "BTC"}, {"convert", "USDT"}};
  // binance: an HTML 502, then a timeout, then fine.
  f.dir.cassette("cassettes/binance/01.json", "/api/v3/ticker/24hr", kQuery, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>",
                 {{"Content-Type", "text/html"}});
  f.dir.write("cassettes/binance/02.json",
              json{{"request", {{"method", "GET"}, {"path", "/api/v3/ticker/24hr"}, {"query", kQuery}}}, {"response", {{"error", "timed out after 5000ms"}}}}.dump());
  f.dir.cassette("cassettes/binance/03.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "84250.12")}));
  // coingecko: Cloudflare's HTML 429 every time.
  f.dir.cassette("cassettes/coingecko/01.json", "/api/v3/simple/price", sq, 429, "<!DOCTYPE html><html><body>Error 1015</body></html>",
                 {{"Content-Type", "text/html"}, {"Retry-After", "60"}});
  // cmc: an auth error, then a quote.
  f.dir.cassette("cassettes/cmc/01.json", "/v2/cryptocurrency/quotes/latest", cq, 401,
                 {{"status", {{"error_code", 1001}, {"error_message", "This API Key is invalid."}}}});
  f.dir.cassette("cassettes/cmc/02.json", "/v2/cryptocurrency/quotes/latest", cq, 200,
                 {{"status", {{"error_code", 0}}},
                  {"data", {{"BTC", json::array({{{"symbol", "BTC"}, {"cmc_rank", 1}, {"quote", {{"USDT", {{"price", 84200.5}}}}}}})}}}});
  f.start(R"(
[plugins.binance]
retries = 0
[plugins.coingecko]
[plugins.cmc]
api_key = "k-123456"
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
every = "5s"
sources = ["binance", "coingecko", "cmc"]
)");
  // Run 1: binance 502, coingecko 429, cmc auth error: nothing to publish, nothing invented.
  auto r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.records.empty());
  std::string errs;
  for (auto& e : r.errors) errs += e + "\n";
  EXPECT_THAT(errs, HasSubstr("retryable: binance: HTTP 502 with an HTML page"));
  EXPECT_THAT(errs, HasSubstr("rate_limited: coingecko: HTTP 429"));
  EXPECT_THAT(errs, HasSubstr("auth: cmc: HTTP 401, error_code 1001"));
  // Run 2: binance times out, coingecko is paused (Retry-After 60), cmc answers.
  f.clock.advance(5000);
  r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  auto rec = json::parse(r.records.at(0));
  EXPECT_EQ(rec["source"], "cmc");
  EXPECT_EQ(rec["data"]["price"], 84200.5);
  EXPECT_THAT(f.status()["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("coingecko: paused"));
  // Run 3: binance is back and serves first.
  f.clock.advance(5000);
  r = f.fetch("spot");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.records.at(0))["source"], "binance");
  EXPECT_EQ(json::parse(r.records.at(0))["seq"], 2);
  EXPECT_EQ(f.status()["feeds"][0]["last_source"], "binance");
}

// B1: a half-open trial that is skipped afterwards (here for a spent budget) gives its
// permission back, so the next run can take the trial instead of "trial in progress" forever.
TEST(Host, AHalfOpenTrialThatIsSkippedGivesItsPermissionBack) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 500, "oops");
  f.dir.cassette("cassettes/02.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "5")}));
  // One request (weight 2) per minute; the circuit opens after one failure for 1 s.
  f.start(one_source(R"(retries = 0
rate_limit = { requests = 2, per = "1m", burst = 2 }
circuit = { failures = 1, cooldown = "1s" })"));
  EXPECT_FALSE(f.fetch("spot").ok);
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "open");
  for (int i = 0; i < 3; ++i) {
    f.clock.advance(2000);
    EXPECT_FALSE(f.fetch("spot").ok);
    auto skipped = f.status()["feeds"][0]["skipped"][0].get<std::string>();
    EXPECT_THAT(skipped, HasSubstr("rate budget spent")) << "run " << i;  // never "trial in progress"
  }
  f.clock.advance(60000);
  auto r = f.fetch("spot");
  ASSERT_TRUE(r.ok) << (r.errors.empty() ? "" : r.errors.back());
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "closed");
}

// B3: the circuit is asked before the budget, so a skipped source spends nothing.
TEST(Host, ASourceSkippedForItsCircuitSpendsNoBudget) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 500, "oops");
  f.start(one_source(R"(retries = 0
rate_limit = { requests = 2, per = "1h", burst = 6 }
circuit = { failures = 1, cooldown = "1h" })"));
  EXPECT_FALSE(f.fetch("spot").ok);
  double left = f.status()["plugins"][0]["rate_budget"]["available"];
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(f.fetch("spot").ok);
  EXPECT_THAT(f.status()["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("circuit open"));
  EXPECT_NEAR(f.status()["plugins"][0]["rate_budget"]["available"].get<double>(), left, 0.01);
}

// B2: timeouts of per-subject requests (tagged with their subject) trip the circuit.
TEST(Host, PerSubjectTimeoutsOpenTheCircuit) {
  fixture f;
  f.dir.write("cassettes/01.json", json{{"request", {{"method", "GET"}, {"path", "/api/v3/klines"},
                                                     {"query", {{"symbol", "BTCUSDT"}, {"interval", "1h"}, {"limit", "1"}}}}},
                                        {"response", {{"error", "timed out after 5000 ms"}}}}
                                       .dump());
  f.start(R"([plugins.binance]
retries = 0
circuit = { failures = 2, cooldown = "1m" }
[feeds.candles]
kind = "candle"
subjects = ["BTC-USDT.1h"]
every = "5s"
sources = ["binance"]
)");
  auto r = f.fetch("candles");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_error_class, "retryable");
  EXPECT_FALSE(f.fetch("candles").ok);
  EXPECT_EQ(f.status()["plugins"][0]["circuit"], "open");
  EXPECT_EQ(f.status()["plugins"][0]["consecutive_failures"], 2);
}

// A retry skipped for lack of budget never hides the provider's error, and still counts.
TEST(Host, ARetrySkippedForBudgetReportsTheProvidersError) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 502, "<html>Bad Gateway</html>");
  f.start(one_source(R"(retries = 2
backoff = "100ms"
rate_limit = { requests = 2, per = "1h", burst = 2 })"));
  auto r = f.fetch("spot");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_error_class, "retryable");
  bool provider = false;
  for (auto& e : r.errors) provider |= e.find("502") != std::string::npos;
  EXPECT_TRUE(provider) << r.errors.front();
  auto st = f.status();
  EXPECT_THAT(st["feeds"][0]["last_error"].get<std::string>(), HasSubstr("502"));
  EXPECT_EQ(st["plugins"][0]["consecutive_failures"], 1);
}

// The provider's own count of used weight (Binance: X-MBX-USED-WEIGHT-1M) corrects the budget.
TEST(Host, AProviderBudgetHeaderLowersTheBudget) {
  fixture f;
  f.dir.cassette("cassettes/01.json", "/api/v3/ticker/24hr", kQuery, 200, json::array({ticker("BTCUSDT", "1")}),
                 {{"X-MBX-USED-WEIGHT-1M", "5999"}});
  f.start(one_source(R"(rate_limit = { requests = 6000, per = "1m", burst = 300 })"));
  EXPECT_TRUE(f.fetch("spot").ok);
  // Ours said 298 left; Binance says 1 of its 6000 is left this minute.
  EXPECT_NEAR(f.status()["plugins"][0]["rate_budget"]["available"].get<double>(), 1, 0.01);
  auto r = f.fetch("spot");  // a ticker weighs 2
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.errors.back(), HasSubstr("rate budget spent"));
}
