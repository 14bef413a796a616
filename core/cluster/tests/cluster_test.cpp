// Leader election, fencing and the fenced stream/cache write against a real redis-server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "../../../tests/support/numbered_record.hpp"
#include "../../../tests/support/redis_server.hpp"
#include "sink/fenced_writer.hpp"
#include "cluster/demand_share.hpp"
#include "cluster/lease_keeper.hpp"
#include "ingest/limits/redis_limits.hpp"
#include "publish/published.hpp"
#include "util/clock.hpp"

using namespace tributary;
using namespace tributary::test_support;
using role = lease_keeper::role;
using ::testing::HasSubstr;

namespace {
const auto& rec = numbered_price;
}  // namespace

TEST(RedisUrl, Parses) {
  auto e = parse_redis_url("redis://user:pw@10.1.2.3:6380/2");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "10.1.2.3");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->user, "user");
  EXPECT_EQ(e->password, "pw");
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(parse_redis_url("redis://localhost")->port, 6379);
  EXPECT_EQ(parse_redis_url("redis://:secret@h:1")->password, "secret");
  EXPECT_FALSE(parse_redis_url("http://h:1"));
  EXPECT_FALSE(parse_redis_url("redis://h:notaport"));
}

TEST(LeaseKeeper, ExactlyOneLeaderAndANewEpochOnEveryAcquisition) {
  redis_server server;
  system_clock_source clock;
  redis_client ra(server.endpoint(), millis(500)), rb(server.endpoint(), millis(500)), rc(server.endpoint(), millis(500));
  lease_keeper a(ra, "t", "node-a", millis(300), clock), b(rb, "t", "node-b", millis(300), clock), c(rc, "t", "node-c", millis(300), clock);
  EXPECT_EQ(a.step(), role::leader);
  EXPECT_EQ(a.epoch(), 1u);
  EXPECT_EQ(b.step(), role::follower);
  EXPECT_EQ(c.step(), role::follower);
  EXPECT_EQ(a.step(), role::leader);  // renewal keeps it
  // a stops renewing (dead or paused): its lease runs out and someone else takes over.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(b.step(), role::leader);
  EXPECT_EQ(b.epoch(), 2u);
  EXPECT_EQ(c.step(), role::follower);
  // a comes back: its renewal is refused because the key is b's now.
  EXPECT_EQ(a.step(), role::follower);
  EXPECT_THAT(a.last_error(), HasSubstr("lease lost"));
}

TEST(LeaseKeeper, GracefulReleaseHandsOverAtOnce) {
  redis_server server;
  system_clock_source clock;
  redis_client ra(server.endpoint(), millis(500)), rb(server.endpoint(), millis(500));
  lease_keeper a(ra, "t", "a", millis(10000), clock), b(rb, "t", "b", millis(10000), clock);
  ASSERT_EQ(a.step(), role::leader);
  ASSERT_EQ(b.step(), role::follower);
  a.release();
  EXPECT_EQ(a.current(), role::follower);
  EXPECT_EQ(b.step(), role::leader);
  b.release();
  b.release();  // idempotent
  // A release by a non-holder never drops someone else's lease.
  ASSERT_EQ(a.step(), role::leader);
  lease_keeper impostor(rb, "t", "b", millis(10000), clock);
  impostor.release();
  EXPECT_EQ(a.step(), role::leader);
}

TEST(LeaseKeeper, ATransientRedisErrorDoesNotDemoteWhileTheLeaseHolds) {
  redis_server server;
  fake_clock clock(1000);
  redis_client r(server.endpoint(), millis(200));
  lease_keeper k(r, "t", "a", millis(3000), clock);
  ASSERT_EQ(k.step(), role::leader);
  server.stop();
  clock.advance(1000);
  EXPECT_EQ(k.step(), role::leader);  // Redis is gone, but our lease is valid until 4000
  EXPECT_FALSE(k.last_error().empty());
  clock.advance(2000);
  EXPECT_EQ(k.step(), role::follower);  // at 4000 it may have expired: step down
}

