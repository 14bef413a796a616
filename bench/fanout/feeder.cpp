// Feeds bench/fanout: appends tributary.v1 records to the cluster stream
// (tributary:{name}:stream) as a leader would, at a steady rate, pipelined. Both servers under
// test read that stream: Tributary as a cluster follower, the Node peer with XREAD.
// `received` is the append time, so clients measure publish-to-delivery latency.
// Usage: bench_fanout_feeder HOST PORT NAME RATE SECONDS TOPICS TOPIC_PREFIX SEQ_BASE
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 9) {
    std::fprintf(stderr, "usage: %s HOST PORT NAME RATE SECONDS TOPICS TOPIC_PREFIX SEQ_BASE\n", argv[0]);
    return 1;
  }
  redisContext* r = redisConnect(argv[1], std::atoi(argv[2]));
  if (!r || r->err) {
    std::fprintf(stderr, "redis: %s\n", r ? r->errstr : "no context");
    return 1;
  }
  std::string key = std::string("tributary:") + argv[3] + ":stream";
  double rate = std::atof(argv[4]);
  int seconds = std::atoi(argv[5]), topics = std::atoi(argv[6]);
  std::string prefix = argv[7];
  uint64_t seq = std::strtoull(argv[8], nullptr, 10);
  auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  const int batch_ms = 5;
  for (;;) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= seconds) break;
    auto due = static_cast<uint64_t>(elapsed * rate);
    int pending = 0;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (; sent < due; ++sent, ++pending) {
      int t = static_cast<int>(sent % topics);
      std::string subject = prefix + std::to_string(t) + "-USDT";
      std::string topic = "price." + subject;
      uint64_t s = seq + sent / topics + 1;
      std::string rec = R"({"schema":"tributary.v1","topic":")" + topic + R"(","kind":"price","subject":")" + subject +
                        R"(","source":"bench","feed":"bench","native":"X","ts":)" + std::to_string(now) +
                        R"(,"received":)" + std::to_string(now) + R"(,"seq":)" + std::to_string(s) +
                        R"(,"stale":false,"data":{"price":)" + std::to_string(60000 + sent % 1000) +
                        R"(.25,"change_24h_pct":1.615,"volume_24h":12345.678}})";
      std::string ss = std::to_string(s);
      const char* argv2[] = {"XADD", key.c_str(), "MAXLEN", "~", "100000", "*", "topic", topic.c_str(), "epoch", "1", "seq", ss.c_str(), "record", rec.c_str()};
      redisAppendCommandArgv(r, 14, argv2, nullptr);
    }
    for (int i = 0; i < pending; ++i) {
      void* reply = nullptr;
      if (redisGetReply(r, &reply) != REDIS_OK) { std::fprintf(stderr, "redis: %s\n", r->errstr); return 1; }
      freeReplyObject(reply);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(batch_ms));
  }
  std::printf("{\"fed\":%llu}\n", static_cast<unsigned long long>(sent));
  redisFree(r);
  return 0;
}
