#pragma once
// `[sinks.NAME] type = "redis_stream"`: publications appended to a Redis stream with
// XADD key MAXLEN ~ maxlen, for services that read one (XREVRANGE ... COUNT 1, XREAD):
//   format = "record": fields topic, seq, record (the tributary.v1 JSON);
//   format = "flat":   each member of the record's data as a field (strings as they are, other
//                      values as JSON), plus updated_at (RFC 3339, UTC) — the shape of a
//                      hand-written market_data_stream.
// A writer thread appends from a bounded ring buffer, in order, up to 64 records per round trip
// (pipelined); while Redis does not answer the records wait, and the oldest are dropped
// (buffer_full) when it overflows.
#include <condition_variable>
#include <thread>

#include "net/redis.hpp"
#include "sink/copy_sink.hpp"
#include "util/ring_queue.hpp"

namespace tributary {

class redis_stream_sink final : public copy_sink {
 public:
  static std::variant<std::unique_ptr<copy_sink>, std::string> make(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                                                    std::shared_ptr<spdlog::logger> log);
  ~redis_stream_sink() override;
  void start() override;
  void stop() override;
  size_t buffered() const override;

  // The XADD fields of `r` in `format` (public for tests).
  static std::vector<std::string> fields_of(const published_record& r, sink_format format);
  // With nothing to copy, Redis is sent a PING this often, so that /ready shows it down.
  static constexpr std::chrono::milliseconds idle_probe_every{2000};

 private:
  redis_stream_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading, std::shared_ptr<spdlog::logger> log,
                    redis_endpoint where);
  void take(const std::shared_ptr<const published_record>& r) override;
  void loop();
  bool write_front(redis_client& redis);  // false: Redis did not take all of it
  void settle(size_t written);

  redis_endpoint where_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ring_queue<std::shared_ptr<const published_record>> buffer_;
  // Writer thread only: the batch being written, its commands and their replies.
  std::vector<std::shared_ptr<const published_record>> batch_;
  std::vector<std::vector<std::string>> cmds_;
  std::vector<redis_reply> replies_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> flush_until_{0};
  std::thread thread_;
};

}  // namespace tributary
