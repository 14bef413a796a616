#pragma once
// Kafka for tests: librdkafka's mock cluster in its own process (kafka_mock_cluster.cpp), a
// producer and a consumer of the real client library speaking to it over TCP.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <thread>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace tributary::test_support {

class kafka_mock {
 public:
  // A cluster of `brokers` brokers; the helper binary's path comes from the build.
  explicit kafka_mock(int brokers = 3) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::string n = std::to_string(brokers);
    char* argv[] = {const_cast<char*>(TRIBUTARY_KAFKA_MOCK), n.data(), nullptr};
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv, environ) != 0) throw std::runtime_error("cannot start the Kafka mock cluster");
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
    auto first = line();
    if (first.rfind("bootstrap ", 0) != 0) throw std::runtime_error("Kafka mock cluster said: " + first);
    bootstrap_ = first.substr(10);
  }
  ~kafka_mock() {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  const std::string& bootstrap() const { return bootstrap_; }
  void create_topic(const std::string& name, int partitions) { command("topic " + name + " " + std::to_string(partitions)); }
  void brokers_down() { command("down all"); }
  void brokers_up() { command("up all"); }

 private:
  void command(const std::string& c) {
    std::fprintf(to_, "%s\n", c.c_str());
    std::fflush(to_);
    auto answer = line();
    if (answer != "ok") throw std::runtime_error("Kafka mock cluster: " + c + ": " + answer);
  }
  std::string line() {
    char buf[1024];
    if (!std::fgets(buf, sizeof buf, from_)) throw std::runtime_error("the Kafka mock cluster ended");
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::string bootstrap_;
};

// An idempotent producer; produce() returns once the cluster has the message.
class kafka_producer {
 public:
  explicit kafka_producer(const std::string& bootstrap) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof err);
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});  // outages are the tests' point
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) throw std::runtime_error(err);
  }
  ~kafka_producer() {
    rd_kafka_flush(rk_, 5000);
    rd_kafka_destroy(rk_);
  }
  // Queues a message; flush() waits for all queued to be acknowledged.
  void send(const std::string& topic, const std::string& value, const std::string& key = "",
            const std::vector<std::pair<std::string, std::string>>& headers = {}, int partition = RD_KAFKA_PARTITION_UA) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (auto& [k, v] : headers) rd_kafka_header_add(h, k.c_str(), -1, v.data(), static_cast<ssize_t>(v.size()));
    auto rc = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (rc) {
      rd_kafka_headers_destroy(h);
      throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(rc));
    }
    rd_kafka_poll(rk_, 0);
  }
  void flush() {
    if (rd_kafka_flush(rk_, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("the producer could not flush in 30 s");
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

// A message as a test reads it back.
struct kafka_read {
  std::string topic, key, value;
  int32_t partition = 0;
  int64_t offset = 0;
  std::map<std::string, std::string> headers;
};

// Reads topics from the start, with its own group.
class kafka_reader {
 public:
  kafka_reader(const std::string& bootstrap, const std::vector<std::string>& topics, const std::string& group) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk_) throw std::runtime_error(err);
    rd_kafka_poll_set_consumer(rk_);
    auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
    for (auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  ~kafka_reader() {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  // Up to `n` messages, waiting at most `limit` in all.
  std::vector<kafka_read> read(size_t n, std::chrono::milliseconds limit) {
    std::vector<kafka_read> out;
    auto end = std::chrono::steady_clock::now() + limit;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
      if (!m) continue;
      if (!m->err) out.push_back(to_read(m));
      rd_kafka_message_destroy(m);
    }
    return out;
  }

 private:
  static kafka_read to_read(rd_kafka_message_t* m) {
    kafka_read r;
    r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* h = nullptr;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* v;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
        r.headers[name] = v ? std::string(static_cast<const char*>(v), size) : std::string();
    }
    return r;
  }
  rd_kafka_t* rk_ = nullptr;
};

// Waits, up to 60 s, until a host's log (`log()` gives it) says its consumer group got `n`
// partition assignments held (a group starting at the latest offsets misses what is produced
// before: on a loaded machine that can take well over 15 s; an assignment a rebalance revoked
// does not count); returns how many it saw.
template <class Log>
size_t wait_assigned(Log&& log, size_t n) {
  auto count = [](const std::string& text, const char* what) {
    size_t k = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++k;
    return k;
  };
  size_t held = 0;  // assignments not revoked since: consumers joining one group rebalance it
  for (int i = 0; i < 1200 && held < n; ++i) {
    auto text = log();
    size_t assigned = count(text, "partition(s) assigned"), revoked = count(text, "partition(s) revoked");
    held = assigned > revoked ? assigned - revoked : 0;
    if (held < n) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return held;
}

}  // namespace tributary::test_support
