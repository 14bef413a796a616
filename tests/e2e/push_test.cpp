// Push sources end to end: the redis_pubsub plugin through the real loader, a real
// redis-server, `tributary run`, and WebSocket clients on event.<task_id> topics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "../support/demo_config.hpp"
#include "../support/process.hpp"
#include "../support/redis_server.hpp"
#include "../support/temp_dir.hpp"
#include "../support/ws_client.hpp"
#include "../support/cluster_support.hpp"

using namespace tributary::test_support;
using json = nlohmann::json;

namespace {

constexpr const char* kLive = "";  // no --replay: the upstreams are real (a local redis-server)

std::string task_config(int redis_port, bool cluster) {
  std::string cfg = std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
[plugins.tasks]
plugin = "redis_pubsub"
redis_url = "redis://127.0.0.1:)" + std::to_string(redis_port) + R"("
channel = "task_status_updates"
subject_field = "task_id"
[feeds.tasks]
kind = "event"
subjects = ["*"]
sources = ["tasks"]
mode = "stream"
)";
  if (cluster)
    cfg += "[cluster]\nmode = \"redis\"\nredis_url = \"redis://127.0.0.1:" + std::to_string(redis_port) +
           "\"\nname = \"push\"\nlease = \"1s\"\nrenew_every = \"250ms\"\n";
  return cfg;
}

void publish(redis_server& redis, const json& msg) {
  tributary::redis_client c(redis.endpoint(), tributary::millis(500));
  c.command({"PUBLISH", "task_status_updates", msg.is_string() ? msg.get<std::string>() : msg.dump()});
}

// Waits until the host holds its subscription (pub/sub keeps nothing for a subscriber that is
// not there yet), then publishes `msg` and reads up to its update.
json publish_when_subscribed(redis_server& redis, ws_client& client, const json& msg, const std::string& topic) {
  tributary::redis_client c(redis.endpoint(), tributary::millis(500));
  for (int i = 0; i < 250; ++i) {
    auto r = c.command({"PUBSUB", "NUMSUB", "task_status_updates"});
    auto* reply = std::get_if<tributary::redis_reply>(&r);
    if (reply && reply->elements.size() == 2 && reply->elements[1].integer >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  publish(redis, msg);
  for (;;) {
    auto m = client.read();
    if (m["type"] == "update" && m["topic"] == topic) return m;
  }
}

}  // namespace

TEST(Push, TaskStatusMessagesReachTheTasksSubscribers) {
  redis_server redis;
  auto in = launch(task_config(redis.port(), false), kLive);
  ws_client watcher(in.port, "/ws", std::chrono::seconds(3));
  watcher.send(R"({"type":"subscribe","id":1,"topics":["event.task-42"]})");
  watcher.read();  // hello
  watcher.read();  // subscribed
  json first{{"task_id", "task-42"}, {"status", "processing"}, {"progress", 40}, {"message", "resizing"}};
  auto got = publish_when_subscribed(redis, watcher, first, "event.task-42");
  EXPECT_EQ(got["record"]["data"], first);  // the message as is
  EXPECT_EQ(got["record"]["kind"], "event");
  EXPECT_EQ(got["record"]["native"], "task_status_updates");
  // Malformed messages are counted and skipped; the subscription goes on.
  for (std::string bad : {"not json", "[1,2]", R"({"status":"no id"})", R"({"task_id":""})", R"({"task_id":{"x":1}})"})
    publish(redis, bad);
  publish(redis, json{{"task_id", "other-task"}, {"status", "done"}});  // not this client's topic
  json done{{"task_id", "task-42"}, {"status", "done"}, {"progress", 100}};
  publish(redis, done);
  auto next = watcher.read();
  EXPECT_EQ(next["record"]["data"], done);
  EXPECT_EQ(next["record"]["seq"], got["record"]["seq"].get<int>() + 1);
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="tasks",outcome="rejected"} 5)"));
  // After a Redis restart the host subscribes again and messages flow on.
  redis.stop();
  redis.start();
  json after{{"task_id", "task-42"}, {"status", "requeued"}};
  auto again = publish_when_subscribed(redis, watcher, after, "event.task-42");
  EXPECT_EQ(again["record"]["data"], after);
}

TEST(Push, InClusterModeOneMessageIsOneRecordWhateverTheNumberOfNodes) {
  redis_server redis;
  auto cfg = task_config(redis.port(), true);
  std::vector<instance> all;
  all.push_back(launch(cfg, kLive));
  ASSERT_EQ(wait_leader(all, std::chrono::seconds(5), {true}), 0);
  all.push_back(launch(cfg, kLive));
  ws_client on_follower(all[1].port, "/ws", std::chrono::seconds(3));
  on_follower.send(R"({"type":"subscribe","id":1,"topics":["event.*"]})");
  on_follower.read();
  on_follower.read();
  auto first = publish_when_subscribed(redis, on_follower, json{{"task_id", "t1"}, {"n", 0}}, "event.t1");
  uint64_t seq = first["record"]["seq"];
  for (int n = 1; n <= 20; ++n) publish(redis, json{{"task_id", "t1"}, {"n", n}});
  for (int n = 1; n <= 20; ++n) {
    auto m = on_follower.read();
    EXPECT_EQ(m["record"]["data"]["n"], n);
    EXPECT_EQ(m["record"]["seq"], seq + n);  // once each: the follower does not subscribe
  }
}

