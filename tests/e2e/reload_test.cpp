// SIGHUP and run --watch: a new config's plugin instances and feeds replace the old ones while
// WebSocket clients stay connected and every topic's seq goes on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <thread>

#include "../support/demo_config.hpp"
#include "../support/redis_server.hpp"
#include "../support/process.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string config_with(const std::string& plugin_dir, const std::string& every, bool with_global) {
  std::string cfg = "[host]\nplugin_dirs = [\"" + plugin_dir + "\"]\nlog_level = \"info\"\n[server]\nlisten = \"127.0.0.1:0\"\n" +
                    demo_spot_feed(every);
  if (with_global) cfg += "[plugins.coingecko]\n[feeds.global]\nkind = \"market\"\nsubjects = [\"global\"]\nevery = \"200ms\"\nsources = [\"coingecko\"]\n";
  return cfg;
}

// Reads `n` updates; each topic's seq goes up by one from where it was.
void read_in_order(ws_client& c, int n, std::map<std::string, uint64_t>& last, std::set<std::string>* topics = nullptr) {
  for (int i = 0; i < n;) {
    auto m = c.read();
    if (m["type"] != "update") continue;
    std::string topic = m["topic"];
    uint64_t seq = m["record"]["seq"];
    if (last.count(topic)) EXPECT_EQ(seq, last[topic] + 1) << topic;
    last[topic] = seq;
    if (topics) topics->insert(topic);
    ++i;
  }
}

void replace_file(const fs::path& from, const fs::path& to) {  // a new inode, as a package upgrade does
  fs::copy_file(from, to.string() + ".new", fs::copy_options::overwrite_existing);
  fs::rename(to.string() + ".new", to);
}

}  // namespace