TEST(FencedWriter, AnOlderEpochCannotWrite) {
  redis_server server;
  system_clock_source clock;
  redis_client ra(server.endpoint(), millis(500)), rb(server.endpoint(), millis(500)), rq(server.endpoint(), millis(500));
  lease_keeper a(ra, "t", "a", millis(200), clock), b(rb, "t", "b", millis(200), clock);
  fenced_writer wa(ra, "t", 1000, millis(60000)), wb(rb, "t", 1000, millis(60000));
  ASSERT_EQ(a.step(), role::leader);
  EXPECT_EQ(wa.write(a.epoch(), *rec("BTC-USDT", 1)), fenced_writer::result::written);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a "paused" past its lease
  ASSERT_EQ(b.step(), role::leader);
  EXPECT_EQ(wb.write(b.epoch(), *rec("BTC-USDT", 2)), fenced_writer::result::written);
  std::string why;
  EXPECT_EQ(wa.write(a.epoch(), *rec("BTC-USDT", 99), &why), fenced_writer::result::fenced);  // a resumes: refused
  EXPECT_THAT(why, HasSubstr("FENCED epoch 1 is older than 2"));
  // The stream holds exactly the two accepted writes, with their epochs and seqs.
  auto x = std::get<redis_reply>(rq.command({"XRANGE", wa.stream_key(), "-", "+"}));
  ASSERT_EQ(x.elements.size(), 2u);
  auto fields = x.elements[1].elements[1].elements;  // [id, [k, v, k, v, ...]]
  ASSERT_EQ(fields.size(), 14u);  // topic, epoch, seq, kind, ts, stale, record
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) f[fields[i].str] = fields[i + 1].str;
  EXPECT_EQ(fields[0].str, "topic");
  EXPECT_EQ(f["topic"], "price.BTC-USDT");
  EXPECT_EQ(f["epoch"], "2");
  EXPECT_EQ(f["seq"], "2");
  EXPECT_EQ(f["kind"], "price");
  EXPECT_EQ(f["stale"], "0");
  EXPECT_THAT(f["record"], HasSubstr("\"seq\":2"));
  auto latest = std::get<redis_reply>(rq.command({"GET", wa.latest_key("price.BTC-USDT")}));
  EXPECT_THAT(latest.str, HasSubstr("\"seq\":2"));
  auto ttl = std::get<redis_reply>(rq.command({"PTTL", wa.latest_key("price.BTC-USDT")}));
  EXPECT_GT(ttl.integer, 50000);
}

namespace {
// The stream's entries as (topic, seq, epoch), oldest first.
std::vector<std::tuple<std::string, std::string, std::string>> entries(redis_client& r, const fenced_writer& w) {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  auto x = std::get<redis_reply>(r.command({"XRANGE", w.stream_key(), "-", "+"}));
  for (auto& e : x.elements) {
    std::map<std::string, std::string> f;
    auto& kv = e.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) f[kv[i].str] = kv[i + 1].str;
    out.emplace_back(f["topic"], f["seq"], f["epoch"]);
  }
  return out;
}
using fw = fenced_writer::result;
}  // namespace

TEST(FencedWriter, ABatchIsWrittenInOrderAndEachRecordGetsTheSingleWritesOutcome) {
  redis_server server;
  redis_client r(server.endpoint(), millis(500)), q(server.endpoint(), millis(500));
  fenced_writer w(r, "t", 1000, millis(60000));
  ASSERT_EQ(w.write(1, *rec("BTC-USDT", 1)), fw::written);
  ASSERT_EQ(w.write(1, *rec("BTC-USDT", 2)), fw::written);  // as if a batch's first try had landed this far
  auto b1 = rec("BTC-USDT", 1), b2 = rec("BTC-USDT", 2), e1 = rec("ETH-USDT", 1), b3 = rec("BTC-USDT", 3), e2 = rec("ETH-USDT", 2);
  const published_record* batch[] = {b1.get(), b2.get(), e1.get(), b3.get(), e2.get()};
  std::vector<fenced_writer::outcome> out;
  ASSERT_EQ(w.write_batch(1, batch, out), fw::written);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].res, fw::duplicate);
  EXPECT_EQ(out[1].res, fw::duplicate);
  EXPECT_EQ(out[2].res, fw::written);
  EXPECT_EQ(out[3].res, fw::written);
  EXPECT_EQ(out[4].res, fw::written);
  using e = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(entries(q, w), (std::vector<e>{{"price.BTC-USDT", "1", "1"}, {"price.BTC-USDT", "2", "1"}, {"price.ETH-USDT", "1", "1"},
                                          {"price.BTC-USDT", "3", "1"}, {"price.ETH-USDT", "2", "1"}}));
  EXPECT_THAT(std::get<redis_reply>(q.command({"GET", w.latest_key("price.BTC-USDT")})).str, HasSubstr("\"seq\":3"));
  EXPECT_THAT(std::get<redis_reply>(q.command({"GET", w.latest_key("price.ETH-USDT")})).str, HasSubstr("\"seq\":2"));
  auto seqs = std::get<std::map<std::string, uint64_t>>(fenced_writer::written_seqs(q, "t"));
  EXPECT_EQ(seqs["price.BTC-USDT"], 3u);
  EXPECT_EQ(seqs["price.ETH-USDT"], 2u);
  // A newer leader numbering behind: that record conflicts, the rest of its batch is written.
  auto behind = rec("BTC-USDT", 2), sol = rec("SOL-USDT", 1);
  const published_record* next[] = {behind.get(), sol.get()};
  ASSERT_EQ(w.write_batch(2, next, out), fw::written);
  EXPECT_EQ(out[0].res, fw::conflict);
  EXPECT_EQ(out[0].last_seq, 3u);
  EXPECT_THAT(out[0].why, HasSubstr("seq 2 of price.BTC-USDT"));
  EXPECT_EQ(out[1].res, fw::written);
  EXPECT_EQ(entries(q, w).size(), 6u);
}

