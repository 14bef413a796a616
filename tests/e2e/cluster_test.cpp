// Three `tributary run` instances in cluster mode against a real redis-server, on cassettes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/demo_config.hpp"
#include "../support/process.hpp"
#include "../support/redis_server.hpp"
#include "../support/self_signed_cert.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;



TEST(Cluster, OneLeaderFollowersServeTheSameSeqAndFailoverIsFast) {
  redis_server redis;
  auto cfg = cluster_config(redis.port());
  std::vector<instance> all;
  for (int i = 0; i < 3; ++i) all.push_back(launch(cfg));
  std::vector<bool> alive(3, true);
  int leader = wait_leader(all, std::chrono::seconds(5), alive);
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % 3;
  EXPECT_EQ(all[follower].status()["role"], "follower");
  EXPECT_EQ(all[leader].status()["epoch"], 1);
  auto lm = http_get(all[leader].port, "/metrics").body;
  EXPECT_THAT(lm, HasSubstr("tributary_leader 1"));
  EXPECT_THAT(lm, HasSubstr("tributary_epoch 1"));
  EXPECT_THAT(lm, HasSubstr("tributary_node_info{node=\"" + all[leader].status()["node"].get<std::string>() + "\",mode=\"redis\"} 1"));
  EXPECT_THAT(http_get(all[follower].port, "/metrics").body, HasSubstr("tributary_leader 0"));
  // Only the leader fetches.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_GT(all[leader].status()["feeds"][0]["runs"].get<int>(), 0);
  EXPECT_EQ(all[follower].status()["feeds"][0]["runs"], 0);
  EXPECT_EQ(all[(leader + 2) % 3].status()["feeds"][0]["runs"], 0);

  // A WebSocket client on a follower sees the leader's records, seq for seq, without gaps.
  ws_client ws(all[follower].port);
  ws.read();
  ws.send(R"({"type":"subscribe","topics":["price.BTC-USDT"]})");
  ws.read();
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto m = ws.read();
    uint64_t seq = m["record"]["seq"];
    if (last) EXPECT_EQ(seq, last + 1);
    last = seq;
    EXPECT_EQ(m["record"]["source"], "binance");
  }
  // The leader applies its own records from the stream too, so it may be a read behind.
  uint64_t on_leader = 0;
  for (int i = 0; i < 50 && on_leader < last; ++i) {
    on_leader = json::parse(http_get(all[leader].port, "/api/v1/latest/price.BTC-USDT").body)["seq"].get<uint64_t>();
    if (on_leader < last) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(on_leader, last);

  // kill -9 of the leader: another one leads once the lease (1s) runs out and a follower's next
  // step (250ms) takes it. Timing figures belong to a benchmark; the bound here only catches a
  // failover that does not happen in reasonable time.
  auto killed_at = std::chrono::steady_clock::now();
  all[leader].proc.reset();  // SIGKILL
  alive[leader] = false;
  int next = wait_leader(all, std::chrono::seconds(5), alive);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
  ASSERT_GE(next, 0);
  EXPECT_LE(took.count(), 3000) << "failover took " << took.count() << "ms";
  EXPECT_EQ(all[next].status()["epoch"], 2);
  // The new leader continues the topic's seq where the old one stopped.
  for (int i = 0; i < 3; ++i) {
    auto m = ws.read();
    uint64_t seq = m["record"]["seq"];
    EXPECT_EQ(seq, last + 1);
    last = seq;
  }

  // SIGTERM: the lease is released on the way out, so nobody has to wait for it to expire.
  std::string old_node = all[next].status()["node"];
  all[next].proc->signal(SIGTERM);
  EXPECT_EQ(all[next].proc->wait(), 0);
  alive[next] = false;
  tributary::redis_client rc(redis.endpoint(), tributary::millis(500));
  auto holder = std::get<tributary::redis_reply>(rc.command({"GET", "tributary:e2e:leader"}));
  EXPECT_NE(holder.str, old_node);  // released (nil) or already taken by the last follower
  int third = wait_leader(all, std::chrono::seconds(5), alive);
  ASSERT_GE(third, 0);
  EXPECT_EQ(all[third].status()["epoch"], 3);
}

TEST(Cluster, ARestartedInstanceServesSnapshotsFromRedisAtOnce) {
  redis_server redis;
  auto cfg = cluster_config(redis.port());
  std::vector<instance> all;
  all.push_back(launch(cfg));
  std::vector<bool> alive{true};
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), alive), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto seq = json::parse(http_get(all[0].port, "/api/v1/latest/price.ETH-USDT").body)["seq"].get<uint64_t>();
  ASSERT_GT(seq, 0u);
  all[0].proc->signal(SIGSTOP);  // frozen: it neither fetches nor renews
  auto late = launch(cfg);       // a newcomer loads the latest records before anything else
  auto topics = json::parse(http_get(late.port, "/api/v1/topics").body)["topics"];
  EXPECT_EQ(topics.size(), 7u);
  auto got = json::parse(http_get(late.port, "/api/v1/latest/price.ETH-USDT").body)["seq"].get<uint64_t>();
  EXPECT_GE(got, seq);
  all[0].proc->signal(SIGCONT);
}

