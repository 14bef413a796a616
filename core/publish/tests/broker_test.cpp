// The brokers behind the one publish path: numbering, delivery order, stale re-announcement,
// and the cluster broker against a real redis-server (a leader's records come back from the
// stream with its seq; a follower publishes nothing; a new term numbers after what was applied).
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <thread>

#include "../../../tests/support/publish_path.hpp"
#include "../../../tests/support/redis_server.hpp"
#include "cluster/leadership.hpp"
#include "publish/redis_broker.hpp"
#include "sink/fenced_writer.hpp"

using namespace tributary;
using namespace tributary::test_support;

namespace {

record price(const std::string& subject, double v) {
  record r;
  r.kind = "price";
  r.subject = subject;
  r.data = {{"price", v}};
  return r;
}

// The election as the broker sees it, set by the test.
struct fixed_leadership final : leadership {
  std::atomic<bool> leader{false}, up{true}, was_fenced{false};
  std::atomic<uint64_t> term{0};
  bool is_leader() const override { return leader; }
  uint64_t epoch() const override { return term; }
  bool redis_up() const override { return up; }
  void fenced() override {
    was_fenced = true;
    leader = false;
  }
  void resign() override { leader = false; }
};

template <class F>
bool eventually(F f, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

}  // namespace

TEST(MemoryBroker, NumbersPerTopicDeliversInOrderAndMarksStaleOnce) {
  publish_path path;
  std::vector<uint64_t> delivered;
  auto a = price("BTC-USDT", 1);
  EXPECT_EQ(path.out.publish(a, {"binance", "spot", 5})->rec.seq, 1u);
  EXPECT_EQ(path.out.publish(a, {"binance", "spot", 6})->rec.seq, 2u);
  EXPECT_EQ(path.out.publish(price("ETH-USDT", 1), {"binance", "spot", 7})->rec.seq, 1u);
  auto s = path.out.mark_stale("price.BTC-USDT");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->rec.stale);
  EXPECT_EQ(s->rec.seq, 3u);
  EXPECT_EQ(s->rec.data["price"], 1);
  EXPECT_FALSE(path.out.mark_stale("price.BTC-USDT"));  // already stale: not re-announced again
  EXPECT_FALSE(path.out.mark_stale("price.XRP-USDT"));  // unknown: nothing invented
  EXPECT_EQ(path.cache.latest("price.BTC-USDT")->rec.seq, 3u);
  EXPECT_EQ(path.cache.latest("price.BTC-USDT")->rec.source, "binance");
  EXPECT_EQ(path.cache.latest("price.ETH-USDT")->rec.ts, 7);  // ts defaults to when it arrived
  EXPECT_EQ(path.m.value("tributary_records_total", {{"kind", "price"}, {"source", "binance"}}), 4);
  EXPECT_EQ(path.m.value("tributary_stale_records_total", {{"kind", "price"}}), 1);
  auto held = path.hub.history().since("price.BTC-USDT", 0);
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 3u);
  EXPECT_NE((*held)[0]->frame, "");  // the server's frame, made once
}

TEST(MemoryBroker, ContinuesAfterWhatAStreamHolds) {
  publish_path path;
  path.broker.continue_after("price.BTC-USDT", 41);
  EXPECT_EQ(path.out.publish(price("BTC-USDT", 1))->rec.seq, 42u);
  path.broker.continue_after("price.BTC-USDT", 10);  // never back
  EXPECT_EQ(path.out.publish(price("BTC-USDT", 1))->rec.seq, 43u);
}

// The cache and the history find a topic's entry by its id without comparing names; an id
// is only trusted from the table that gave it. Two brokers give id 0 to different topics (as
// two in one test process do), and a record made outside any broker carries id 0 as well.
TEST(MemoryBroker, TopicIdsOfAnotherTableOrOfNoneAreNotMistakenForOnesOwn) {
  publish_path path(history_options{8, millis(600000), 64u << 20});
  memory_broker other(&update_frame);
  other.on_publication([&](const std::shared_ptr<const published_record>& r) { path.deliver.on_publication(r); });
  for (int i = 1; i <= 3; ++i) {
    auto a = path.out.publish(price("AAA-USDT", i));
    auto b = other.publish(price("BBB-USDT", 10 * i));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->topic_id, b->topic_id);  // each table's first topic
    EXPECT_NE(a->table, b->table);
    path.deliver.on_publication(published_record::make(price("CCC-USDT", 100 * i)));  // id 0, no table
  }
  EXPECT_EQ(path.cache.latest("price.AAA-USDT")->rec.data["price"], 3);
  EXPECT_EQ(path.cache.latest("price.BBB-USDT")->rec.data["price"], 30);
  EXPECT_EQ(path.cache.latest("price.CCC-USDT")->rec.data["price"], 300);
  for (auto [topic, first] : {std::pair{"price.AAA-USDT", 1}, {"price.BBB-USDT", 10}, {"price.CCC-USDT", 100}}) {
    auto held = path.hub.history().window(topic, std::nullopt, 10);
    ASSERT_EQ(held.size(), 3u) << topic;
    for (auto& r : held) EXPECT_EQ(r->topic, topic);
    EXPECT_EQ(held[0]->rec.data["price"], first) << topic;
  }
}