TEST(FencedWriter, AFencedBatchWritesNothing) {
  redis_server server;
  redis_client r(server.endpoint(), millis(500)), q(server.endpoint(), millis(500));
  fenced_writer w(r, "t", 1000, millis(60000));
  q.command({"SET", "tributary:t:epoch", "3"});
  auto a = rec("BTC-USDT", 1), b = rec("ETH-USDT", 1);
  const published_record* batch[] = {a.get(), b.get()};
  std::vector<fenced_writer::outcome> out;
  std::string why;
  EXPECT_EQ(w.write_batch(2, batch, out, &why), fw::fenced);
  EXPECT_THAT(why, HasSubstr("FENCED epoch 2 is older than 3"));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(entries(q, w).empty());
  EXPECT_EQ(std::get<redis_reply>(q.command({"HLEN", "tributary:t:seqs"})).integer, 0);
}

TEST(FencedWriter, TheScriptIsLoadedAgainWhenRedisHasLostIt) {
  redis_server server;
  redis_client r(server.endpoint(), millis(500)), q(server.endpoint(), millis(500));
  fenced_writer w(r, "t", 1000, millis(60000));
  ASSERT_EQ(w.write(1, *rec("BTC-USDT", 1)), fw::written);
  ASSERT_EQ(std::get<redis_reply>(q.command({"SCRIPT", "FLUSH"})).str, "OK");  // as a restarted Redis has none
  std::string why;
  EXPECT_EQ(w.write(1, *rec("BTC-USDT", 2), &why), fw::written) << why;
  EXPECT_EQ(entries(q, w).size(), 2u);
}

TEST(FencedWriter, UnreachableRedisIsReportedNotThrown) {
  redis_server server;
  redis_client r(server.endpoint(), millis(200));
  fenced_writer w(r, "t", 10, millis(1000));
  server.stop();
  std::string why;
  EXPECT_EQ(w.write(1, *rec("BTC-USDT", 1), &why), fenced_writer::result::unavailable);
  EXPECT_THAT(why, HasSubstr("redis 127.0.0.1:"));
}

TEST(RedisLimits, BudgetsAndPausesAreSharedBetweenInstances) {
  redis_server redis;
  redis_limits a(redis.endpoint(), "t"), b(redis.endpoint(), "t");
  using kind = shared_limits::verdict::kind;
  std::vector<rate_limit_config> w{{2, millis(60000), 2}, {100, millis(86400000), 100}};
  EXPECT_EQ(a.take("cmc", w, 1, 1000).result, kind::ok);
  EXPECT_EQ(b.take("cmc", w, 1, 1000).result, kind::ok);  // the other instance spends the same budget
  auto spent = a.take("cmc", w, 1, 1000);
  EXPECT_EQ(spent.result, kind::budget_spent);
  EXPECT_NEAR(spent.wait_ms, 30001, 2);
  EXPECT_EQ(b.take("cmc", w, 1, 31002).result, kind::ok);  // refilled at 2 a minute
  EXPECT_EQ(b.take("other", w, 1, 1000).result, kind::ok);  // per source
  a.pause("cmc", 60000);
  a.pause("cmc", 10);  // a shorter pause does not shorten it
  auto paused = b.take("cmc", w, 1, 40000);
  EXPECT_EQ(paused.result, kind::paused);
  EXPECT_GT(paused.wait_ms, 59000);
  redis.stop();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(a.take("cmc", w, 1, 50000).result, kind::unavailable);
  EXPECT_EQ(a.take("cmc", w, 1, 50000).result, kind::unavailable);  // not asked again: no wait
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
}

