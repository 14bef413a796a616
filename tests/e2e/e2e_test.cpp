// `tributary` as a user runs it: run --replay on port 0 with a WebSocket client, the HTTP API,
// fetch, check and a clean stop on SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "../support/demo_config.hpp"
#include "../support/process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string kExe = TRIBUTARY_EXE;
const std::string kDemo = TRIBUTARY_SOURCE_DIR "/config/demo-cassettes";

std::string fast_config() {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "warn"
[server]
listen = "127.0.0.1:0"
)" + demo_spot_feed("200ms");
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

TEST(E2E, SigtermSendsGoingAwayToEveryWebSocketClient) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  child c({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()}, d.path());
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<ws_client>(port));
    clients.back()->read();
    clients.back()->send(R"({"type":"subscribe","topics":["*"]})");
  }
  c.signal(SIGTERM);
  int going_away = 0;
  for (auto& ws : clients) going_away += ws->read_until_close() == 1001;
  EXPECT_EQ(going_away, 100);
  EXPECT_EQ(c.wait(), 0) << c.err();
}

TEST(E2E, BadListenValuesGetAClearErrorNotAnAbort) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  for (std::string bad : {"127.0.0.1:abc", "127.0.0.1:99999", "::1:80"}) {
    child c({kExe, "run", "-c", cfg.string(), "--listen", bad}, d.path());
    EXPECT_EQ(c.wait(), 1) << bad;
    EXPECT_THAT(c.err(), HasSubstr("'" + bad + "' is not HOST:PORT")) << c.err();
  }
}

TEST(E2E, AdminTokenGuardsStatusMetricsAndTheControlApi) {
  const std::string token = "adm-3f9c2e71-token";
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config() + "[server.auth]\nadmin_token = \"" + token + "\"\n");
  child c({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()}, d.path());
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  EXPECT_EQ(http_get(port, "/health").status, 200);
  EXPECT_EQ(http_get(port, "/api/v1/status").status, 401);
  EXPECT_EQ(http_get(port, "/metrics").status, 401);
  EXPECT_EQ(http_get(port, "/metrics", "wrong-token-value").status, 401);
  EXPECT_EQ(http_get(port, "/metrics", token).status, 200);
  auto runs = [&] { return json::parse(http_get(port, "/api/v1/status", token).body)["feeds"][0]; };
  auto post = [&](const std::string& path, const std::string& bearer) { return http_call(port, http::verb::post, path, bearer); };
  EXPECT_EQ(post("/api/v1/feeds/spot/pause", "").status, 401);
  auto paused = post("/api/v1/feeds/spot/pause", token);
  EXPECT_EQ(paused.status, 200);
  EXPECT_EQ(json::parse(paused.body)["ok"], true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a run in flight finishes
  auto before = runs();
  EXPECT_EQ(before["paused"], true);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // three intervals of 200ms
  EXPECT_EQ(runs()["runs"], before["runs"]);  // not scheduled while paused
  EXPECT_EQ(post("/api/v1/feeds/spot/run", token).status, 200);  // ...but run on request
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(runs()["runs"].get<int>(), before["runs"].get<int>() + 1);
  EXPECT_EQ(post("/api/v1/feeds/spot/resume", token).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_GT(runs()["runs"].get<int>(), before["runs"].get<int>() + 1);
  EXPECT_EQ(post("/api/v1/sources/binance/reset", token).status, 200);
  EXPECT_EQ(post("/api/v1/feeds/nope/pause", token).status, 404);
  EXPECT_EQ(post("/api/v1/feeds/spot/explode", token).status, 404);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0);
  EXPECT_THAT(c.err(), Not(HasSubstr(token)));
}

