#pragma once
// The Redis stream sink: records go into a bounded, ordered buffer and a writer thread appends
// them with fenced_writer (stream + latest, fenced by epoch, never twice per seq). While Redis
// is unreachable or refuses writes (down, out of memory, read-only, timing out) they wait, in
// order, and the failure shows in healthy()/last_error() and the metrics. Every record that is
// not written is counted in tributary_stream_drops_total{reason} and logged: the buffer
// overflowed, a newer leader fenced this one, or the process stopped before Redis answered.
// Used by the cluster leader and, with `[stream] enabled = true`, by a standalone instance.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/redis.hpp"
#include "publish/history_rules.hpp"
#include "sink/fenced_writer.hpp"
#include "util/ring_queue.hpp"
#include "publish/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class metrics;
class metrics_counter;

struct stream_options {
  redis_endpoint redis;
  std::string name = "default";
  size_t maxlen = 10000;
  millis cache_ttl{3600000};
  size_t buffer = 10000;
  millis flush_at_stop{2000};  // how long stop() tries to write what is still buffered
  std::optional<history_rules> history;  // set: each record also goes to its topic's history stream
};

struct stream_hooks {
  std::function<uint64_t()> epoch;  // read for every write
  // Redis refused a write for a newer epoch (runs on the writer thread; the buffer is dropped).
  std::function<void()> on_fenced;
  // A new leader numbered a record at or below what its predecessor wrote: renumber and
  // publish it again after `last_seq` (on the writer thread).
  std::function<void(const published_record&, uint64_t last_seq)> on_conflict;
};

class stream_writer final : public record_sink {
 public:
  stream_writer(stream_options opts, metrics& m, std::shared_ptr<spdlog::logger> log, stream_hooks hooks);
  ~stream_writer() override;
  void start();
  // Writes what is buffered while Redis answers, for up to flush_at_stop; drops (and counts)
  // the rest.
  void stop();
  void accept(const std::shared_ptr<const published_record>& r) override;
  // Counts a record that was not handed to accept() (for example: not the leader any more).
  void dropped(const published_record& r, const char* reason);
  size_t buffered() const;
  // False while writes fail, or, with nothing to write, while Redis does not answer the PING
  // sent every idle_probe_every.
  bool healthy() const { return !failing_.load(); }
  static constexpr std::chrono::milliseconds idle_probe_every{2000};
  std::string last_error() const;

 private:
  void loop();
  void probe(class redis_client& redis);
  void write_front(fenced_writer& w, int64_t& backoff_ms);
  void wait_after_failure(const std::string& why, int64_t& backoff_ms);
  void drop_fenced(const std::string& why);
  void settle(const published_record& r, const fenced_writer::outcome& o);
  void drop(size_t n, const char* reason);
  void set_failing(bool failing, const std::string& why);

  stream_options opts_;
  metrics& m_;
  std::shared_ptr<spdlog::logger> log_;
  stream_hooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ring_queue<std::shared_ptr<const published_record>> buffer_;  // no allocation per record once grown
  // Per record: resolved once.
  metrics_counter& depth_;
  metrics_counter *written_, *duplicate_, *conflict_, *fenced_, *unavailable_;
  std::string last_error_;  // guarded by mu_
  std::atomic<bool> failing_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> flush_until_{0};  // steady ms: stop() is flushing until then
  // Writer thread only:
  int64_t last_duplicate_log_ = 0;  // steady ms
  std::vector<std::shared_ptr<const published_record>> batch_;  // the buffer's front, being written
  std::vector<const published_record*> batch_ptrs_;
  std::vector<fenced_writer::outcome> outcomes_;
  std::thread thread_;
};

}  // namespace tributary
