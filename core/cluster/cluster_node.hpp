#pragma once
// Cluster mode: one instance leads (fetches and writes), every instance serves.
//  - a lease thread runs lease_keeper::step() every renew_every;
//  - the leader's records go to a stream_writer (bounded ordered buffer, fenced appends); a
//    fenced write makes the node step down at once;
//  - a reader thread follows the stream (XREAD BLOCK) into the local pipeline with the leader's
//    seq numbers, on every node, the leader included: a record reaches any client only once it
//    is in the stream, so every node shows the same record for a seq;
//  - a jump in a topic's seqs, or a stream position trimmed away during an outage, is counted,
//    shown in status and followed by a reload of the latest records (never skipped silently);
//  - at start the latest record of every topic is loaded from Redis, so clients get snapshots
//    and a new leader continues each topic's seq.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/lease_keeper.hpp"
#include "cluster/stream_writer.hpp"
#include "server/server.hpp"
#include "sink/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class clock_source;
class pipeline;
class metrics;

struct cluster_options {
  redis_endpoint redis;
  std::string name = "default";
  std::string node_id;
  millis lease{3000};
  millis renew_every{1000};
  size_t maxlen = 10000;
  millis cache_ttl{3600000};
  size_t buffer = 10000;  // leader's records kept while Redis is unreachable
};

// Control API requests shared through Redis (tributary:{name}:control), so they apply to
// whichever node leads: the feeds paused now, and runs and resets asked for since the last look.
struct cluster_control {
  std::set<std::string> paused_feeds;
  std::vector<std::string> run_feeds, reset_sources;
};

class cluster_node final : public record_sink {
 public:
  cluster_node(cluster_options opts, pipeline& local, metrics& m, const clock_source& clock,
               std::shared_ptr<spdlog::logger> log);
  ~cluster_node() override;

  void start();  // loads the latest records, then starts the threads
  void stop();   // releases the lease if held, stops the threads

  // record_sink: the leader's freshly fetched records.
  void accept(const std::shared_ptr<const published_record>& r) override;

  bool is_leader() const { return leader_.load(); }
  bool redis_up() const { return redis_up_.load(); }
  uint64_t epoch() const { return epoch_.load(); }
  const std::string& node_id() const { return opts_.node_id; }
  nlohmann::json status() const;
  bool writes_healthy() const;  // false while stream writes fail (down, OOM, read-only, timeouts)
  // Shares a control request with every node (written to Redis by the lease thread within
  // renew_every, never on the caller's thread); `cb` gets what the others asked for (called on
  // the lease thread every renew_every). Set before start().
  void share_control(const control_request& r);
  void on_control(std::function<void(const cluster_control&)> cb) { on_control_ = std::move(cb); }

 private:
  void lease_loop();
  void reader_loop();
  bool apply_entry(const redis_reply& entry);
  void note_gap(const std::string& topic, uint64_t before, uint64_t seq);
  bool position_trimmed(redis_client& r, const std::string& key);
  void resync(redis_client& r, const char* why);
  void load_latest(redis_client& r);          // at start: from the stream's end
  void load_latest_records(redis_client& r);  // latest:* keys, whatever is newer than what we have
  void write_control(redis_client& r);
  void poll_control(redis_client& r);
  void set_role(bool leader, uint64_t epoch);

  cluster_options opts_;
  pipeline& local_;
  metrics& m_;
  const clock_source& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> leader_{false}, redis_up_{false}, stop_{false}, fenced_{false};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> started_{false};
  std::string last_id_ = "0";  // reader position in the stream
  std::string last_error_;      // guarded by mu_
  uint64_t gaps_ = 0;           // guarded by mu_
  std::string last_gap_;        // guarded by mu_
  std::function<void(const cluster_control&)> on_control_;
  std::vector<control_request> control_out_;       // to write to Redis; guarded by mu_
  std::map<std::string, long long> control_seen_;  // run:/reset: counters already acted on; guarded by mu_
  bool control_primed_ = false;                    // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread lease_thread_, reader_thread_;
  std::unique_ptr<stream_writer> writer_;
  std::unique_ptr<redis_client> lease_redis_;
  std::unique_ptr<lease_keeper> keeper_;
};

}  // namespace tributary
