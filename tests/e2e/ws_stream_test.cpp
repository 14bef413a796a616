// WebSocket upstreams end to end: the binance plugin with mode = "stream" through the real
// loader, a local server speaking Binance's stream protocol, `tributary run`, and a WebSocket
// client on price.* topics.
#include <csignal>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "../support/binance_stream_server.hpp"
#include "../support/redis_server.hpp"
#include "../support/process.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

std::string stream_config(unsigned short upstream, const std::string& style, bool fallback = false) {
  std::string url = "ws://127.0.0.1:" + std::to_string(upstream);
  std::string cfg = std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
[plugins.binance]
stream_url = ")" + url + R"("
stream_style = ")" + style + R"("
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT"]
mode = "stream"
)";
  if (!fallback) return cfg + "sources = [\"binance\"]\n";
  return cfg + "sources = [\"binance\", \"binance_rest\"]\nevery = \"200ms\"\n[plugins.binance_rest]\nplugin = \"binance\"\nbase_url = \"http://127.0.0.1:" +
         std::to_string(upstream) + "\"\n";
}

std::unique_ptr<ws_client> subscribed_client(unsigned short port) {
  auto c = std::make_unique<ws_client>(port, "/ws", std::chrono::seconds(5));
  auto& ws = *c;
  ws.send(R"({"type":"subscribe","id":1,"topics":["price.*"]})");
  ws.read();  // hello
  ws.read();  // subscribed
  return c;
}

json next_update(ws_client& c) {
  for (;;) {
    auto m = c.read();
    if (m["type"] == "update") return m;
  }
}

// Reads `n` updates and checks each topic's seq only ever goes up by one.
void read_in_order(ws_client& c, int n, std::map<std::string, uint64_t>& last) {
  for (int i = 0; i < n; ++i) {
    auto m = next_update(c);
    std::string topic = m["topic"];
    uint64_t seq = m["record"]["seq"];
    if (last.count(topic)) EXPECT_EQ(seq, last[topic] + 1) << topic;
    last[topic] = seq;
  }
}

}  // namespace

TEST(WsStream, AReloadKeepsAnUnchangedStreamConnectedAndReconnectsAChangedOne) {
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(100)});
  auto cfg = stream_config(upstream.port(), "combined");
  auto in = launch(cfg, "");
  auto client = subscribed_client(in.port);
  std::map<std::string, uint64_t> last;
  read_in_order(*client, 5, last);
  // Another feed comes: the stream feed is unchanged, so its connection stays.
  in.dir->write("t.toml", cfg + "[plugins.binance_rest]\nplugin = \"binance\"\nbase_url = \"http://127.0.0.1:" +
                              std::to_string(upstream.port()) + "\"\n[feeds.rest]\nkind = \"price\"\nsubjects = [\"SOL-USDT\"]\n"
                              "every = \"200ms\"\nsources = [\"binance_rest\"]\n");
  in.proc->signal(SIGHUP);
  wait_generation(in, 2);
  read_in_order(*client, 10, last);
  EXPECT_EQ(upstream.connections(), 1u);
  EXPECT_EQ(in.status()["feeds"][0]["stream"], "up");
  // The stream feed's subjects change: it is made anew and connects for them.
  auto changed = cfg;
  changed.replace(changed.find("\"ETH-USDT\"]"), 11, "\"ETH-USDT\", \"BNB-USDT\"]");
  in.dir->write("t.toml", changed);
  in.proc->signal(SIGHUP);
  wait_generation(in, 3);
  read_in_order(*client, 10, last);  // seq goes on by one per topic across both reloads
  EXPECT_EQ(upstream.connections(), 2u);
  EXPECT_EQ(upstream.targets().back(), "/stream?streams=btcusdt@ticker/ethusdt@ticker/bnbusdt@ticker");
}

TEST(WsStream, CombinedStreamTickersBecomePriceRecordsAndFlowOnAfterADisconnect) {
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(100)});
  auto in = launch(stream_config(upstream.port(), "combined"), "");
  auto client_ptr = subscribed_client(in.port);
  auto& client = *client_ptr;
  auto first = next_update(client);
  const auto& rec = first["record"];
  EXPECT_EQ(rec["source"], "binance");
  EXPECT_EQ(rec["kind"], "price");
  EXPECT_THAT(std::string(rec["subject"]), ::testing::AnyOf("BTC-USDT", "ETH-USDT"));
  EXPECT_GT(rec["data"]["price"].get<double>(), 1000);
  EXPECT_EQ(rec["data"]["change_24h_pct"], 1.25);
  EXPECT_EQ(rec["data"]["high_24h"], 1100.0);
  EXPECT_LE(rec["ts"].get<int64_t>(), rec["received"].get<int64_t>());  // ts is the event's E
  EXPECT_GT(rec["ts"].get<int64_t>(), rec["received"].get<int64_t>() - 5000);
  ASSERT_FALSE(upstream.targets().empty());
  EXPECT_EQ(upstream.targets()[0], "/stream?streams=btcusdt@ticker/ethusdt@ticker");

  std::map<std::string, uint64_t> last;
  read_in_order(client, 10, last);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(upstream.pongs(), 0u);  // the host answers the upstream's pings

  upstream.drop_all();  // Binance's 24 h cut, or any lost connection
  read_in_order(client, 20, last);
  EXPECT_GE(upstream.connections(), 2u);
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_connects_total{source="binance",outcome="failed"} 1)"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="binance",outcome="rejected"} 0)"));
}

