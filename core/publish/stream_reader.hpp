#pragma once
// Follows the cluster's Redis stream (tributary:{name}:stream, XREAD BLOCK) on every node and
// hands each record to its target with the leader's seq. A jump in a topic's seqs, or a
// position trimmed away during an outage, is counted, shown in status and followed by a reload
// of the latest records (tributary:{name}:latest:*), never skipped silently. At start the
// latest record of every topic is loaded (after its history, with history rules), and reading
// begins at the stream's end.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json_fwd.hpp>

#include "net/redis.hpp"
#include "publish/history_rules.hpp"
#include "publish/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class metrics;
class metrics_counter;

class stream_reader {
 public:
  class target {
   public:
    virtual ~target() = default;
    // A record read back: its fields (data left unread), canonical bytes and the epoch of the
    // leader that wrote it (0 when not known: a latest:* key). Returns the seq the topic held
    // before when it is applied, nullopt when it is not newer than what is held.
    virtual std::optional<uint64_t> apply(std::shared_ptr<published_record> p) = 0;
  };

  // With `history` (kept by the caller), each topic's history stream is loaded before its latest.
  stream_reader(redis_endpoint redis, std::string name, target& t, metrics& m, std::shared_ptr<spdlog::logger> log,
                const history_rules* history = nullptr);
  ~stream_reader();
  void load();   // the latest records, and the stream's end as the position (synchronous)
  void start();  // the reader thread
  void stop();
  nlohmann::json status() const;  // gaps, last_gap

 private:
  void loop();
  // Applies every entry of one XREAD reply; true when one showed a gap.
  bool apply_reply(const redis_reply& rep);
  bool apply_entry(const redis_reply& entry);
  void note_gap(const std::string& topic, uint64_t before, uint64_t seq);
  bool position_trimmed(redis_client& r);
  void resync(redis_client& r, const char* why);
  // At start with each topic's history first (`with_history`); a resync needs only the latest.
  void load_latest_records(redis_client& r, bool with_history);
  size_t load_history(redis_client& r, std::string_view topic);
  bool wait(int ms);  // false when stopping

  redis_endpoint redis_;
  std::string key_;     // the stream
  std::string prefix_;  // tributary:{name}:
  target& target_;
  const history_rules* history_;
  metrics& m_;
  metrics_counter& reads_;  // per record: resolved once
  std::shared_ptr<spdlog::logger> log_;
  std::string last_id_ = "0";  // reader position
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  uint64_t gaps_ = 0;     // guarded by mu_
  std::string last_gap_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace tributary
