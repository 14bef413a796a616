// isolation = "process" through the real binary: a plugin that crashes or loops forever takes
// only itself down. The feed falls back to the next source and returns to the first once its
// child is restarted, while a WebSocket client stays connected. Without isolation the same
// plugin takes the host down, which is why the option exists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <thread>

#include "../support/process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Cassettes for the faulty plugin's GET /faulty/price: a new price each request, so every run
// publishes a record and a client sees which source made it.
fs::path price_cassettes(const temp_dir& d) {
  auto dir = d.path() / "cas";
  fs::create_directories(dir);
  for (int i = 0; i < 400; ++i) {
    json c{{"request", {{"method", "GET"}, {"path", "/faulty/price"}, {"query", {{"symbols", "BTCUSDT"}}}, {"headers", json::object()}}},
           {"response", {{"status", 200}, {"headers", {{"Content-Type", "application/json"}}}, {"body", {{"BTCUSDT", std::to_string(1000 + i)}}}}}};
    char name[32];
    snprintf(name, sizeof name, "%03d.json", i);
    std::ofstream(dir / name) << c.dump();
  }
  return dir;
}

std::string config(const std::string& isolation, const std::string& fault) {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_ABI_PLUGIN_DIR + "\"]\nlog_level = \"info\"\n" +
         "[server]\nlisten = \"127.0.0.1:0\"\n"
         "[plugins.primary]\nplugin = \"abi_faulty\"\nisolation = \"" + isolation + "\"\ncall_timeout = \"300ms\"\n" + fault +
         "\nretries = 0\ncircuit = { failures = 1, cooldown = \"200ms\" }\n"
         "[plugins.backup]\nplugin = \"abi_faulty\"\n"
         "[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"100ms\"\nsources = [\"primary\", \"backup\"]\n";
}

// The sources of the updates a client reads, in order, until it has seen primary, then backup,
// then primary again (or `limit` updates).
std::vector<std::string> sources_seen(ws_client& c, int limit) {
  std::vector<std::string> seen;
  int phase = 0;  // 0: waiting for primary, 1: for backup, 2: for primary again, 3: done
  for (int i = 0; i < limit && phase < 3; ++i) {
    auto m = c.read();
    if (m["type"] != "update") continue;
    std::string s = m["record"]["source"];
    if (seen.empty() || seen.back() != s) seen.push_back(s);
    if ((phase == 0 && s == "primary") || (phase == 1 && s == "backup") || (phase == 2 && s == "primary")) ++phase;
  }
  return seen;
}

bool gone(pid_t pid) {  // ended: no such process, or a zombie nobody has reaped yet
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  auto close = text.rfind(')');
  return text.empty() || (close != std::string::npos && text.substr(close + 2, 1) == "Z");
}

void expect_fallback_and_recovery(const std::string& fault, const std::string& cls, const std::string& what) {
  temp_dir cas;
  auto in = launch(config("process", fault), price_cassettes(cas).string());
  ws_client client(in.port, "/ws", std::chrono::seconds(10));
  client.send(R"({"type":"subscribe","id":1,"topics":["price.BTC-USDT"]})");
  auto seen = sources_seen(client, 300);
  ASSERT_GE(seen.size(), 3u) << ::testing::PrintToString(seen);
  EXPECT_EQ(seen[0], "primary");
  EXPECT_EQ(seen[1], "backup");
  EXPECT_EQ(seen[2], "primary");  // the restarted child serves again
  auto st = in.status();
  auto primary = st["plugins"][0];
  EXPECT_EQ(primary["name"], "primary");
  EXPECT_EQ(primary["last_error_class"], cls);
  EXPECT_THAT(primary["last_error"].get<std::string>(), HasSubstr(what));
  EXPECT_EQ(primary["process"]["isolation"], "process");
  EXPECT_GE(primary["process"]["restarts"].get<int>(), 1);
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_GE(metric(metrics, "tributary_fetch_errors_total{source=\"primary\",class=\"" + cls + "\"}"), 1);
  client.send(R"({"type":"ping","id":2})");  // the client was never cut off
  EXPECT_EQ(http_get(in.port, "/health").status, 200);
  EXPECT_THAT(in.proc->err(), HasSubstr("plugin process"));
}

}  // namespace

