// Feeds bench/push: publishes task-status JSON on a Redis pub/sub channel at a steady rate,
// pipelined, as the back end of a task-status service would. Each message carries its publish
// time as "received", which the load client reads (the last "received" in a frame), so the
// latency measured is publish-to-delivery, through Redis, the server and the socket.
// Usage: bench_push_feeder HOST PORT CHANNEL RATE SECONDS TASKS [TASK_ID_FORMAT]
// TASK_ID_FORMAT: the task_id with {i} for the task's number (default t{i}); user.{i}.x makes
// one personal topic per task (event.user.<i>.x) for peers that take the task_id as the topic's
// rest. Each message also carries "user": the task's number, for a subject template
// (Tributary: subject = "user.{user}.x", since a value put into a subject is one segment).
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s HOST PORT CHANNEL RATE SECONDS TASKS\n", argv[0]);
    return 1;
  }
  redisContext* r = redisConnect(argv[1], std::atoi(argv[2]));
  if (!r || r->err) {
    std::fprintf(stderr, "redis: %s\n", r ? r->errstr : "no context");
    return 1;
  }
  std::string channel = argv[3];
  double rate = std::atof(argv[4]);
  int seconds = std::atoi(argv[5]), tasks = std::atoi(argv[6]);
  std::string format = argc > 7 ? argv[7] : "t{i}";
  auto task_id = [&](uint64_t n) {
    std::string id = format;
    auto at = id.find("{i}");
    return at == std::string::npos ? id : id.replace(at, 3, std::to_string(n));
  };
  auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  for (;;) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= seconds) break;
    auto due = static_cast<uint64_t>(elapsed * rate);
    int pending = 0;
    long long now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (; sent < due; ++sent, ++pending) {
      std::string msg = R"({"task_id":")" + task_id(sent % tasks) + R"(","user":")" + std::to_string(sent % tasks) +
                        R"(","status":"running","progress":)" +
                        std::to_string(sent % 100) + R"(,"received":)" + std::to_string(now) + "}";
      const char* args[] = {"PUBLISH", channel.c_str(), msg.c_str()};
      redisAppendCommandArgv(r, 3, args, nullptr);
    }
    for (int i = 0; i < pending; ++i) {
      void* reply = nullptr;
      if (redisGetReply(r, &reply) != REDIS_OK) {
        std::fprintf(stderr, "redis: %s\n", r->errstr);
        return 1;
      }
      freeReplyObject(reply);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("{\"fed\":%llu}\n", static_cast<unsigned long long>(sent));
  redisFree(r);
  return 0;
}