TEST(E2E, WithoutAnAdminTokenTheControlApiIsForbidden) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  child c({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()}, d.path());
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  EXPECT_EQ(http_get(port, "/api/v1/status").status, 200);  // open, as before
  EXPECT_EQ(http_call(port, http::verb::post, "/api/v1/feeds/spot/pause").status, 403);
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
  auto unknown = run({kExe, "fetch", "-c", cfg.string(), "--feed", "spto"}, d.path());
  EXPECT_EQ(unknown.code, 1);  // a usage error: nothing was run
  EXPECT_THAT(unknown.err, HasSubstr("error: no feed 'spto' in " + cfg.string() + " (did you mean 'spot'?); its feeds: spot"));
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
  // A plugin key its schema refuses, and a subject the plugin cannot map: one pass finds both.
  auto both = d.write("both.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[plugins.binance]
symbol_map = { BTC-USDT = "BTCUSDT" }
[feeds.candles]
kind = "candle"
subjects = ["BTC-USDT.7h"]
every = "30s"
sources = ["binance"]
)");
  auto r2 = run({kExe, "check", "-c", both.string()}, d.path());
  EXPECT_EQ(r2.code, 1);
  EXPECT_THAT(r2.err, HasSubstr(both.string() + ":4:14: error: plugins.binance.symbol_map: unknown key 'symbol_map'"));
  EXPECT_THAT(r2.err, HasSubstr(both.string() + ":7:12: error: feeds.candles.subjects: feed 'candles', source 'binance' cannot map subject 'BTC-USDT.7h'"));
  EXPECT_THAT(r2.err, HasSubstr("2 error(s)"));
  // A view field no feed can fill: a misspelled topic, a field outside the kind's vocabulary.
  auto views = d.write("views.toml", fast_config() + "[views.dash]\nroute = \"/dash\"\n"
                                                     "fields = { btc = \"price.BTC-USD:price\", eth = \"price.ETH-USDT:prise\" }\n");
  auto r3 = run({kExe, "check", "-c", views.string()}, d.path());
  EXPECT_EQ(r3.code, 1);
  EXPECT_THAT(r3.err, HasSubstr("views.dash.fields.btc: no feed makes topic 'price.BTC-USD' (did you mean 'price.BTC-USDT'?)"));
  EXPECT_THAT(r3.err, HasSubstr("views.dash.fields.eth: 'prise' is not a field of kind price (did you mean 'price'?)"));
}

TEST(E2E, PluginsListsManifests) {
  temp_dir d;
  auto r = run({kExe, "plugins", "--plugin-dir", TRIBUTARY_PLUGIN_DIR, "--json"}, d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  json m;  // one manifest a line, by plugin file name
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line) && m["name"] != "binance";) m = json::parse(line);
  EXPECT_EQ(m["name"], "binance");
  EXPECT_EQ(m["abi"], "1.2");
  EXPECT_EQ(m["default_rate_limit"]["per"], "1m");
  EXPECT_EQ(m["budget_header"]["name"], "X-MBX-USED-WEIGHT-1M");
  EXPECT_EQ(m["budget_header"]["counts"], "used");
}

