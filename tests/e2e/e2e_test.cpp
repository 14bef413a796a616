// `tributary` as a user runs it: run --replay on port 0 with a WebSocket client, the HTTP API,
// fetch, check and a clean stop on SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;

namespace {

const std::string kExe = TRIBUTARY_EXE;
const std::string kDemo = TRIBUTARY_SOURCE_DIR "/config/demo-cassettes";

std::string fast_config() {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
[plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"]
every = "200ms"
sources = ["binance"]
)";
}

unsigned short wait_port(const temp_dir& d, child& c) {
  for (int i = 0; i < 500; ++i) {
    auto text = slurp(d.path() / "port");
    if (!text.empty()) return static_cast<unsigned short>(std::stoi(text));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no port file; stderr:\n" << c.err();
  return 0;
}

}  // namespace

TEST(E2E, RunReplayServesSnapshotsThenUpdatesOverWebSocket) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  child c({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()}, d.path());
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  // Wait until the first fetch has landed so the subscription gets snapshots.
  for (int i = 0; i < 200; ++i) {
    auto t = json::parse(http_get(port, "/api/v1/topics").body);
    if (t["topics"].size() == 7) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ws_client ws(port);
  EXPECT_EQ(ws.read()["type"], "hello");
  ws.send(R"({"type":"subscribe","id":"s1","topics":["price.*"]})");
  EXPECT_EQ(ws.read()["type"], "subscribed");
  std::map<std::string, uint64_t> last;
  std::set<std::string> snapshot_topics;
  int updates = 0;
  while (updates < 21) {  // three rounds of updates after the snapshots
    auto m = ws.read();
    std::string topic = m["topic"];
    uint64_t seq = m["record"]["seq"];
    if (m["type"] == "snapshot") {
      EXPECT_FALSE(last.count(topic)) << "snapshot after an update of " << topic;
      snapshot_topics.insert(topic);
    } else {
      ASSERT_EQ(m["type"], "update");
      EXPECT_TRUE(snapshot_topics.count(topic)) << "update before snapshot of " << topic;
      EXPECT_EQ(seq, last[topic] + 1) << topic;  // no gaps, no repeats
      ++updates;
    }
    last[topic] = seq;
    EXPECT_EQ(m["record"]["schema"], "tributary.v1");
    EXPECT_EQ(m["record"]["source"], "binance");
  }
  EXPECT_EQ(snapshot_topics.size(), 7u);
  EXPECT_EQ(json::parse(http_get(port, "/api/v1/latest/price.BTC-USDT").body)["data"]["price"], 84250.12);
  auto status = json::parse(http_get(port, "/api/v1/status").body);
  EXPECT_EQ(status["role"], "standalone");
  EXPECT_EQ(status["feeds"][0]["last_source"], "binance");
  EXPECT_EQ(status["plugins"][0]["name"], "binance");
  auto metrics = http_get(port, "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("tributary_fetches_total{source=\"binance\",outcome=\"2xx\"}"));
  EXPECT_THAT(metrics, HasSubstr("tributary_ws_messages_sent_total{type=\"update\"}"));
  EXPECT_THAT(metrics, HasSubstr("tributary_connections "));
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0) << c.err();
}

TEST(E2E, FetchPrintsRecordsAsJsonLines) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  auto r = run({kExe, "fetch", "-c", cfg.string(), "--feed", "spot", "--replay", kDemo}, d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<json> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0]["topic"], "price.BTC-USDT");
  EXPECT_EQ(lines[0]["native"], "BTCUSDT");
  EXPECT_EQ(lines[0]["data"]["change_24h_pct"], 1.615);
  EXPECT_EQ(lines[6]["topic"], "price.BNB-USDT");
}

TEST(E2E, FetchFailureExitsNonZeroWithClassAndMessage) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  d.cassette("cas/429.json", "/api/v3/ticker/24hr",
             {{"symbols", R"(["BTCUSDT","ETHUSDT","SOLUSDT","XRPUSDT","ADAUSDT","LINKUSDT","BNBUSDT"])"}}, 429,
             {{"code", -1003}, {"msg", "Too much request weight used"}}, {{"Retry-After", "7"}});
  auto r = run({kExe, "fetch", "-c", cfg.string(), "--feed", "spot", "--replay", (d.path() / "cas").string()}, d.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_THAT(r.err, HasSubstr("error: rate_limited: binance: HTTP 429, Binance code -1003"));
  EXPECT_THAT(r.err, HasSubstr("fetch failed: rate_limited"));
  auto miss = run({kExe, "fetch", "-c", cfg.string(), "--feed", "spot", "--replay", d.path().string() + "/empty"}, d.path());
  EXPECT_NE(miss.code, 0);
  std::filesystem::create_directories(d.path() / "empty");
  miss = run({kExe, "fetch", "-c", cfg.string(), "--feed", "spot", "--replay", d.path().string() + "/empty"}, d.path());
  EXPECT_EQ(miss.code, 2);
  EXPECT_THAT(miss.err, HasSubstr("no cassette matches GET /api/v3/ticker/24hr?symbols=[\"BTCUSDT\""));
  EXPECT_THAT(miss.err, HasSubstr(d.path().string() + "/empty"));
}

TEST(E2E, CheckReportsEveryProblemWithPositions) {
  temp_dir d;
  auto good = d.write("good.toml", fast_config());
  auto ok = run({kExe, "check", "-c", good.string()}, d.path());
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("ok:"));
  auto bad = d.write("bad.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[server]
listen = "127.0.0.1:99999"
[plugins.binance]
timeout = "fast"
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
every = "5s"
source = ["binance"]
)");
  auto r = run({kExe, "check", "-c", bad.string()}, d.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad.string() + ":4:10: error: server.listen:"));
  EXPECT_THAT(r.err, HasSubstr(bad.string() + ":6:11: error: plugins.binance.timeout: 'fast' is not a duration"));
  EXPECT_THAT(r.err, HasSubstr(bad.string() + ":11:1: error: feeds.spot.source: unknown key 'source' (did you mean 'sources'?)"));
  EXPECT_THAT(r.err, HasSubstr("4 error(s)"));
}

TEST(E2E, PluginsListsManifests) {
  temp_dir d;
  auto r = run({kExe, "plugins", "--plugin-dir", TRIBUTARY_PLUGIN_DIR, "--json"}, d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  auto m = json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(m["name"], "binance");
  EXPECT_EQ(m["abi"], "1.0");
  EXPECT_EQ(m["default_rate_limit"]["per"], "1m");
}