TEST(RedisUrl, Ipv6HostsCredentialsAndClearReasons) {
  auto v6 = parse_redis_url("redis://:p%40ss@[::1]:6380/3");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6380);
  EXPECT_EQ(v6->password, "p@ss");  // percent-decoded
  EXPECT_EQ(v6->db, 3);
  auto why = [](const char* u) {
    auto r = parse_redis_url_or_why(u);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("parsed");
  };
  EXPECT_THAT(why("redis://:secret@h:0"), ::testing::Not(::testing::HasSubstr("secret")));
  EXPECT_THAT(why("http://h:1"), ::testing::HasSubstr("not redis://"));
  EXPECT_THAT(why("redis://h:0"), ::testing::HasSubstr("port '0' is not 1-65535"));
  EXPECT_THAT(why("redis://h:1/x"), ::testing::HasSubstr("database 'x' is not a number"));
}

TEST(RedisUrl, AClientReachesRedisOverIpv6) {
  redis_server redis;  // binds 127.0.0.1 and ::1 when the machine has IPv6
  auto ep = parse_redis_url("redis://[::1]:" + std::to_string(redis.port()));
  ASSERT_TRUE(ep);
  redis_client c(*ep, millis(1000));
  auto r = c.command({"PING"});
  if (auto* e = std::get_if<std::string>(&r)) GTEST_SKIP() << "no IPv6 loopback here: " << *e;
  EXPECT_EQ(std::get<redis_reply>(r).str, "PONG");
}

// demand = "subscribed" in a cluster: what a follower's clients want reaches the leader through
// Redis; what it stops wanting goes at once, and a node that dies stops counting after the TTL.
TEST(DemandShare, TheLeaderSeesEveryNodesDemandUntilItGoesOrExpires) {
  redis_server redis;
  redis_client ra(redis.endpoint(), millis(1000)), rb(redis.endpoint(), millis(1000));
  std::set<std::string> a_wants{"price.ETH-USDT"}, seen;
  int reads = 0;
  demand_share a("tributary:t:demand", "node-a", [&] { return a_wants; }, [](auto&) { FAIL() << "a follower reads"; }, [] { return true; }, 30000);
  demand_share b("tributary:t:demand", "node-b", [] { return std::set<std::string>{"price.BTC-USDT"}; },
                 [&](const std::set<std::string>& all) { seen = all, ++reads; }, [] { return true; }, 30000);
  a.step(ra, /*leader=*/false, 1000);
  b.step(rb, /*leader=*/true, 1000);
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(seen, (std::set<std::string>{"price.BTC-USDT", "price.ETH-USDT"}));
  a_wants = {"price.SOL-USDT"};
  a.step(ra, false, 2000);
  b.step(rb, true, 2000);
  EXPECT_EQ(seen, (std::set<std::string>{"price.BTC-USDT", "price.SOL-USDT"}));  // ETH removed, not left to expire
  // node-a dies: its last write expires 30 s after it; node-b keeps refreshing its own.
  b.step(rb, true, 20000);
  EXPECT_EQ(seen.count("price.SOL-USDT"), 1u);
  b.step(rb, true, 32001);
  EXPECT_EQ(seen, (std::set<std::string>{"price.BTC-USDT"}));
  auto n = rb.command({"ZCARD", "tributary:t:demand"});
  EXPECT_EQ(std::get<redis_reply>(n).integer, 1);  // the expired members are gone from Redis too
  // Redis restarted empty: the next write puts back everything, not only what changed.
  redis.stop();
  a.step(ra, false, 33000);
  redis.start();
  a.step(ra, false, 33500);
  b.step(rb, true, 33500);
  EXPECT_EQ(seen.count("price.SOL-USDT"), 1u);
}