TEST(E2E, SecretsNeverAppearInLogsErrorsOrStatus) {
  const std::string cmc_key = "cmc-7f3a9c1e-secret-key", fh_key = "fhsecret9d8e7f6a5b", taapi = "eyJtaapi.secret.value42";
  ::setenv("CMC_API_KEY", cmc_key.c_str(), 1);
  ::setenv("FINNHUB_API_KEY", fh_key.c_str(), 1);
  ::setenv("TAAPI_SECRET", taapi.c_str(), 1);
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "debug"
[server]
listen = "127.0.0.1:0"
[plugins.cmc]
api_key = "${CMC_API_KEY}"
retries = 0
[plugins.finnhub]
api_key = "${FINNHUB_API_KEY}"
retries = 0
[plugins.taapi]
secret = "${TAAPI_SECRET}"
retries = 0
[feeds.global]
kind = "market"
subjects = ["global"]
every = "200ms"
sources = ["cmc"]
[feeds.etfs]
kind = "quote"
subjects = ["SPY"]
every = "200ms"
sources = ["finnhub"]
[feeds.rsi]
kind = "indicator"
subjects = ["BTC-USDT.rsi.1d"]
every = "200ms"
sources = ["taapi"]
)");
  // Providers that echo the key back in their errors; taapi gets no cassette at all, so the
  // "no cassette matches" error carries the secret from its query.
  d.cassette("cas/cmc.json", "/v1/global-metrics/quotes/latest", {{"convert", "USD"}}, 401,
             {{"status", {{"error_code", 1001}, {"error_message", "API key " + cmc_key + " is invalid"}}}});
  d.cassette("cas/fh.json", "/api/v1/quote", {{"symbol", "SPY"}}, 403, {{"error", "Invalid API key " + fh_key}});
  child c({kExe, "run", "-c", cfg.string(), "--replay", (d.path() / "cas").string(), "--port-file", (d.path() / "port").string()},
          d.path());
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  std::string seen = http_get(port, "/api/v1/status").body + http_get(port, "/metrics").body + http_get(port, "/api/v1/topics").body;
  EXPECT_THAT(seen, HasSubstr("error_code 1001"));  // the errors are there, masked
  EXPECT_THAT(seen, HasSubstr("Invalid API key ***"));
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0);
  seen += c.err() + c.out();
  EXPECT_THAT(c.err(), HasSubstr("no cassette matches GET /rsi?secret=***"));
  auto f = run({kExe, "fetch", "-c", cfg.string(), "--feed", "etfs", "--replay", (d.path() / "cas").string()}, d.path());
  EXPECT_EQ(f.code, 2);
  seen += f.out + f.err;
  auto chk = run({kExe, "check", "-c", cfg.string()}, d.path());
  seen += chk.out + chk.err;
  for (const auto& secret : {cmc_key, fh_key, taapi}) EXPECT_EQ(seen.find(secret), std::string::npos) << "leaked " << secret;
  ::unsetenv("CMC_API_KEY");
  ::unsetenv("FINNHUB_API_KEY");
  ::unsetenv("TAAPI_SECRET");
}

TEST(E2E, DefaultConfigChecksWithOneWarningPerUnsetSecret) {
  temp_dir d;
  ::unsetenv("CMC_API_KEY");
  auto r = run({kExe, "check", "-c", TRIBUTARY_SOURCE_DIR "/config/tributary.toml"}, d.path());
  EXPECT_EQ(r.code, 0) << r.err;
  size_t n = 0;
  for (size_t p = r.err.find("CMC_API_KEY"); p != std::string::npos; p = r.err.find("CMC_API_KEY", p + 1)) ++n;
  EXPECT_EQ(n, 1u) << r.err;
}