TEST(Cluster, APausedLeaderCannotWriteAfterItsLeaseAndStepsDown) {
  redis_server redis;
  auto cfg = cluster_config(redis.port());
  std::vector<instance> all;
  all.push_back(launch(cfg));
  std::vector<bool> alive{true, true};
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  all[0].proc->signal(SIGSTOP);  // past its 1s lease
  std::vector<bool> only_second{false, true};
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), only_second), 1);
  EXPECT_EQ(all[1].status()["epoch"], 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  all[0].proc->signal(SIGCONT);  // it wakes up believing it leads, with records to write
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(all[0].status()["role"], "follower");
  EXPECT_EQ(all[1].status()["role"], "leader");
  // In the stream, no entry of epoch 1 follows the first entry of epoch 2.
  tributary::redis_client rc(redis.endpoint(), tributary::millis(1000));
  auto x = std::get<tributary::redis_reply>(rc.command({"XRANGE", "tributary:e2e:stream", "-", "+"}));
  bool seen2 = false;
  int late_epoch1 = 0;
  for (const auto& e : x.elements) {
    std::string epoch = e.elements[1].elements[3].str;
    if (epoch == "2") seen2 = true;
    if (seen2 && epoch == "1") ++late_epoch1;
  }
  EXPECT_TRUE(seen2);
  EXPECT_EQ(late_epoch1, 0);
}

TEST(Cluster, ARedisRestartLosesNoRecordWithinTheBuffer) {
  redis_server redis;
  auto cfg = cluster_config(redis.port());
  // A lease longer than the outage, so the leader keeps fetching and buffering through it.
  cfg.replace(cfg.find("lease = \"1s\""), 12, "lease = \"5s\"");
  std::vector<instance> all;
  all.push_back(launch(cfg));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ws_client ws(all[1].port);  // on the follower: everything it gets came through Redis
  ws.read();
  ws.send(R"({"type":"subscribe","topics":["price.SOL-USDT"]})");
  ws.read();
  uint64_t last = ws.read()["record"]["seq"];
  redis.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(http_get(all[0].port, "/ready").status, 503);
  EXPECT_EQ(http_get(all[1].port, "/health").status, 200);  // serving goes on from memory
  redis.start();
  // Every record the leader made during the outage arrives, in order, with no gap.
  for (int i = 0; i < 12; ++i) {
    auto m = ws.read();
    uint64_t seq = m["record"]["seq"];
    ASSERT_EQ(seq, last + 1) << "gap after the Redis restart";
    last = seq;
  }
  auto metrics = http_get(all[0].port, "/metrics").body;
  EXPECT_GT(metric(metrics, "tributary_stream_writes_total{outcome=\"unavailable\"}"), 0);
  EXPECT_THAT(metrics, HasSubstr("tributary_stream_drops_total{reason=\"buffer_full\"} 0"));
}

TEST(Cluster, RedissReachesATlsOnlyRedis) {
  temp_dir certs;
  auto cert = make_localhost_cert();
  auto ca = certs.write("ca.pem", cert.cert_pem);
  ::setenv("SSL_CERT_FILE", ca.c_str(), 1);  // trusted by this test and the instances it starts
  redis_server redis(redis_tls{certs.write("cert.pem", cert.cert_pem).string(), certs.write("key.pem", cert.key_pem).string()});
  auto cfg = cluster_config(redis.port());
  cfg.replace(cfg.find("redis://127.0.0.1:"), 18, "rediss://localhost:");
  std::vector<instance> all;
  all.push_back(launch(cfg));
  all.push_back(launch(cfg));
  ::unsetenv("SSL_CERT_FILE");
  std::vector<bool> alive{true, true};
  int leader = wait_leader(all, std::chrono::seconds(5), alive);
  ASSERT_GE(leader, 0) << all[0].proc->err();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto at_leader = json::parse(http_get(all[leader].port, "/api/v1/latest/price.ETH-USDT").body);
  auto at_follower = json::parse(http_get(all[1 - leader].port, "/api/v1/latest/price.ETH-USDT").body);
  ASSERT_TRUE(at_leader.contains("seq")) << at_leader.dump();
  EXPECT_GE(at_follower.value("seq", 0u) + 1, at_leader["seq"].get<uint64_t>());  // the follower reads Redis over TLS
  for (auto& in : all) {  // both reach Redis over TLS and write the stream through it
    EXPECT_EQ(in.status()["cluster"]["redis"], "up");
    EXPECT_EQ(in.status()["cluster"]["stream_writes"], "ok");
  }
}