TEST(IsolationE2E, ASegfaultingPluginFallsBackAndRecoversWhileClientsStayConnected) {
  expect_fallback_and_recovery("crash_on_parse = 3", "plugin_crashed", "killed by SIGSEGV in parse");
}

TEST(IsolationE2E, APluginLoopingForeverInPlanTimesOutFallsBackAndRecovers) {
  expect_fallback_and_recovery("loop_on_plan = 3", "plugin_timeout", "took longer than call_timeout (300ms) in plan");
}

TEST(IsolationE2E, WithoutIsolationTheSamePluginTakesTheHostDown) {
  temp_dir d;
  auto cfg = d.write("t.toml", config("none", "crash_on_parse = 1"));
  child host({TRIBUTARY_EXE, "run", "-c", cfg.string(), "--replay", price_cassettes(d).string()}, d.path());
  int st = host.wait_status(std::chrono::seconds(10));
  ASSERT_NE(st, -1) << "the host survived a segfault in its own process?";
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSEGV);
}

TEST(IsolationE2E, ThePluginProcessEndsWithTheHost) {
  temp_dir cas;
  auto in = launch(config("process", ""), price_cassettes(cas).string());
  pid_t child = in.status()["plugins"][0]["process"]["pid"];
  ASSERT_GT(child, 0);
  EXPECT_FALSE(gone(child));
  in.proc->signal(SIGKILL);  // no chance to stop its children: PR_SET_PDEATHSIG does
  in.proc->wait_status(std::chrono::seconds(5));
  bool ended = false;
  for (int i = 0; i < 100 && !ended; ++i) {
    ended = gone(child);
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ended);
}

TEST(IsolationE2E, AReloadKeepsAnUnchangedChildAndReplacesAChangedOne) {
  temp_dir cas;
  auto cassettes = price_cassettes(cas).string();
  auto in = launch(config("process", ""), cassettes);
  auto pid_of = [&](const json& st) { return st["plugins"][0]["process"]["pid"].get<pid_t>(); };
  pid_t first = pid_of(in.status());
  in.dir->write("t.toml", config("process", "") + "\n# a comment: nothing changes\n");
  in.proc->signal(SIGHUP);
  EXPECT_EQ(pid_of(wait_generation(in, 2)), first);  // kept, running
  in.dir->write("t.toml", config("process", "").replace(config("process", "").find("300ms"), 5, "400ms"));
  in.proc->signal(SIGHUP);
  pid_t second = pid_of(wait_generation(in, 3));
  EXPECT_NE(second, first);  // a changed [plugins.primary]: a new child
  bool ended = false;
  for (int i = 0; i < 100 && !ended; ++i) {
    ended = gone(first);
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ended) << "the old child outlived its instance";
  EXPECT_FALSE(gone(second));
}

TEST(IsolationE2E, CheckReadsAnExecPluginsSettingsSchemaFromItsManifest) {
  temp_dir d;
  auto cfg = d.write("t.toml", std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + "\"]\n"
                     "[plugins.kraken]\nplugin = \"exec\"\ncommand = [\"python3\", \"" TRIBUTARY_SOURCE_DIR "/sdk/examples/kraken_py/kraken.py\"]\n"
                     "pair = { BTC-USDT = \"XBTUSDT\" }\n"
                     "[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"5s\"\nsources = [\"kraken\"]\n");
  auto r = run({TRIBUTARY_EXE, "check", "-c", cfg.string()}, d.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("t.toml:6:8: error: plugins.kraken.pair: unknown key 'pair' (did you mean 'pairs'?)"));
  auto fixed = d.write("t.toml", slurp(cfg).replace(slurp(cfg).find("pair ="), 6, "pairs ="));
  auto ok = run({TRIBUTARY_EXE, "check", "-c", fixed.string()}, d.path());
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
}
