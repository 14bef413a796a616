// Faults under load: three instances on one real redis-server, a WebSocket client on every
// node, and then the leader killed or paused, Redis restarted or out of memory. Afterwards:
// per topic no seq shows different records on different nodes, no seq repeats in the stream,
// nothing within the buffer is lost, and what went wrong shows in status and metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "../support/redis_server.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// Every update a client on one node received, by (topic, seq).
class observer {
 public:
  // Quiet for as long as an outage lasts: a read may wait a minute.
  explicit observer(unsigned short port) : ws_(std::make_unique<ws_client>(port, "/ws", std::chrono::seconds(60))) {
    ws_->read();
    ws_->send(R"({"type":"subscribe","topics":["price.*"]})");
    ws_->read();
    thread_ = std::thread([this] {
      try {
        while (!stop_) {
          auto m = ws_->read();
          if (m["type"] != "update" && m["type"] != "snapshot") continue;
          std::lock_guard lk(mu_);
          seen_[{m["topic"], m["record"]["seq"]}] = m["record"];
          order_[m["topic"]].push_back(m["record"]["seq"]);
        }
      } catch (...) {  // the node went away, or was paused past the read timeout
      }
    });
  }
  ~observer() {
    stop_ = true;
    ::shutdown(beast::get_lowest_layer(ws_->raw()).socket().native_handle(), SHUT_RDWR);
    thread_.join();
  }
  std::map<std::pair<std::string, uint64_t>, json> seen() {
    std::lock_guard lk(mu_);
    return seen_;
  }
  std::map<std::string, std::vector<uint64_t>> order() {
    std::lock_guard lk(mu_);
    return order_;
  }

 private:
  std::unique_ptr<ws_client> ws_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, json> seen_;
  std::map<std::string, std::vector<uint64_t>> order_;
  std::thread thread_;
};

struct cluster {
  redis_server redis;
  std::vector<instance> nodes;
  std::vector<std::unique_ptr<observer>> observers;
  int leader = -1;

  cluster(bool persistent, const std::string& lease, const std::string& renew) : redis(persistent) {
    auto cfg = cluster_config(redis.port());
    cfg.replace(cfg.find("lease = \"1s\""), 12, "lease = \"" + lease + "\"");
    cfg.replace(cfg.find("renew_every = \"250ms\""), 21, "renew_every = \"" + renew + "\"");
    nodes.push_back(launch(cfg));
    leader = wait_leader(nodes, std::chrono::seconds(5), {true});
    for (int i = 0; i < 2; ++i) nodes.push_back(launch(cfg));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (auto& n : nodes) observers.push_back(std::make_unique<observer>(n.port));
  }

  // No (topic, seq) with two different records across nodes; returns how many pairs were compared.
  size_t expect_one_truth_per_seq() {
    std::map<std::pair<std::string, uint64_t>, json> truth;
    size_t compared = 0;
    for (auto& o : observers)
      for (auto& [key, rec] : o->seen()) {
        auto [it, fresh] = truth.emplace(key, rec);
        if (!fresh) {
          ++compared;
          EXPECT_EQ(it->second, rec) << key.first << " seq " << key.second << " differs between nodes";
        }
      }
    return compared;
  }

  // Per topic, the seqs one node's client saw never repeat or go back, and skip none.
  void expect_no_gap(size_t node) {
    for (auto& [topic, seqs] : observers[node]->order())
      for (size_t i = 1; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], seqs[i - 1] + 1) << topic << " on node " << node;
  }

  // No (topic, seq) twice in the stream, and per topic in increasing order.
  void expect_stream_unique() {
    tributary::redis_client rc(redis.endpoint(), tributary::millis(2000));
    auto all = std::get<tributary::redis_reply>(rc.command({"XRANGE", "tributary:e2e:stream", "-", "+"}));
    std::map<std::string, uint64_t> last;
    for (auto& e : all.elements) {
      std::string topic;
      uint64_t seq = 0;
      auto& f = e.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "topic") topic = f[i + 1].str;
        if (f[i].str == "seq") seq = std::stoull(f[i + 1].str);
      }
      EXPECT_GT(seq, last[topic]) << topic << " seq " << seq << " repeats or goes back in the stream";
      last[topic] = seq;
    }
    EXPECT_GT(all.elements.size(), 20u);
  }
};

}  // namespace