TEST(WsStream, SubscribeStyleSendsTheSubscribeMethodAfterEachConnect) {
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(0)});
  auto in = launch(stream_config(upstream.port(), "subscribe"), "");
  auto client_ptr = subscribed_client(in.port);
  auto& client = *client_ptr;
  std::map<std::string, uint64_t> last;
  read_in_order(client, 6, last);
  EXPECT_EQ(upstream.targets().at(0), "/ws");
  EXPECT_EQ(upstream.subscribe_requests(), 1u);
  upstream.drop_all();
  read_in_order(client, 6, last);
  EXPECT_EQ(upstream.subscribe_requests(), 2u);  // resubscribed on the new connection
  // The SUBSCRIBE answers ({"result":null,"id":1}) are neither records nor errors.
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="binance",outcome="ignored"} 2)"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="binance",outcome="rejected"} 0)"));
}

TEST(WsStream, AFailedStreamFallsBackToThePolledSourceAndReturnsWhenItRecovers) {
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(0)});
  auto in = launch(stream_config(upstream.port(), "combined", true), "");
  auto client_ptr = subscribed_client(in.port);
  auto& client = *client_ptr;
  EXPECT_EQ(next_update(client)["record"]["source"], "binance");
  EXPECT_EQ(in.status()["feeds"][0]["stream"], "up");
  EXPECT_EQ(upstream.http_gets(), 0u);  // no polling while the stream delivers

  upstream.refuse(true);
  json polled;
  for (int i = 0; i < 200 && polled.is_null(); ++i) {
    auto m = next_update(client);
    if (m["record"]["source"] == "binance_rest") polled = m;
  }
  ASSERT_FALSE(polled.is_null());
  EXPECT_EQ(polled["record"]["data"]["price"], 500.0);
  EXPECT_EQ(in.status()["feeds"][0]["stream"], "down, polling fallback");

  upstream.refuse(false);
  json streamed;
  for (int i = 0; i < 500 && streamed.is_null(); ++i) {
    auto m = next_update(client);
    if (m["record"]["source"] == "binance") streamed = m;
  }
  ASSERT_FALSE(streamed.is_null());
  EXPECT_EQ(in.status()["feeds"][0]["stream"], "up");
  size_t gets = upstream.http_gets();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_LE(upstream.http_gets(), gets + 1);  // polling has stopped (one run may have been under way)
}

TEST(WsStream, AStreamFeedsFallbackMustBePollableAndNamed) {
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[plugins.binance]
[plugins.tasks]
plugin = "redis_pubsub"
redis_url = "redis://127.0.0.1:1"
channel = "c"
subject_field = "id"
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance", "tasks"]
mode = "stream"
every = "1s"
[feeds.polled]
kind = "event"
subjects = ["x"]
sources = ["tasks"]
every = "1s"
)");
  auto r = run({TRIBUTARY_EXE, "check", "-c", cfg.string()}, d.path());
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err + r.out, ::testing::HasSubstr("source 'tasks' cannot be polled (plugin 'redis_pubsub' only streams)"));
  EXPECT_THAT(r.err + r.out, ::testing::HasSubstr("use mode = \"stream\""));
}