TEST(E2E, LogFormatJsonWritesOneObjectPerLineAndTheLevelComesFromFlagEnvOrConfig) {
  temp_dir d;
  auto text = fast_config();
  text.replace(text.find("log_level = \"warn\""), 18, "log_level = \"info\"");
  auto cfg = d.write("t.toml", text);
  {
    child c({kExe, "--log-format", "json", "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()},
            d.path());
    ASSERT_NE(wait_port(d, c), 0);
    c.signal(SIGTERM);
    ASSERT_EQ(c.wait(), 0);
    std::istringstream lines(c.err());
    int n = 0;
    bool stopping = false;
    for (std::string line; std::getline(lines, line); ++n) {
      auto j = json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << "not JSON: " << line;
      EXPECT_TRUE(j["ts"].is_string() && j["level"].is_string() && j["msg"].is_string()) << line;
      stopping |= j["msg"] == "stopping" && j["level"] == "info";
    }
    EXPECT_GT(n, 0);
    EXPECT_TRUE(stopping);
  }
  std::filesystem::remove(d.path() / "port");
  ::setenv("TRIBUTARY_LOG_LEVEL", "warn", 1);  // the environment, over the config's info
  child quiet({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--port-file", (d.path() / "port").string()}, d.path());
  ::unsetenv("TRIBUTARY_LOG_LEVEL");
  ASSERT_NE(wait_port(d, quiet), 0);
  quiet.signal(SIGTERM);
  ASSERT_EQ(quiet.wait(), 0);
  EXPECT_THAT(quiet.err(), ::testing::Not(::testing::HasSubstr(" info ")));
  auto bad = run({kExe, "--log-level", "loud", "check", "-c", cfg.string()}, d.path());
  EXPECT_NE(bad.code, 0);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("--log-level"));
}

// One code per kind of failure (docs/operations.md), and a message that says what to do.
TEST(E2E, ExitCodesAndStartupMessagesSayWhatToDo) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config());
  // 1: usage or config errors, whatever the parser that found them.
  EXPECT_EQ(run({kExe, "run", "--no-such-flag"}, d.path()).code, 1);
  EXPECT_EQ(run({kExe, "fetch", "-c", cfg.string()}, d.path()).code, 1);  // --feed missing
  auto none = run({"/bin/sh", "-c", "cd '" + d.path().string() + "' && exec " + kExe + " run"}, d.path());  // no config/ here
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, ::testing::HasSubstr("no config: config/tributary.toml does not exist"));
  EXPECT_THAT(none.err, ::testing::HasSubstr("give one with -c FILE"));
  EXPECT_EQ(run({kExe, "--help"}, d.path()).code, 0);
  // 3: a failure at run time: the port is taken.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor taken(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto busy = run({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--listen", "127.0.0.1:" + std::to_string(taken.local_endpoint().port())},
                  d.path());
  EXPECT_EQ(busy.code, 3);
  EXPECT_THAT(busy.err, ::testing::HasSubstr("the port is in use by another process; stop it or choose another with --listen"));
  EXPECT_THAT(busy.err, ::testing::Not(::testing::HasSubstr("/usr/include")));
  auto nonip = run({kExe, "run", "-c", cfg.string(), "--replay", kDemo, "--listen", "example.invalid:0"}, d.path());
  EXPECT_EQ(nonip.code, 3);
  EXPECT_THAT(nonip.err, ::testing::HasSubstr("is not an IP address; use 0.0.0.0"));
}

// One `check` run lists every problem: the config's own (types, kinds, views) and those only
// the plugins can find (settings, subjects, a missing plugin), each with file:line:col.
TEST(E2E, CheckListsEveryProblemInOnePass) {
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[server]
max_connections = "many"
[plugins.binance]
[plugins.cg]
plugin = "coingecko"
no_such_setting = 1
[plugins.ghost]
plugin = "nosuchplugin"
[feeds.spot]
kind = "prise"
subjects = ["BTC-USDT"]
every = "5s"
sources = ["binance"]
[feeds.candles]
kind = "candle"
subjects = ["BTC-USDT.7m"]
every = "5s"
sources = ["binance"]
[views.v]
fields = { a = "no-colon-here" }
)");
  auto r = run({kExe, "check", "-c", cfg.string()}, d.path());
  EXPECT_EQ(r.code, 1);
  for (const char* want : {":4:19: error: server.max_connections: must be an integer", ":8:19: error: plugins.cg.no_such_setting: unknown key",
                           ":9:1: error: plugins.ghost: plugin 'nosuchplugin' not found", ":12:8: error: feeds.spot.kind: unknown kind 'prise'",
                           "error: feeds.candles.subjects: feed 'candles', source 'binance' cannot map subject 'BTC-USDT.7m'",
                           ":22:16: error: views.v.fields.a"})
    EXPECT_THAT(r.err, ::testing::HasSubstr(want));
  EXPECT_THAT(r.err, ::testing::HasSubstr(": 6 error(s)"));
}