TEST(Chaos, APausedLeaderNeverShowsASeqTheClusterContradicts) {
  cluster c(false, "1s", "250ms");
  ASSERT_EQ(c.leader, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c.nodes[0].proc->signal(SIGSTOP);
  int next = wait_leader(c.nodes, std::chrono::seconds(5), {false, true, true});
  ASSERT_GT(next, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c.nodes[0].proc->signal(SIGCONT);  // wakes up believing it leads, with fetched records in hand
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_EQ(wait_leader(c.nodes, std::chrono::seconds(3), {true, true, true}), next);
  EXPECT_GT(c.expect_one_truth_per_seq(), 50u);
  c.expect_stream_unique();
  c.expect_no_gap(next);
}

TEST(Chaos, AKilledLeaderIsReplacedAndEverySeqStaysOneRecord) {
  cluster c(false, "1s", "250ms");
  ASSERT_EQ(c.leader, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c.nodes[0].proc->signal(SIGKILL);
  int next = wait_leader(c.nodes, std::chrono::seconds(5), {false, true, true});
  ASSERT_GT(next, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_GT(c.expect_one_truth_per_seq(), 50u);
  c.expect_stream_unique();
  c.expect_no_gap(1);
  c.expect_no_gap(2);
}

TEST(Chaos, ARedisOutageOfTenSecondsLosesNothingWithinTheBuffer) {
  cluster c(true, "15s", "1s");  // the lease outlives the outage: the leader buffers through it
  ASSERT_EQ(c.leader, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  c.redis.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto ready = http_get(c.nodes[0].port, "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_GT(json::parse(http_get(c.nodes[0].port, "/api/v1/status").body)["cluster"]["buffered"].get<int>(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(8500));
  c.redis.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  EXPECT_EQ(http_get(c.nodes[0].port, "/ready").status, 200);
  EXPECT_GT(c.expect_one_truth_per_seq(), 100u);
  c.expect_stream_unique();
  for (size_t n = 0; n < 3; ++n) c.expect_no_gap(n);
  auto m = http_get(c.nodes[0].port, "/metrics").body;
  EXPECT_THAT(m, HasSubstr("tributary_stream_drops_total{reason=\"buffer_full\"} 0"));
  EXPECT_THAT(m, HasSubstr("tributary_stream_drops_total{reason=\"fenced\"} 0"));
}

TEST(Chaos, RedisOutOfMemoryShowsInReadyStatusAndMetricsAndLosesNothing) {
  cluster c(false, "15s", "1s");
  ASSERT_EQ(c.leader, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  tributary::redis_client rc(c.redis.endpoint(), tributary::millis(1000));
  rc.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  rc.command({"CONFIG", "SET", "maxmemory", "1"});  // every write is refused: OOM
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto ready = http_get(c.nodes[0].port, "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("stream writes failing"));
  EXPECT_THAT(ready.body, HasSubstr("OOM"));
  auto st = c.nodes[0].status()["cluster"];
  EXPECT_EQ(st["stream_writes"], "failing");
  EXPECT_THAT(http_get(c.nodes[0].port, "/metrics").body, HasSubstr("tributary_stream_write_failing 1"));
  rc.command({"CONFIG", "SET", "maxmemory", "0"});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(http_get(c.nodes[0].port, "/ready").status, 200);
  EXPECT_GT(c.expect_one_truth_per_seq(), 50u);
  c.expect_stream_unique();
  for (size_t n = 0; n < 3; ++n) c.expect_no_gap(n);
}

TEST(Chaos, ANewLeaderHonoursAPauseItsPredecessorWasTold) {
  redis_server redis;
  temp_dir cassettes;
  // The first ticker request is refused with Retry-After: 60; any later one would be served.
  auto ok = json::parse(slurp(TRIBUTARY_SOURCE_DIR "/config/demo-cassettes/binance-ticker.json"));
  auto refused = ok;
  refused["response"] = {{"status", 429}, {"headers", {{"Retry-After", "60"}}}, {"body", {{"code", -1003}, {"msg", "Too many requests"}}}};
  cassettes.write("00-429.json", refused.dump());
  cassettes.write("01-ok.json", ok.dump());
  auto cfg = cluster_config(redis.port());
  std::vector<instance> nodes;
  nodes.push_back(launch(cfg, cassettes.path().string()));
  ASSERT_EQ(wait_leader(nodes, std::chrono::seconds(5), {true}), 0);
  for (int i = 0; i < 100 && nodes[0].status()["plugins"][0]["paused_for_ms"].get<int64_t>() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(nodes[0].status()["plugins"][0]["paused_for_ms"].get<int64_t>(), 50000);
  nodes.push_back(launch(cfg, cassettes.path().string()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  nodes[0].proc->signal(SIGKILL);
  ASSERT_EQ(wait_leader(nodes, std::chrono::seconds(5), {false, true}), 1);
  for (int i = 0; i < 100 && nodes[1].status()["feeds"][0]["runs"].get<int>() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto st = nodes[1].status();
  EXPECT_GE(st["feeds"][0]["runs"].get<int>(), 3);
  EXPECT_THAT(st["feeds"][0]["skipped"][0].get<std::string>(), HasSubstr("paused for"));
  EXPECT_GT(st["plugins"][0]["paused_for_ms"].get<int64_t>(), 50000);
  // It never asked Binance: no request at all, so not the 429 its own first request would get.
  EXPECT_THAT(http_get(nodes[1].port, "/metrics").body, Not(HasSubstr("tributary_fetches_total{source=\"binance\"")));
}
