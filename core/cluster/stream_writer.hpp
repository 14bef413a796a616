#pragma once
// The Redis stream sink: records go into a bounded, ordered buffer and a writer thread appends
// them with fenced_writer (stream + latest, fenced by epoch). While Redis is unreachable they
// wait, in order; past the bound the oldest are dropped and counted. Used by the cluster
// leader and, with `[stream] enabled = true`, by a standalone instance (epoch 0).
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/redis.hpp"
#include "sink/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class metrics;

struct stream_options {
  redis_endpoint redis;
  std::string name = "default";
  size_t maxlen = 10000;
  millis cache_ttl{3600000};
  size_t buffer = 10000;
};

class stream_writer final : public record_sink {
 public:
  // `epoch()` is read for every write; `on_fenced()` runs (on the writer thread) when Redis
  // refuses a write because a newer epoch exists; the buffer is emptied then.
  stream_writer(stream_options opts, metrics& m, std::shared_ptr<spdlog::logger> log,
                std::function<uint64_t()> epoch, std::function<void()> on_fenced = {});
  ~stream_writer() override;
  void start();
  void stop();  // stops after the write in flight; what is still buffered is not written
  void accept(const std::shared_ptr<const published_record>& r) override;
  size_t buffered() const;

 private:
  void loop();
  stream_options opts_;
  metrics& m_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<uint64_t()> epoch_;
  std::function<void()> on_fenced_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const published_record>> buffer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tributary