// `make demo` with every provider key set: each default feed is answered from the demo cassettes.
TEST(E2E, TheDemoCassettesAnswerEveryDefaultFeed) {
  temp_dir d;
  for (const char* k : {"CMC_API_KEY", "TAAPI_SECRET", "FINNHUB_API_KEY"}) ::setenv(k, "demo-key-not-real", 1);
  child c({kExe, "run", "-c", TRIBUTARY_SOURCE_DIR "/config/tributary.toml", "--replay", kDemo, "--listen", "127.0.0.1:0", "--port-file",
           (d.path() / "port").string()},
          d.path());
  for (const char* k : {"CMC_API_KEY", "TAAPI_SECRET", "FINNHUB_API_KEY"}) ::unsetenv(k);
  auto port = wait_port(d, c);
  ASSERT_NE(port, 0);
  std::set<std::string> want{"price.BTC-USDT", "market.global", "indicator.BTC-USDT.rsi.1d", "quote.SPY", "quote.DIA", "quote.QQQM",
                             "sentiment.fear_greed"};
  json topics;
  for (int i = 0; i < 250; ++i) {
    topics = json::parse(http_get(port, "/api/v1/topics").body)["topics"];
    size_t found = 0;
    for (auto& t : topics) found += want.count(t.is_string() ? t.get<std::string>() : t.value("topic", ""));
    if (found == want.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& w : want) EXPECT_THAT(topics.dump(), HasSubstr("\"" + w + "\"")) << w;
  auto st = json::parse(http_get(port, "/api/v1/status").body);
  for (auto& f : st["feeds"]) EXPECT_TRUE(f["last_error"].is_null()) << f.dump();
  json summary;  // the dashboard's summary has the Fear & Greed Index, as the old service's had
  for (int i = 0; i < 250 && !summary.contains("fear_greed"); ++i) {
    summary = json::parse(http_get(port, "/api/crypto/dashboard-summary").body, nullptr, false);
    if (!summary.contains("fear_greed")) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(summary["fear_greed"], 40) << summary.dump();
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0);
}

// `check --print`: the effective config, defaults filled in and secrets masked, which `check`
// accepts again.
TEST(E2E, CheckPrintShowsTheEffectiveConfigWithSecretsMasked) {
  temp_dir d;
  auto cfg = d.write("t.toml", fast_config() + "[plugins.cmc]\napi_key = \"${CMC_API_KEY}\"\n");
  ::setenv("CMC_API_KEY", "cmc-secret-4f9a2b", 1);
  auto r = run({kExe, "check", "--print", "-c", cfg.string()}, d.path());
  ::unsetenv("CMC_API_KEY");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("cmc-secret-4f9a2b")));
  EXPECT_THAT(r.out, HasSubstr("api_key = '***'"));
  EXPECT_THAT(r.out, HasSubstr("heartbeat = '30s'"));         // a default, filled in
  EXPECT_THAT(r.out, HasSubstr("base_url = 'https://api.binance.com'"));  // the plugin's default
  // A URL setting the manifest calls secret: only its credentials are masked.
  auto urls = d.write("urls.toml", fast_config() +
                                       "[plugins.tasks]\nplugin = \"redis_pubsub\"\nredis_url = \"redis://127.0.0.1:6379/0\"\n"
                                       "channel = \"c\"\nsubject = \"{id}\"\n"
                                       "[plugins.orders]\nplugin = \"redis_pubsub\"\nredis_url = \"redis://:hunter2-secret@127.0.0.1:6379/1\"\n"
                                       "channel = \"c\"\nsubject = \"{id}\"\n");
  auto shown = run({kExe, "check", "--print", "-c", urls.string()}, d.path());
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("redis_url = 'redis://127.0.0.1:6379/0'"));
  EXPECT_THAT(shown.out, HasSubstr("redis_url = 'redis://:***@127.0.0.1:6379/1'"));
  EXPECT_THAT(shown.out, ::testing::Not(HasSubstr("hunter2-secret")));
  auto printed = d.write("printed.toml", run({kExe, "check", "--print", "-c", d.write("plain.toml", fast_config()).string()}, d.path()).out);
  auto again = run({kExe, "check", "-c", printed.string()}, d.path());
  EXPECT_EQ(again.code, 0) << again.err;
}

