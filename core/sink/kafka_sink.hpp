#pragma once
// `[sinks.NAME] type = "kafka"`: publications produced to Kafka (librdkafka). The topic is
// made from the record (`topic = "tributary.{kind}"`); the key is the record's topic, so one
// topic's records keep their order on one partition; the value is the tributary.v1 JSON and
// the headers carry `seq` and `epoch`. The producer is idempotent with acks = all. While the
// brokers are unreachable librdkafka's queue, bounded by `buffer`, holds the records; a record
// that does not fit is dropped (buffer_full), one the brokers refuse for good is counted as
// refused.
#include <atomic>
#include <thread>

#include "sink/copy_sink.hpp"
#include "sink/record_template.hpp"

struct rd_kafka_s;

namespace tributary {

class kafka_sink final : public copy_sink {
 public:
  static std::variant<std::unique_ptr<copy_sink>, std::string> make(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                                                    std::shared_ptr<spdlog::logger> log);
  ~kafka_sink() override;
  void start() override;
  void stop() override;
  size_t buffered() const override;

 private:
  friend struct kafka_sink_callbacks;
  kafka_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading, std::shared_ptr<spdlog::logger> log, record_template topic);
  void take(const std::shared_ptr<const published_record>& r) override;
  void poll_loop();

  record_template topic_;
  ::rd_kafka_s* rk_ = nullptr;
  std::string name_buf_;  // the topic name, made on the delivering thread (one at a time)
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports and errors
};

}  // namespace tributary
