// The scheduler and runner with a fake clock and a scripted transport standing in for the
// network (the plugin is the real binance .so).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include "net/transport.hpp"
#include "ingest/demand.hpp"
#include "ingest/runtime.hpp"
#include "../../../tests/support/publish_path.hpp"
#include "util/clock.hpp"

using namespace tributary;

namespace {

// Answers ticker requests at once, except that requests for `hang_symbol` are held forever
// (kept, never answered) to stand in for a provider that does not respond.
class scripted_transport final : public http_transport {
 public:
  std::string hang_symbol;
  std::vector<http_request> seen;
  std::vector<callback> held;
  void send(http_request r, callback done) override {
    seen.push_back(r);
    std::string symbols = r.query.at(0).second;
    if (!hang_symbol.empty() && symbols.find(hang_symbol) != std::string::npos) {
      held.push_back(std::move(done));
      return;
    }
    http_response resp;
    resp.status = 200;
    auto body = nlohmann::json::array();
    for (auto& sym : nlohmann::json::parse(symbols)) body.push_back({{"symbol", sym}, {"lastPrice", "1.5"}});
    resp.body = body.dump();
    done(std::move(resp));
  }
};

struct rig {
  fake_clock clock{1'000'000};
  scripted_transport http;
  test_support::publish_path path;
  record_cache& cache = path.cache;
  metrics& m = path.m;
  intake& out = path.out;
  std::shared_ptr<plugin_library> lib;
  std::shared_ptr<plugin_instance> inst;
  source_runtime src;
  std::vector<std::unique_ptr<feed_runtime>> feeds;
  timer_queue timers;
  feed_runner runner{http, clock, timers, out, m, make_logger("t", "off", nullptr), 7};

  rig() {
    auto l = plugin_library::load(std::filesystem::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so");
    lib = std::get<std::shared_ptr<plugin_library>>(l);
    inst = std::move(std::get<std::unique_ptr<plugin_instance>>(plugin_instance::create(lib, "binance", nlohmann::json::object(), {})));
    src.name = "binance";
    src.plugin = inst;
    src.base_url = "http://127.0.0.1:9";
    src.budget = std::make_unique<rate_budget>(std::vector<rate_limit_config>{{1000, millis(1000), 1000}}, clock.now_ms());
  }
  feed_runtime* feed(const std::string& id, const std::string& subject, millis every, millis jitter = millis(0)) {
    auto f = std::make_unique<feed_runtime>();
    f->cfg.id = id;
    f->cfg.kind = "price";
    f->cfg.subjects = {subject};
    f->cfg.every = every;
    f->cfg.jitter = jitter;
    f->sources = {&src};
    std::string native = subject.substr(0, subject.find('-')) + subject.substr(subject.find('-') + 1);
    f->subjects["binance"] = {{subject, native}};
    feeds.push_back(std::move(f));
    return feeds.back().get();
  }
  size_t runs_of(const std::string& symbol) {
    return std::count_if(http.seen.begin(), http.seen.end(), [&](auto& r) { return r.query[0].second.find(symbol) != std::string::npos; });
  }
};

}  // namespace

TEST(Scheduler, RunsEachFeedEveryIntervalWithinItsJitter) {
  rig r;
  auto* f = r.feed("spot", "BTC-USDT", millis(5000), millis(500));
  scheduler s(r.runner, r.clock, r.timers, {f}, 42);
  EXPECT_LE(s.next_due(), r.clock.now_ms() + 500);  // the first run is spread by the jitter too
  r.clock.advance(500);
  s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 1u);
  int64_t due = s.next_due();
  EXPECT_GE(due, r.clock.now_ms() + 5000);
  EXPECT_LE(due, r.clock.now_ms() + 5500);
  r.clock.set(due - 1);
  s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 1u);
  r.clock.set(due);
  s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 2u);
  EXPECT_EQ(r.cache.latest("price.BTC-USDT")->rec.seq, 2u);
}

TEST(Scheduler, AHungSourceDelaysOnlyItsOwnFeedAndRunsNeverOverlap) {
  rig r;
  r.http.hang_symbol = "ETHUSDT";
  auto* slow = r.feed("slow", "ETH-USDT", millis(1000));
  auto* fast = r.feed("fast", "BTC-USDT", millis(1000));
  scheduler s(r.runner, r.clock, r.timers, {slow, fast}, 1);
  for (int i = 0; i < 5; ++i) {
    s.tick();
    r.clock.advance(1000);
  }
  EXPECT_EQ(r.runs_of("BTCUSDT"), 5u);  // the fast feed kept its rhythm
  EXPECT_EQ(r.runs_of("ETHUSDT"), 1u);  // the slow one was not started again while in flight
  EXPECT_TRUE(slow->running.load());
  // When the provider finally answers, the feed is free to run again.
  http_response late;
  late.status = 200;
  late.body = R"([{"symbol":"ETHUSDT","lastPrice":"2"}])";
  r.http.held.at(0)(late);
  EXPECT_FALSE(slow->running.load());
  s.tick();
  EXPECT_EQ(r.runs_of("ETHUSDT"), 2u);
}