// `config sample`: a commented config from the plugins found, which `check` accepts as printed.
TEST(E2E, ConfigSampleIsMadeFromThePluginsAndChecksAsPrinted) {
  temp_dir d;
  auto r = run({kExe, "config", "sample", "--plugin-dir", TRIBUTARY_PLUGIN_DIR}, d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* p : {"binance", "coingecko", "cmc", "taapi", "finnhub", "alternative_me", "redis_pubsub", "redis_streams", "kafka"})
    EXPECT_THAT(r.out, HasSubstr(std::string("[plugins.") + p + "]"));
  EXPECT_THAT(r.out, HasSubstr("api_key = \"${CMC_API_KEY}\""));  // a secret comes from its variable
  EXPECT_THAT(r.out, HasSubstr("# brokers = \"\"   # required"));
  auto file = d.write("sample.toml", r.out);
  auto check = run({kExe, "check", "-c", file.string()}, d.path());
  EXPECT_EQ(check.code, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("2 feed(s)"));  // binance's and alternative_me's: the keyless ones
}

// `tributary plan` and the plan at the end of `check`: a CoinMarketCap monthly cap that a
// primary source would overrun is an error at the feed; a fallback's is a warning.
TEST(E2E, CheckRefusesAFeedThatWouldOverrunAMonthlyCap) {
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
[plugins.cmc]
api_key = "${CMC_API_KEY}"
rate_limit = [ { requests = 30, per = "1m" }, { requests = 10000, per = "30d" } ]
retries = 0
[plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT"]
every = "5m"
sources = ["cmc", "binance"]
[feeds.fast]
kind = "price"
subjects = ["SOL-USDT"]
every = "10s"
sources = ["binance", "cmc"]
)");
  ::setenv("CMC_API_KEY", "cmc-test-key-4f9a2b", 1);
  auto r = run({kExe, "check", "-c", cfg.string()}, d.path());
  auto p = run({kExe, "plan", "-c", cfg.string(), "--json"}, d.path());
  ::unsetenv("CMC_API_KEY");
  // spot: every 5 m is 8,640 runs a 30 d window, within 10,000; fast falls back to cmc every 10 s:
  // 259,200 runs, a warning only (it spends only while binance fails).
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("t.toml:13:1: warning: feeds.fast: source 'cmc' may spend 267840 of its 10000 per 30d"));
  EXPECT_THAT(r.out, HasSubstr("cmc              30d"));
  ASSERT_EQ(p.code, 0) << p.err;
  auto plan = json::parse(p.out);
  EXPECT_EQ(plan["scope"], "cluster");
  json month;
  for (auto& w : plan["windows"])
    if (w["source"] == "cmc" && w["window"] == "30d") month = w;
  ASSERT_FALSE(month.is_null()) << p.out;
  EXPECT_EQ(month["best"], 8640);
  EXPECT_EQ(month["worst"], 8640 + 259200);
  EXPECT_EQ(month["over"], "fallback");

  // Every minute instead: 43,200 runs a month as the primary. check refuses it, at the feed.
  auto tight = d.write("tight.toml", slurp(cfg).replace(slurp(cfg).find("every = \"5m\""), 12, "every = \"1m\""));
  ::setenv("CMC_API_KEY", "cmc-test-key-4f9a2b", 1);
  auto r2 = run({kExe, "check", "-c", tight.string()}, d.path());
  ::unsetenv("CMC_API_KEY");
  EXPECT_EQ(r2.code, 1);
  EXPECT_THAT(r2.err, HasSubstr("tight.toml:8:1: error: feeds.spot: source 'cmc' may spend 43200 of its 10000 per 30d (worst case, every retry)"));
}
