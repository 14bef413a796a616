#pragma once
// A Kafka consumer in a consumer group (librdkafka, C API), for the kafka push source. Offsets
// are never committed by librdkafka on its own: the caller commits what is published (see
// kafka_ledger). librdkafka reconnects to brokers by itself; whether they answer shows in
// brokers_up(). Rebalances are reported to a listener on the polling thread, before the
// assignment changes, so a revoked partition's progress can be committed first.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "plugin/plugin.hpp"

struct rd_kafka_s;
struct rd_kafka_message_s;

namespace tributary {

using millis = std::chrono::milliseconds;

struct kafka_partition {
  std::string topic;
  int32_t partition = 0;
};

struct kafka_commit {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;  // the next message to read: one past the last one done
};

class kafka_consumer {
 public:
  struct options {
    std::string brokers;  // "host:port,host:port"
    std::vector<std::string> topics;
    std::string group;
    std::string client_id;
    bool earliest = false;  // where a group with no committed offset starts
    std::vector<std::pair<std::string, std::string>> client_settings;  // librdkafka properties, applied last
  };
  class listener {
   public:
    virtual ~listener() = default;
    virtual void assigned(const std::vector<kafka_partition>& parts) = 0;
    virtual void revoked(const std::vector<kafka_partition>& parts) = 0;
    virtual void client_log(int level, std::string_view text) = 0;  // librdkafka's own (syslog levels)
  };
  // One message, valid until the next poll().
  struct message {
    std::string_view topic, key, payload;
    int32_t partition = 0;
    int64_t offset = 0;
    std::vector<upstream_message::header> headers;  // reused from poll to poll
  };
  enum class polled { message, nothing, failed };

  // Subscribes to the topics; or says why it cannot (a bad property, say). Never quotes the
  // settings' values (they may hold a password).
  static std::variant<std::unique_ptr<kafka_consumer>, std::string> open(const options& opts, listener& l);
  ~kafka_consumer();  // commits nothing; leaves the group

  // Waits up to `wait` for a message. `failed`: the consumer cannot go on (why in `error`);
  // errors it recovers from (a broker down) are reported through brokers_up() instead.
  polled poll(millis wait, message& out, std::string& error);
  // Commits offsets, at once (sync) or in the background.
  void commit(const std::vector<kafka_commit>& offsets, bool sync);
  // Whether the brokers answer: false from "all brokers down" until one answers again.
  bool brokers_up() const { return up_; }
  std::string last_error() const { return last_error_; }

 private:
  friend struct kafka_callbacks;  // librdkafka's callbacks (kafka_consumer.cpp)
  kafka_consumer() = default;
  void check_brokers();

  ::rd_kafka_s* rk_ = nullptr;
  ::rd_kafka_message_s* held_ = nullptr;  // the message handed out by the last poll
  listener* listener_ = nullptr;
  bool earliest_ = false;
  std::atomic<bool> up_{true};
  int64_t last_check_ms_ = 0;
  int64_t last_answer_ms_ = 0;  // a message or a metadata answer
  int misses_ = 0;              // probes in a row without an answer
  std::string last_error_;
};

}  // namespace tributary
