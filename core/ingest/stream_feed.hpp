#pragma once
// A feed with `mode = "stream"`: its source pushes (ABI 1.1 plan_stream / parse_message). The
// host owns the upstream connection: one thread per stream feed connects, subscribes, hands
// every message to the plugin and publishes what it makes; it reconnects with backoff and
// jitter and resubscribes. A message the plugin cannot understand is counted and logged with
// its channel; the subscription goes on. In cluster mode only the leader holds the upstream
// (`gate`), so each message becomes one numbered record, not one per node.
//
// Upstreams: WebSocket (ws/wss), Redis pub/sub (channels and patterns) and Redis streams
// (consumer group). A failed upstream opens the source's circuit like a failed poll, and hands
// the feed to its later sources, polled every `every`, until the stream is subscribed again.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "plugin/plugin.hpp"
#include "ingest/limits/circuit_breaker.hpp"
#include "ingest/stream_cassette.hpp"
#include "publish/broker.hpp"

namespace spdlog { class logger; }

namespace tributary {

struct feed_runtime;
struct source_runtime;
class intake;
class metrics;
class clock_source;
class redis_client;
class redactor;
struct run_outcome;

// `--replay DIR` for streams: the cassettes found there, played instead of connecting.
struct stream_replay {
  std::vector<stream_cassette> cassettes;
  std::filesystem::path dir;
  std::shared_ptr<redactor> secrets;
};

class stream_feed {
 public:
  stream_feed(feed_runtime& feed, source_runtime& source, intake& out, metrics& m, const clock_source& clock,
              std::shared_ptr<spdlog::logger> log);
  ~stream_feed();
  // `gate`: whether this node may hold the upstream now (cluster mode: the leader only).
  // `on_down`: the stream has just failed and the feed has polled fallback sources.
  void start(std::function<bool()> gate, std::function<void()> on_down = {});
  void stop();
  bool started() const { return thread_.joinable(); }
  bool connected() const { return connected_; }
  // Before start(): play cassettes instead of connecting, or write what arrives to a cassette.
  void replay_from(std::shared_ptr<const stream_replay> r) { replay_ = std::move(r); }
  // The consumer group of a Kafka source whose plugin names none: tributary-<cluster or host name>.
  void default_group(std::string g) { default_group_ = std::move(g); }
  // Why this node is not ready for this feed now: it holds the upstream, which does not deliver,
  // and no fallback source polls in its place.
  std::optional<std::string> unready() const;
  void record_to(std::unique_ptr<stream_recorder> r) { recorder_ = std::move(r); }
  // `tributary fetch` / golden cases: every message of the feed's cassette at once, no timing.
  run_outcome replay_once();
  feed_runtime& feed() const { return feed_; }

 private:
  void run();
  void attempt_session();
  std::optional<std::string> session(const stream_plan& plan);  // why it failed, or nullopt
  std::optional<std::string> read_websocket(const stream_plan& plan);
  std::optional<std::string> play(const stream_plan& plan);  // a cassette, with its timing
  std::variant<const stream_cassette*, std::string> cassette_for(const stream_plan& plan) const;
  void set_up(bool up);
  void delivered();
  std::optional<std::string> read_pubsub(redis_client& redis, const stream_plan& plan);
  std::optional<std::string> read_pushes(redis_client& redis, struct redis_reply& push);  // why it failed, or nullopt
  static std::optional<upstream_message> message_of(const struct redis_reply& push);
  std::optional<std::string> read_streams(redis_client& redis, const stream_plan& plan);
  bool take_entries(redis_client& redis, const stream_plan& plan, const struct redis_reply& rep);
  void subscribed(size_t channels, size_t patterns);
  bool holding() const;  // still ours to read: not stopping, and the gate is open
  // Why the upstream counts as failed for silence (3 x its expected interval), or nullopt.
  std::optional<std::string> silent(const stream_plan& plan) const;
  // What the plugin made of one message, and when it came: read first, published after.
  struct parsed_message {
    call_result res;  // kept for its records' storage
    int64_t at_ms = 0;
  };
  // Hands one message to the plugin and publishes what it makes (its last record with `at`);
  // whether it made any record.
  bool on_message(upstream_message m, const upstream_position& at = {});
  // The two halves of on_message: the plugin reads `m` into `p` (recorded, a rejection logged);
  // then what `p` holds is counted and published.
  void parse(upstream_message m, parsed_message& p);
  bool publish(parsed_message& p, const upstream_position& at = {});
  void take_recorded(const stream_plan& plan, const stream_cassette::message& m);
  std::optional<std::string> read_kafka(const stream_plan& plan);  // stream_feed_kafka.cpp
  void brokers_changed(bool up, const std::string& why);
  friend class kafka_session;
  bool wait(int64_t ms);  // false when stopping

  feed_runtime& feed_;
  source_runtime& source_;
  intake& out_;
  metrics& m_;
  const clock_source& clock_;
  std::shared_ptr<spdlog::logger> log_;
  const feed_request request_;  // what plan_stream and parse_message are told, per message too
  parsed_message parsed_;               // on_message's
  std::vector<parsed_message> staged_;  // read_pushes': a batch read before it is published
  std::function<bool()> gate_;
  std::function<void()> on_down_;
  std::optional<circuit_breaker::permit> permit_;  // this connection attempt's, until it delivers or fails
  bool renew_ = false;                             // the session ended at the upstream's age limit
  std::shared_ptr<const stream_replay> replay_;
  std::unique_ptr<stream_recorder> recorder_;
  int64_t last_flush_ = 0;
  run_outcome* capture_ = nullptr;  // replay_once: what the messages made
  std::atomic<bool> stop_{false}, connected_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  int64_t last_bad_log_ = 0;
  int64_t last_message_ = 0;  // when the upstream last sent something (or we subscribed)
  // Counted by the feed's thread, folded into /metrics when scraped: no lock per message.
  std::atomic<uint64_t> published_{0}, rejected_{0}, ignored_{0}, connects_ok_{0}, connects_failed_{0};
  int collector_ = -1;
  std::string default_group_ = "tributary";
  std::atomic<uint64_t> skipped_{0};  // Kafka: messages published already (before a failover or restart)
};

}  // namespace tributary