TEST(Intake, CountsContractProblemsPerSource) {
  publish_path path;
  path.out.contract_problems("cmc", {"field 'x' is not in the price vocabulary; dropped", "record price.A was not asked for; dropped"});
  path.out.contract_problems("cmc", {});
  EXPECT_EQ(path.m.value("tributary_plugin_contract_violations_total", {{"source", "cmc"}}), 2);
  for (int i = 0; i < 1000; ++i) path.out.contract_problems("cmc", {"record event.x is not of the feed's kind; dropped"});
  EXPECT_EQ(path.m.value("tributary_plugin_contract_violations_total", {{"source", "cmc"}}), 1002);  // a flood: all counted
}

TEST(RedisBroker, TheLeadersRecordsComeBackFromTheStreamWithItsSeq) {
  redis_server redis;
  metrics m;
  auto log = make_logger("t", "off", nullptr);
  fixed_leadership lead;
  redis_broker_options o{{redis.endpoint(), "b1"}};
  redis_broker b(o, lead, &update_frame, m, log);
  std::mutex mu;
  std::vector<std::pair<std::string, uint64_t>> got;
  b.on_publication([&](const std::shared_ptr<const published_record>& p) {
    std::lock_guard lk(mu);
    got.emplace_back(p->topic, p->rec.seq);
    EXPECT_NE(p->frame, "");
  });
  b.start();
  EXPECT_FALSE(b.publish(price("BTC-USDT", 1)));  // a follower publishes nothing
  EXPECT_FALSE(b.publishing());
  lead.term = 1;
  lead.leader = true;
  ASSERT_TRUE(b.publish(price("BTC-USDT", 1)));
  ASSERT_TRUE(b.publish(price("BTC-USDT", 2)));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return got.size() == 2;
  }));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(got[0], (std::pair<std::string, uint64_t>{"price.BTC-USDT", 1}));
    EXPECT_EQ(got[1], (std::pair<std::string, uint64_t>{"price.BTC-USDT", 2}));
  }
  EXPECT_TRUE(b.has("price.BTC-USDT"));
  b.stop();
}

TEST(RedisBroker, ANewLeaderContinuesAfterWhatItsPredecessorWrote) {
  redis_server redis;
  metrics m;
  auto log = make_logger("t", "off", nullptr);
  fixed_leadership first, second;
  redis_broker a({{redis.endpoint(), "b2"}}, first, &update_frame, m, log), b({{redis.endpoint(), "b2"}}, second, &update_frame, m, log);
  std::atomic<uint64_t> b_last{0};
  b.on_publication([&](const std::shared_ptr<const published_record>& p) { b_last = p->rec.seq; });
  a.start();
  b.start();
  first.term = 1;
  first.leader = true;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.publish(price("BTC-USDT", i)));
  ASSERT_TRUE(eventually([&] { return b_last == 3; }));  // the follower applied 1..3
  first.leader = false;
  second.term = 2;
  second.leader = true;
  auto p = b.publish(price("BTC-USDT", 9));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rec.seq, 4u);
  EXPECT_EQ(p->epoch, 2u);
  ASSERT_TRUE(eventually([&] { return b_last == 4; }));
  redis_client r(redis.endpoint(), millis(500));
  auto seqs = fenced_writer::written_seqs(r, "b2");
  using held = std::map<std::string, uint64_t>;
  ASSERT_TRUE(std::holds_alternative<held>(seqs));
  EXPECT_EQ(std::get<held>(seqs)["price.BTC-USDT"], 4u);
  a.stop();
  b.stop();
}

TEST(RedisBroker, ABurstGoesToTheStreamInBatchesAndComesBackInOrder) {
  redis_server redis;
  metrics m;
  auto log = make_logger("t", "off", nullptr);
  fixed_leadership lead;
  redis_broker b({{redis.endpoint(), "b3"}}, lead, &update_frame, m, log);
  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> got;
  b.on_publication([&](const std::shared_ptr<const published_record>& p) {
    std::lock_guard lk(mu);
    got[p->topic].push_back(p->rec.seq);
  });
  b.start();
  lead.term = 1;
  lead.leader = true;
  redis_client r(redis.endpoint(), millis(500));
  ASSERT_EQ(std::get<redis_reply>(r.command({"CLIENT", "PAUSE", "300", "WRITE"})).str, "OK");  // the burst piles up meanwhile
  const char* subjects[] = {"BTC-USDT", "ETH-USDT", "SOL-USDT"};
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(b.publish(price(subjects[i % 3], i)));  // faster than one round trip each
  ASSERT_TRUE(eventually([&] { return m.value("tributary_stream_writes_total", {{"outcome", "written"}}) == 600; }));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return got.size() == 3 && got["price.SOL-USDT"].size() == 200;
  }));
  std::vector<uint64_t> one_to_200(200);
  std::iota(one_to_200.begin(), one_to_200.end(), 1);
  std::lock_guard lk(mu);
  for (auto* s : subjects) EXPECT_EQ(got[std::string("price.") + s], one_to_200) << s;
  EXPECT_EQ(std::get<redis_reply>(r.command({"XLEN", "tributary:b3:stream"})).integer, 600);
  auto stats = std::get<redis_reply>(r.command({"INFO", "commandstats"})).str;
  auto at = stats.find("cmdstat_evalsha:calls=");
  ASSERT_NE(at, std::string::npos) << stats;
  EXPECT_LE(std::stol(stats.substr(at + 22)), 12) << "600 records in batches of up to 64";
  EXPECT_EQ(m.value("tributary_stream_writes_total", {{"outcome", "duplicate"}}), 0);
  b.stop();
}