namespace {

std::string streams_config(int redis_port) {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
[plugins.jobs]
plugin = "redis_streams"
redis_url = "redis://127.0.0.1:)" + std::to_string(redis_port) + R"("
stream = "task_events"
group = "tributary"
consumer = "jobs"
payload_field = "data"
subject_field = "task_id"
[feeds.jobs]
kind = "event"
subjects = ["*"]
sources = ["jobs"]
mode = "stream"
)";
}

tributary::redis_reply redis_do(redis_server& redis, const std::vector<std::string>& argv) { return redis.command(argv); }

void wait_group(redis_server& redis) {
  for (int i = 0; i < 250; ++i) {
    if (redis_do(redis, {"XINFO", "GROUPS", "task_events"}).elements.size() == 1) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the consumer group was not created";
}

json latest(unsigned short port, const std::string& topic) {
  for (int i = 0; i < 250; ++i) {
    auto r = http_get(port, "/api/v1/latest/" + topic);
    if (r.status == 200) return json::parse(r.body);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

}  // namespace

TEST(Push, StreamEntriesAddedWhileTheHostIsDownAreReadAfterItsRestart) {
  redis_server redis;
  auto first = launch(streams_config(redis.port()), kLive);
  wait_group(redis);
  redis_do(redis, {"XADD", "task_events", "*", "data", R"({"task_id":"t-9","status":"queued"})"});
  EXPECT_EQ(latest(first.port, "event.t-9")["data"]["status"], "queued");
  // Acknowledged after it is published: a kill before that would rightly read it again.
  for (int i = 0; i < 250 && redis_do(redis, {"XPENDING", "task_events", "tributary"}).elements.at(0).integer != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  first.proc->signal(SIGKILL);
  first.proc.reset();
  for (int n = 1; n <= 3; ++n)
    redis_do(redis, {"XADD", "task_events", "*", "data", json{{"task_id", "t-9"}, {"status", "running"}, {"n", n}}.dump()});
  redis_do(redis, {"XADD", "task_events", "*", "data", "not json"});
  redis_do(redis, {"XADD", "task_events", "*", "other", "field"});
  auto second = launch(streams_config(redis.port()), kLive);
  json last;
  for (int i = 0; i < 250 && last["data"]["n"] != 3; ++i) {
    last = latest(second.port, "event.t-9");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(last["data"]["n"], 3);
  EXPECT_EQ(last["seq"], 3);  // n = 1, 2, 3: every entry, once each
  auto metrics = http_get(second.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="jobs",outcome="rejected"} 2)"));
  // Everything read was acknowledged.
  auto pending = redis_do(redis, {"XPENDING", "task_events", "tributary"});
  ASSERT_FALSE(pending.elements.empty());
  EXPECT_EQ(pending.elements[0].integer, 0);
}

TEST(Push, AKindDeclaredByThePluginIsValidatedLikeABuiltInOne) {
  redis_server redis;
  auto cfg = task_config(redis.port(), false);
  cfg.replace(cfg.find("kind = \"event\""), 14, "kind = \"task_status\"");
  auto in = launch(cfg, kLive);
  ws_client watcher(in.port, "/ws", std::chrono::seconds(3));
  watcher.send(R"({"type":"subscribe","id":1,"topics":["task_status.*"]})");
  watcher.read();
  watcher.read();
  publish(redis, R"({"task_id":"t7"})");  // no status: the declared kind requires it
  auto got = publish_when_subscribed(redis, watcher, json{{"task_id", "t7"}, {"status", "done"}, {"progress", 100}, {"extra", true}},
                                     "task_status.t7");
  EXPECT_EQ(got["record"]["data"], (json{{"task_id", "t7"}, {"status", "done"}, {"progress", 100}}));  // extra: not a field
  EXPECT_EQ(got["record"]["seq"], 1);  // the message without status made no record
  // Contract problems on the push path are counted like a polled source's: the record without
  // its required field, and the field outside the kind.
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_plugin_contract_violations_total{source="tasks"} 2)"));
  // `tributary plugins` shows the declared kind.
  temp_dir d;
  child list({TRIBUTARY_EXE, "plugins", "--plugin-dir", TRIBUTARY_PLUGIN_DIR, "--json"}, d.path());
  EXPECT_EQ(list.wait(), 0);
  EXPECT_THAT(list.out(), ::testing::HasSubstr(R"("task_status":{"fields":{"message":"string","progress":"number","status":"string","task_id":"string"},"required":["status"]})"));
  // ... and how each plugin's feeds may run.
  EXPECT_THAT(list.out(), ::testing::HasSubstr(R"("modes":["stream"],"name":"redis_pubsub")"));
  EXPECT_THAT(list.out(), ::testing::HasSubstr(R"("modes":["poll","stream"],"name":"binance")"));
  EXPECT_THAT(list.out(), ::testing::HasSubstr(R"("modes":["poll"],"name":"coingecko")"));
}

TEST(Push, AKindNoPluginDeclaresIsAConfigError) {
  redis_server redis;
  auto cfg = task_config(redis.port(), false);
  cfg.replace(cfg.find("kind = \"event\""), 14, "kind = \"order_fill\"");
  temp_dir d;
  auto file = d.write("t.toml", cfg);
  child check({TRIBUTARY_EXE, "check", "-c", file.string()}, d.path());
  EXPECT_NE(check.wait(), 0);
  EXPECT_THAT(check.err() + check.out(), ::testing::HasSubstr("feeds.tasks.kind: unknown kind 'order_fill': neither built in nor declared"));
}

TEST(Push, ASilentUpstreamPastThreeExpectedIntervalsIsAFailureAndIsReconnected) {
  redis_server redis;
  auto cfg = task_config(redis.port(), false);
  cfg.replace(cfg.find("subject_field = \"task_id\""), 25, "subject_field = \"task_id\"\nexpected_interval_ms = 100");
  auto in = launch(cfg, kLive);
  ws_client watcher(in.port, "/ws", std::chrono::seconds(10));
  watcher.send(R"({"type":"subscribe","id":1,"topics":["event.*"]})");
  watcher.read();
  watcher.read();
  // Nothing is published: after 300 ms of silence the host calls it a failure and subscribes again.
  std::string metrics;
  for (int i = 0; i < 150; ++i) {
    metrics = http_get(in.port, "/metrics").body;
    if (metrics.find(R"(tributary_stream_connects_total{source="tasks",outcome="failed"} 0)") == std::string::npos &&
        metrics.find(R"(tributary_stream_connects_total{source="tasks",outcome="failed"})") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(metrics, ::testing::Not(::testing::HasSubstr(R"(tributary_stream_connects_total{source="tasks",outcome="failed"} 0)")));
  auto status = json::parse(http_get(in.port, "/api/v1/status").body);
  EXPECT_THAT(status["plugins"][0]["last_error"].get<std::string>(), ::testing::HasSubstr("no message for"));
  // It comes back and delivers. It also drops again whenever 300 ms pass without a message, so
  // publish every 50 ms until one arrives.
  std::atomic<bool> seen{false};
  std::thread publisher([&] {
    while (!seen) {
      publish(redis, json{{"task_id", "q1"}, {"status", "ok"}});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  json got;
  try {
    for (;;) {
      got = watcher.read();
      if (got["type"] == "update" && got["topic"] == "event.q1") break;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  seen = true;
  publisher.join();
  EXPECT_EQ(got["record"]["data"]["status"], "ok");
}

// Messages that arrive together are read by the plugin as a batch before any is published
// (stream_feed::read_pushes): all of them still go out, each once, in the order published, and
// a bad one among them is counted without holding up the rest.
TEST(Push, ABurstReadAsOneBatchIsPublishedWholeAndInOrder) {
  redis_server redis;
  auto in = launch(task_config(redis.port(), false), kLive);
  ws_client watcher(in.port, "/ws", std::chrono::seconds(5));
  watcher.send(R"({"type":"subscribe","id":1,"topics":["event.burst"]})");
  watcher.read();  // hello
  watcher.read();  // subscribed
  auto first = publish_when_subscribed(redis, watcher, json{{"task_id", "burst"}, {"progress", 0}}, "event.burst");
  int seq0 = first["record"]["seq"];
  std::vector<std::vector<std::string>> burst;  // sent at once: Redis pushes them in as few reads as it can
  for (int i = 1; i <= 300; ++i) {
    burst.push_back({"PUBLISH", "task_status_updates", json{{"task_id", "burst"}, {"progress", i}}.dump()});
    if (i % 50 == 0) burst.push_back({"PUBLISH", "task_status_updates", "not json"});
  }
  tributary::redis_client c(redis.endpoint(), tributary::millis(2000));
  std::vector<tributary::redis_reply> replies;
  ASSERT_FALSE(c.pipeline(burst, replies));
  for (int i = 1; i <= 300; ++i) {
    auto m = watcher.read();
    ASSERT_EQ(m["type"], "update");
    ASSERT_EQ(m["record"]["data"]["progress"], i);
    ASSERT_EQ(m["record"]["seq"], seq0 + i);
  }
  auto metrics = http_get(in.port, "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="tasks",outcome="rejected"} 6)"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(tributary_stream_messages_total{source="tasks",outcome="published"} 301)"));
}