TEST(Scheduler, AStreamFeedsFallbackIsPolledOnlyWhileTheStreamIsDown) {
  rig r;
  source_runtime rest;
  rest.name = "binance_rest";
  rest.plugin = r.inst;
  rest.base_url = "http://127.0.0.1:9";
  rest.budget = std::make_unique<rate_budget>(std::vector<rate_limit_config>{{1000, millis(1000), 1000}}, r.clock.now_ms());
  auto* f = r.feed("live", "BTC-USDT", millis(1000));
  f->cfg.stream = true;
  f->sources = {&r.src, &rest};  // the stream, then its polled fallback
  f->subjects["binance_rest"] = f->subjects["binance"];
  scheduler s(r.runner, r.clock, r.timers, {f}, 3);
  EXPECT_EQ(s.next_due(), INT64_MAX);  // nothing to wake up for while the stream is up
  for (int i = 0; i < 3; ++i, r.clock.advance(1000)) s.tick();
  EXPECT_EQ(r.http.seen.size(), 0u);
  f->stream_up = false;
  for (int i = 0; i < 3; ++i, r.clock.advance(1000)) s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 3u);
  EXPECT_EQ(r.cache.latest("price.BTC-USDT")->rec.source, "binance_rest");  // never the streaming source
  f->stream_up = true;
  for (int i = 0; i < 3; ++i, r.clock.advance(1000)) s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 3u);
}

TEST(Scheduler, ACronScheduleRunsAtItsTimesAndAlignRunsOnMultiplesOfEvery) {
  rig r;  // the fake clock starts at 1,000,000 ms: 00:16:40 on 1 January 1970, UTC
  auto* cron = r.feed("cron", "BTC-USDT", millis(0));
  cron->cfg.schedule = std::get<cron_schedule>(cron_schedule::parse("0 */5 * * * *"));
  auto* aligned = r.feed("aligned", "ETH-USDT", millis(60000));
  aligned->cfg.align = true;
  scheduler s(r.runner, r.clock, r.timers, {cron, aligned}, 5);
  EXPECT_EQ(aligned->next_due, 1'020'000);  // 00:17:00, not at once
  EXPECT_EQ(cron->next_due, 1'200'000);     // 00:20:00
  r.clock.set(1'019'999);
  s.tick();
  EXPECT_EQ(r.runs_of("ETHUSDT"), 0u);
  r.clock.set(1'020'000);
  s.tick();
  EXPECT_EQ(r.runs_of("ETHUSDT"), 1u);
  EXPECT_EQ(aligned->next_due, 1'080'000);
  r.clock.set(1'081'500);  // late: the next run goes back on the grid
  s.tick();
  EXPECT_EQ(aligned->next_due, 1'140'000);
  r.clock.set(1'199'999);
  s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 0u);
  r.clock.set(1'200'000);
  s.tick();
  EXPECT_EQ(r.runs_of("BTCUSDT"), 1u);
  EXPECT_EQ(cron->next_due, 1'500'000);  // 00:25:00
}