TEST(Reload, SighupAppliesChangesByConfigWhileAClientStaysConnected) {
  temp_dir plugins;  // a plugin directory of our own, so its .so can be replaced
  replace_file(fs::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so", plugins.path() / "libbinance.so");
  replace_file(fs::path(TRIBUTARY_PLUGIN_DIR) / "libcoingecko.so", plugins.path() / "libcoingecko.so");
  auto in = launch(config_with(plugins.path().string(), "200ms", false));
  auto cfg = in.dir->path() / "t.toml";
  ws_client client(in.port, "/ws", std::chrono::seconds(5));
  client.send(R"({"type":"subscribe","id":1,"topics":["*"]})");
  std::map<std::string, uint64_t> last;
  read_in_order(client, 14, last);
  EXPECT_EQ(in.status()["config"]["generation"], 1);

  // 1. A changed interval.
  in.dir->write("t.toml", config_with(plugins.path().string(), "300ms", false));
  in.proc->signal(SIGHUP);
  auto st = wait_generation(in, 2);
  EXPECT_EQ(st["feeds"][0]["every"], "300ms");
  read_in_order(client, 14, last);

  // 2. An added feed (and plugin instance); the unchanged feed and source are kept as they are.
  auto source_requests = [](const json& status, const std::string& name) {
    for (auto& s : status["plugins"])
      if (s["name"] == name) return s["requests"].get<uint64_t>();
    return uint64_t{0};
  };
  auto before = in.status();
  in.dir->write("t.toml", config_with(plugins.path().string(), "300ms", true));
  in.proc->signal(SIGHUP);
  st = wait_generation(in, 3);
  EXPECT_EQ(st["feeds"].size(), 2u);
  EXPECT_GE(st["feeds"][0]["runs"].get<uint64_t>(), before["feeds"][0]["runs"].get<uint64_t>());  // not restarted
  EXPECT_GE(source_requests(st, "binance"), source_requests(before, "binance"));
  std::set<std::string> topics;
  read_in_order(client, 30, last, &topics);
  EXPECT_TRUE(topics.count("market.global"));

  // 3. An invalid file: rejected, logged, and the running config goes on.
  in.dir->write("t.toml", config_with(plugins.path().string(), "300ms", true) + "[feeds.bad]\nkind = \"price\"\n");
  in.proc->signal(SIGHUP);
  std::string err;
  for (int i = 0; i < 250 && err.find("reload rejected") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    err = in.proc->err();
  }
  EXPECT_THAT(err, ::testing::HasSubstr("feeds.bad: missing required key `subjects`"));
  EXPECT_THAT(err, ::testing::HasSubstr("reload rejected: "));
  EXPECT_EQ(in.status()["config"]["generation"], 3);
  read_in_order(client, 14, last);

  // 4. A removed feed, and the plugin's .so replaced on disk: its instance is made anew.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later mtime, whatever the file system's resolution
  before = in.status();
  replace_file(fs::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so", plugins.path() / "libbinance.so");
  in.dir->write("t.toml", config_with(plugins.path().string(), "300ms", false));
  in.proc->signal(SIGHUP);
  st = wait_generation(in, 4);
  EXPECT_EQ(st["feeds"].size(), 1u);
  EXPECT_LT(source_requests(st, "binance"), source_requests(before, "binance"));  // a new instance counts from 0
  read_in_order(client, 14, last);
  EXPECT_EQ(in.status()["config"]["generation"], 4);  // still serving (a dead process would not answer)
}

TEST(Reload, WatchReloadsWhenTheFileChanges) {
  temp_dir d;
  auto cfg = d.write("t.toml", config_with(TRIBUTARY_PLUGIN_DIR, "200ms", false));
  child c({TRIBUTARY_EXE, "run", "-c", cfg.string(), "--watch", "--replay", TRIBUTARY_SOURCE_DIR "/config/demo-cassettes", "--port-file",
           (d.path() / "port").string()},
          d.path());
  instance in;
  for (int i = 0; i < 500 && !in.port; ++i) {
    auto t = slurp(d.path() / "port");
    if (!t.empty()) in.port = static_cast<unsigned short>(std::stoi(t));
    else std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(in.port, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later mtime, whatever the file system's resolution
  d.write("t.toml", config_with(TRIBUTARY_PLUGIN_DIR, "400ms", false));
  auto st = wait_generation(in, 2);
  EXPECT_EQ(st["feeds"][0]["every"], "400ms");
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0);
}

TEST(Reload, InClusterModeTheLeaseAndTheRoleAreKept) {
  redis_server redis;
  auto cfg_text = [&](const std::string& every) {
    return config_with(TRIBUTARY_PLUGIN_DIR, every, false) + "[cluster]\nmode = \"redis\"\nredis_url = \"redis://127.0.0.1:" +
           std::to_string(redis.port()) + "\"\nname = \"reload\"\nlease = \"1s\"\nrenew_every = \"250ms\"\n";
  };
  std::vector<instance> all;
  all.push_back(launch(cfg_text("200ms")));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  auto epoch = all[0].status()["epoch"];
  ws_client client(all[0].port, "/ws", std::chrono::seconds(5));
  client.send(R"({"type":"subscribe","id":1,"topics":["price.*"]})");
  std::map<std::string, uint64_t> last;
  read_in_order(client, 14, last);
  all[0].dir->write("t.toml", cfg_text("300ms"));
  all[0].proc->signal(SIGHUP);
  auto st = wait_generation(all[0], 2);
  EXPECT_EQ(st["role"], "leader");
  EXPECT_EQ(st["epoch"], epoch);  // the same lease: no new election
  read_in_order(client, 14, last);
}

TEST(Reload, ViewsChangeAtOnce) {
  auto in = launch(config_with(TRIBUTARY_PLUGIN_DIR, "200ms", false));
  ws_client client(in.port, "/ws", std::chrono::seconds(5));
  client.send(R"({"type":"subscribe","id":1,"topics":["view.*"]})");
  auto view_with = [&](const std::string& key) {
    try {
      for (;;) {
        auto m = client.read();
        if (m["type"] == "update" && m["topic"] == "view.v" && m["record"]["data"].contains(key)) return m;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "no view with '" << key << "': " << e.what() << "\n" << in.proc->err();
      return json();
    }
  };
  in.dir->write("t.toml", config_with(TRIBUTARY_PLUGIN_DIR, "200ms", false) + "[views.v]\nfields = { btc = \"price.BTC-USDT:price\" }\n");
  in.proc->signal(SIGHUP);
  wait_generation(in, 2);
  auto first = view_with("btc");
  EXPECT_TRUE(first["record"]["data"]["btc"].is_number());
  in.dir->write("t.toml", config_with(TRIBUTARY_PLUGIN_DIR, "200ms", false) + "[views.v]\nfields = { bitcoin = \"price.BTC-USDT:price\" }\n");
  in.proc->signal(SIGHUP);
  wait_generation(in, 3);
  auto second = view_with("bitcoin");
  EXPECT_FALSE(second["record"]["data"].contains("btc"));
  EXPECT_GT(second["record"]["seq"].get<uint64_t>(), first["record"]["seq"].get<uint64_t>());  // the same topic's numbering goes on
}

TEST(Reload, ServerSettingsApplyToNewRequestsAndSessionsWhileOpenOnesKeepTheirs) {
  auto with_server = [](const std::string& settings, const std::string& token, const std::string& extra) {
    auto cfg = config_with(TRIBUTARY_PLUGIN_DIR, "200ms", false);
    const std::string listen = "listen = \"127.0.0.1:0\"\n";
    cfg.replace(cfg.find(listen), listen.size(), settings.empty() ? listen : settings);
    return cfg + "[server.auth]\nadmin_token = \"" + token + "\"\n" + extra;
  };
  auto in = launch(with_server("", "first-admin-token-1234", ""));
  in.admin_token = "first-admin-token-1234";
  ws_client open_session(in.port, "/ws", std::chrono::seconds(5));
  open_session.read();  // hello

  in.dir->write("t.toml", with_server("listen = \"127.0.0.1:1\"\nmax_message_bytes = 200\n", "second-admin-token-5678",
                                      "[views.v]\nroute = \"/dash/v\"\nfields = { btc = \"price.BTC-USDT:price\" }\n"));
  in.proc->signal(SIGHUP);
  in.admin_token = "second-admin-token-5678";
  wait_generation(in, 2);
  EXPECT_EQ(http_get(in.port, "/api/v1/status", "first-admin-token-1234").status, 401);  // still served on the old port
  EXPECT_EQ(http_get(in.port, "/api/v1/status", "second-admin-token-5678").status, 200);
  EXPECT_THAT(in.proc->err(), ::testing::HasSubstr("server.listen: changed; takes effect at the next restart"));
  EXPECT_EQ(in.status()["config"]["generation"], 2);
  http_result view;
  for (int i = 0; i < 100 && view.status != 200; ++i) {  // a new route, served once the view has a value
    view = http_get(in.port, "/dash/v");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(view.status, 200) << view.body;
  EXPECT_TRUE(json::parse(view.body)["btc"].is_number()) << view.body;

  std::string big = R"({"type":"subscribe","id":7,"topics":["price.)" + std::string(300, 'X') + R"("]})";
  open_session.send(big);  // opened under max_message_bytes = 65536: still its limit
  json reply;
  do reply = open_session.read();
  while (reply["type"] == "update" || reply["type"] == "ping");
  EXPECT_EQ(reply["id"], 7) << reply.dump();
  ws_client new_session(in.port, "/ws", std::chrono::seconds(5));
  new_session.read();  // hello
  new_session.send(big);
  EXPECT_EQ(new_session.read_until_close(), 1009);  // too big under the new limit
}