TEST(WsStream, RecordWritesAStreamCassetteThatReplayPlaysBackWithoutTheUpstream) {
  temp_dir tapes;
  std::vector<double> live_prices;
  {
    binance_stream_server upstream({std::chrono::milliseconds(30), 1, std::chrono::milliseconds(0)});
    temp_dir d;
    auto cfg = d.write("t.toml", stream_config(upstream.port(), "combined"));
    child c({TRIBUTARY_EXE, "run", "-c", cfg.string(), "--record", tapes.path().string(), "--port-file", (d.path() / "port").string()},
            d.path());
    unsigned short port = 0;
    for (int i = 0; i < 500 && !port; ++i) {
      auto t = slurp(d.path() / "port");
      if (!t.empty()) port = static_cast<unsigned short>(std::stoi(t));
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto client_ptr = subscribed_client(port);
    for (int i = 0; i < 8; ++i) live_prices.push_back(next_update(*client_ptr)["record"]["data"]["price"]);
    c.signal(SIGTERM);
    ASSERT_EQ(c.wait(), 0) << c.err();
  }
  auto file = tapes.path() / "spot.binance.stream.json";
  ASSERT_TRUE(std::filesystem::exists(file));
  auto tape = json::parse(slurp(file));
  EXPECT_EQ(tape["stream"]["upstream"], "websocket");
  EXPECT_EQ(tape["stream"]["target"], "/stream?streams=btcusdt@ticker/ethusdt@ticker");
  auto& msgs = tape["stream"]["messages"];
  ASSERT_GE(msgs.size(), 8u);
  EXPECT_EQ(msgs[0]["after_ms"], 0);
  EXPECT_GT(msgs[msgs.size() - 1]["after_ms"].get<int64_t>(), 0);  // relative timing is kept
  std::vector<double> taped;
  for (auto& m : msgs) taped.push_back(std::stod(json::parse(m["text"].get<std::string>())["data"]["c"].get<std::string>()));
  auto run_of = [&](const std::vector<double>& part) {  // `part` appears in the tape, in order, without gaps
    return std::search(taped.begin(), taped.end(), part.begin(), part.end()) != taped.end();
  };
  EXPECT_TRUE(run_of(live_prices));

  // No upstream now: --replay plays the recorded messages in order, at their offsets.
  auto in = launch(stream_config(1, "combined"), tapes.path().string());
  auto client_ptr = subscribed_client(in.port);
  std::vector<double> replayed;
  while (replayed.empty() || replayed.back() != taped.back()) replayed.push_back(next_update(*client_ptr)["record"]["data"]["price"]);
  EXPECT_GE(replayed.size(), 2u);
  EXPECT_TRUE(run_of(replayed));
}

TEST(WsStream, ReplayWithoutAMatchingStreamCassetteSaysWhatItLookedFor) {
  temp_dir empty;
  auto in = launch(stream_config(1, "subscribe"), empty.path().string());
  std::string err;
  for (int i = 0; i < 100 && err.find("no stream cassette") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto st = in.status();
    for (auto& s : st["plugins"]) err += s["last_error"].is_string() ? s["last_error"].get<std::string>() : "";
  }
  EXPECT_THAT(err, ::testing::HasSubstr("no stream cassette for upstream websocket with target \"/ws\" in " + empty.path().string()));
}

TEST(WsStream, InClusterModeOnlyTheLeaderHoldsTheUpstreamAndANewLeaderTakesItOverWithSeqGoingOn) {
  redis_server redis;
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(0)});
  auto cfg = stream_config(upstream.port(), "combined") + "[cluster]\nmode = \"redis\"\nredis_url = \"redis://127.0.0.1:" +
             std::to_string(redis.port()) + "\"\nname = \"wsstream\"\nlease = \"1s\"\nrenew_every = \"250ms\"\n";
  std::vector<instance> all;
  all.push_back(launch(cfg, ""));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg, ""));
  auto client_ptr = subscribed_client(all[1].port);  // on the follower
  std::map<std::string, uint64_t> last;
  read_in_order(*client_ptr, 10, last);
  EXPECT_EQ(upstream.connections(), 1u);  // the follower does not connect
  all[0].proc->signal(SIGKILL);
  all[0].proc->wait();
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(10), {false, true}), 1);
  read_in_order(*client_ptr, 20, last);  // the new leader streams; every topic's seq goes on by one
  EXPECT_EQ(upstream.connections(), 2u);
}

// `promtool check metrics` (Debian's prometheus package) accepts /metrics: every family has
// HELP and TYPE, names and labels are valid, process_* and build info are there.
TEST(Metrics, PromtoolAcceptsTheMetricsPage) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  binance_stream_server upstream({std::chrono::milliseconds(40), 1, std::chrono::milliseconds(0)});
  auto in = launch(stream_config(upstream.port(), "combined", true), "");
  auto client_ptr = subscribed_client(in.port);
  next_update(*client_ptr);
  http_get(in.port, "/api/v1/latest/price.NOPE-USDT");
  temp_dir d;
  auto page = http_get(in.port, "/metrics").body;
  auto file = d.write("metrics.txt", page);
  EXPECT_THAT(page, ::testing::HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(page, ::testing::HasSubstr("process_cpu_seconds_total "));
  EXPECT_THAT(page, ::testing::HasSubstr("tributary_build_info{version=\""));
  EXPECT_THAT(page, ::testing::HasSubstr("tributary_stream_messages_total{source=\"binance\",outcome=\"published\"}"));
  auto out = d.path() / "promtool.out";
  int rc = std::system(("promtool check metrics < " + file.string() + " > " + out.string() + " 2>&1").c_str());
  EXPECT_EQ(rc, 0) << slurp(out);
}