// adapt = true on a fake clock: a monthly window paces the feed so that what is left lasts.
TEST(Scheduler, AnAdaptingFeedStretchesItsIntervalToWhatAMonthlyWindowHasLeft) {
  rig r;
  const int64_t month = 30LL * 86'400'000;
  r.src.budget = std::make_unique<rate_budget>(std::vector<rate_limit_config>{{20000, millis(month), 20000}}, r.clock.now_ms());
  auto* f = r.feed("spot", "BTC-USDT", millis(60000));
  f->cfg.adapt = true;
  f->cfg.max_every = millis(240000);
  scheduler s(r.runner, r.clock, r.timers, {f}, 1);
  s.tick();  // the first run, at once: it tells what a run costs
  ASSERT_EQ(r.runs_of("BTCUSDT"), 1u);
  double cost = f->cost_per_run.load();
  ASSERT_GT(cost, 0);
  EXPECT_EQ(s.next_due(), r.clock.now_ms() + 60000);  // not yet known when the first run was due
  r.clock.advance(60000);
  s.tick();
  ASSERT_EQ(r.runs_of("BTCUSDT"), 2u);
  // What the month has left (20,000 less two runs) plus a month's refill, spread over the month.
  double left = 20000 - 2 * cost;
  double expect_ms = cost * static_cast<double>(month) / (left + 20000);
  EXPECT_NEAR(static_cast<double>(s.next_due() - r.clock.now_ms()), expect_ms, expect_ms * 0.01);
  EXPECT_NEAR(f->stretch.load(), expect_ms / 60000, 0.02);
  EXPECT_EQ(f->status(r.clock.now_ms())["adapt"]["max_every"], "4m");
  // Another spender drains the month: the feed slows to the refill's pace (a run every
  // cost x 30 d / 20,000, over 4 minutes), here held at max_every.
  ASSERT_TRUE(r.src.budget->try_take(left - 10, r.clock.now_ms()));
  r.clock.set(s.next_due());
  s.tick();
  EXPECT_EQ(s.next_due() - r.clock.now_ms(), 240000);
  EXPECT_EQ(f->status(r.clock.now_ms())["adapt"]["every_now"], "4m");
}

// demand = "subscribed" on a fake clock: no subscriber, no request; a subscriber's topic is
// asked for at once and then every run, alone; after the last one leaves, for the linger only.
TEST(Scheduler, ADemandFeedAsksOnlyForWhatIsSubscribedAndStopsAfterTheLinger) {
  rig r;
  auto* f = r.feed("spot", "BTC-USDT", millis(10000));
  f->cfg.subjects = {"BTC-USDT", "ETH-USDT"};
  f->subjects["binance"] = {{"BTC-USDT", "BTCUSDT"}, {"ETH-USDT", "ETHUSDT"}};
  f->cfg.demand = feed_config::demand_mode::subscribed;
  f->cfg.demand_linger = millis(60000);
  demand_tracker demand(r.clock);
  demand.watch({"price.BTC-USDT", "price.ETH-USDT"}, {});
  f->demand = &demand;
  scheduler s(r.runner, r.clock, r.timers, {f}, 1);
  for (int i = 0; i < 3; ++i, r.clock.advance(10000)) s.tick();
  EXPECT_TRUE(r.http.seen.empty());  // nobody subscribes: no request at all
  EXPECT_EQ(f->status(r.clock.now_ms())["demand"]["idle"], nlohmann::json({"BTC-USDT", "ETH-USDT"}));

  r.clock.advance(3000);  // between two due runs
  demand.pattern("price.ETH-USDT", true);
  s.tick();  // at once, not at the next due time
  ASSERT_EQ(r.http.seen.size(), 1u);
  EXPECT_EQ(r.http.seen[0].query[0].second, R"(["ETHUSDT"])");
  EXPECT_TRUE(r.cache.latest("price.ETH-USDT"));
  s.tick();
  EXPECT_EQ(r.http.seen.size(), 1u);  // asked once, not again before its run is due
  r.clock.set(f->next_due);
  s.tick();
  ASSERT_EQ(r.http.seen.size(), 2u);
  EXPECT_EQ(r.http.seen[1].query[0].second, R"(["ETHUSDT"])");  // the due run asks for ETH only
  auto st = f->status(r.clock.now_ms())["demand"];
  EXPECT_EQ(st["demanded"], nlohmann::json({"ETH-USDT"}));
  EXPECT_EQ(st["idle"], nlohmann::json({"BTC-USDT"}));

  demand.pattern("price.ETH-USDT", false);  // the last subscriber leaves: runs go on for a minute
  int64_t left = r.clock.now_ms();
  EXPECT_EQ(f->status(r.clock.now_ms())["demand"]["lingering"][0]["stops_in_ms"], 60000);
  size_t before = r.http.seen.size();
  while (r.clock.now_ms() < left + 60000) {
    r.clock.set(f->next_due);
    s.tick();
  }
  size_t during = r.http.seen.size() - before;
  EXPECT_GE(during, 5u);
  for (int i = 0; i < 5; ++i, r.clock.set(f->next_due)) s.tick();
  EXPECT_EQ(r.http.seen.size() - before, during);  // and none after the linger
  EXPECT_EQ(f->status(r.clock.now_ms())["demand"]["idle"], nlohmann::json({"BTC-USDT", "ETH-USDT"}));
  // Wanted again after it went idle: asked for at once again.
  demand.pattern("price.*", true);
  s.tick();
  EXPECT_EQ(r.http.seen.back().query[0].second, R"(["BTCUSDT","ETHUSDT"])");
}