TEST(StandaloneStream, RecordsAreAppendedToTheRedisStreamWhenEnabled) {
  redis_server redis;
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[server]
listen = "127.0.0.1:0"
[cluster]
redis_url = "redis://127.0.0.1:)" + std::to_string(redis.port()) + R"("
name = "solo"
[stream]
enabled = true
maxlen = 100
)" + demo_spot_feed("200ms"));
  child c({TRIBUTARY_EXE, "run", "-c", cfg.string(), "--replay", TRIBUTARY_SOURCE_DIR "/config/demo-cassettes", "--port-file",
           (d.path() / "port").string()},
          d.path());
  tributary::redis_client rc(redis.endpoint(), tributary::millis(1000));
  long long n = 0;
  for (int i = 0; i < 200 && n < 14; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    n = std::get<tributary::redis_reply>(rc.command({"XLEN", "tributary:solo:stream"})).integer;
  }
  EXPECT_GE(n, 14);  // two rounds of seven records
  auto latest = std::get<tributary::redis_reply>(rc.command({"GET", "tributary:solo:latest:price.BTC-USDT"}));
  EXPECT_THAT(latest.str, HasSubstr("\"schema\":\"tributary.v1\""));
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0);
}

// A standalone restarted with [stream] enabled continues each topic's numbering after what the
// stream holds: its writes land (none is a duplicate) and Redis's latest record is the new one.
TEST(StandaloneStream, ARestartContinuesTheNumberingTheStreamHolds) {
  redis_server redis;
  std::string cfg = std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[server]
listen = "127.0.0.1:0"
[cluster]
redis_url = "redis://127.0.0.1:)" + std::to_string(redis.port()) + R"("
name = "again"
[stream]
enabled = true
)" + demo_spot_feed("200ms");
  tributary::redis_client rc(redis.endpoint(), tributary::millis(1000));
  auto written = [&] {
    auto v = std::get<tributary::redis_reply>(rc.command({"HGET", "tributary:again:seqs", "price.BTC-USDT"}));
    return v.str.empty() ? 0ull : std::stoull(v.str);  // "seq|epoch"
  };
  uint64_t before = 0;
  {
    auto first = launch(cfg);
    for (int i = 0; i < 400 && written() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    first.proc->signal(SIGTERM);
    EXPECT_EQ(first.proc->wait(), 0);
    before = written();
    ASSERT_GE(before, 3u);
  }
  auto second = launch(cfg);
  for (int i = 0; i < 400 && written() < before + 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_GE(written(), before + 3);  // numbered after what the first run wrote, and written
  auto served = json::parse(http_get(second.port, "/api/v1/latest/price.BTC-USDT").body);
  EXPECT_GT(served["seq"].get<uint64_t>(), before);
  auto latest = json::parse(std::get<tributary::redis_reply>(rc.command({"GET", "tributary:again:latest:price.BTC-USDT"})).str);
  EXPECT_GT(latest["seq"].get<uint64_t>(), before);  // Redis keeps the new run's record, not the old one
  auto metrics = http_get(second.port, "/metrics").body;
  EXPECT_EQ(metric(metrics, "tributary_stream_writes_total{outcome=\"duplicate\"}"), 0);
  EXPECT_GT(metric(metrics, "tributary_stream_writes_total{outcome=\"written\"}"), 0);
}

TEST(Cluster, AFeedPausedThroughAFollowerStopsOnTheLeader) {
  redis_server redis;
  const std::string token = "adm-cluster-7b1d-token";
  auto cfg = cluster_config(redis.port()) + "[server.auth]\nadmin_token = \"" + token + "\"\n";
  std::vector<instance> all;
  all.push_back(launch(cfg));
  all.back().admin_token = token;
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg));
  auto leader_runs = [&] { return all[0].status()["feeds"][0]; };
  EXPECT_EQ(http_call(all[1].port, http::verb::post, "/api/v1/feeds/spot/pause", token).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the leader looks every 250ms
  auto before = leader_runs();
  EXPECT_EQ(before["paused"], true);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(leader_runs()["runs"], before["runs"]);
  EXPECT_EQ(http_call(all[1].port, http::verb::post, "/api/v1/feeds/spot/resume", token).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_GT(leader_runs()["runs"].get<int>(), before["runs"].get<int>());
}

TEST(Cluster, FollowersServeTheLeadersViewsWithTheSameSeq) {
  redis_server redis;
  auto cfg = cluster_config(redis.port()) +
             "[views.summary]\nroute = \"/summary\"\nfields = { btc = \"price.BTC-USDT:price\", eth = \"price.ETH-USDT:price\" }\n";
  std::vector<instance> all;
  all.push_back(launch(cfg));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg));
  auto view_of = [&](size_t i) {
    auto r = http_get(all[i].port, "/api/v1/latest/view.summary");
    return r.status == 200 ? json::parse(r.body) : json();
  };
  json on_leader, on_follower;
  for (int i = 0; i < 250 && (on_leader.is_null() || on_follower.is_null()); ++i) {
    on_leader = view_of(0), on_follower = view_of(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(on_follower.is_null());
  EXPECT_EQ(on_follower, on_leader);  // the leader's record, seq included
  EXPECT_EQ(on_follower["data"]["btc"], 84250.12);
  EXPECT_EQ(json::parse(http_get(all[1].port, "/summary").body), on_leader["data"]);
  // The same inputs again and again change nothing: still the first view record, also after
  // the follower takes over.
  all[0].proc->signal(SIGKILL);
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {false, true}), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(view_of(1)["seq"], on_leader["seq"]);
}
