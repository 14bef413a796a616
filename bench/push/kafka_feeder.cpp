// Feeds bench/push --upstream kafka: produces task-status JSON to a Kafka topic at a steady
// rate (librdkafka, linger 1 ms), keyed by task. Each message carries its production time as
// "received", which the load client reads, so the latency measured is produce-to-delivery,
// through the brokers, the server and the socket.
// Usage: bench_kafka_feeder BROKERS TOPIC RATE SECONDS TASKS
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s BROKERS TOPIC RATE SECONDS TASKS\n", argv[0]);
    return 1;
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err);
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "kafka: %s\n", err);
    return 1;
  }
  std::string topic = argv[2];
  // Connected, with the topic's partitions known, before the clock starts: the first messages'
  // latency must not include the producer's start-up.
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka: no metadata for %s\n", topic.c_str());
    return 1;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  double rate = std::atof(argv[3]);
  int seconds = std::atoi(argv[4]), tasks = std::atoi(argv[5]);
  auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  for (;;) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= seconds) break;
    auto due = static_cast<uint64_t>(elapsed * rate);
    long long now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (; sent < due; ++sent) {
      std::string task = "t" + std::to_string(sent % tasks);
      std::string msg = R"({"task_id":")" + task + R"(","status":"running","progress":)" + std::to_string(sent % 100) +
                        R"(,"received":)" + std::to_string(now) + "}";
      while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(task.data(), task.size()),
                               RD_KAFKA_V_VALUE(msg.data(), msg.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
             RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  rd_kafka_flush(rk, 10000);
  std::printf("{\"fed\":%llu}\n", static_cast<unsigned long long>(sent));
  rd_kafka_destroy(rk);
  return 0;
}
