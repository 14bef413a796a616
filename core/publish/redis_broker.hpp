#pragma once
// The cluster broker (docs/operations.md, Cluster mode). The leader numbers each record and
// appends it to the Redis stream through the stream writer (bounded ordered buffer, appends
// fenced by the leader's epoch, never twice per seq). Every node, the leader included, delivers
// what the stream reader reads back, with the leader's seq: a record reaches a client only once
// it is in the stream, so every node shows the same record for a seq.
//  - a new leader numbers each topic after what it has applied, so what a deposed leader
//    numbered but never wrote is numbered again; a seq its predecessor wrote already is a
//    conflict, and the record is numbered again after it;
//  - a fenced write makes the node step down at once;
//  - with `fetch_alone` (on_redis_down = "fetch"), a node that cannot reach Redis numbers and
//    delivers what it fetches itself, as a standalone would.
#include <atomic>
#include <memory>
#include <mutex>

#include "net/redis.hpp"
#include "publish/broker.hpp"
#include "publish/stream_reader.hpp"
#include "publish/topic_state.hpp"
#include "sink/stream_writer.hpp"

namespace spdlog { class logger; }

namespace tributary {

class leadership;
class metrics;

struct redis_broker_options {
  stream_options stream;  // where and how the leader appends (buffer: kept while Redis is unreachable)
  bool fetch_alone = false;
};

class redis_broker final : public broker, public stream_reader::target {
 public:
  redis_broker(redis_broker_options opts, leadership& lead, frame_maker frames, metrics& m, std::shared_ptr<spdlog::logger> log);
  ~redis_broker() override;
  void on_publication(handler h) override { handler_ = std::move(h); }
  using broker::publish;
  std::shared_ptr<const published_record> publish(std::shared_ptr<published_record> p, const upstream_position& at = {}) override;
  // Read from Redis: what the stream writes stored (tributary:{name}:offsets).
  std::variant<position_map, std::string> positions(std::string_view prefix) override;
  std::shared_ptr<const published_record> mark_stale(const std::string& topic) override;
  bool publishing() const override;
  bool has(const std::string& topic) override;
  // Loads the latest records, then starts the writer and the reader. Before start() (the
  // `fetch` command) records are numbered and delivered here, as in standalone.
  void start() override;
  // Writes what is buffered while still leading, gives the lead up, stops reading.
  void stop() override;
  std::pair<bool, std::string> ready() const override;
  nlohmann::json status() const override;

  // stream_reader::target: a record read back from the stream (public for tests).
  std::optional<uint64_t> apply(std::shared_ptr<published_record> p) override;

 private:
  std::shared_ptr<const published_record> publish_locked(std::shared_ptr<published_record> p, const upstream_position& at = {});
  std::shared_ptr<const published_record> deliver_locked(topic_table::entry& t, std::shared_ptr<const published_record> p);
  void on_conflict(const published_record& r, uint64_t last_seq);
  bool alone() const;  // numbering and delivering here: not started, or fetching alone

  redis_broker_options opts_;
  leadership& lead_;
  frame_maker frames_;
  std::shared_ptr<spdlog::logger> log_;
  handler handler_;
  std::recursive_mutex mu_;  // numbering and delivery; recursive: the handler's views publish
  topic_table topics_;
  uint64_t numbering_epoch_ = 0;  // the epoch this node last numbered under
  std::atomic<bool> started_{false};
  std::unique_ptr<stream_writer> writer_;
  std::unique_ptr<stream_reader> reader_;
  std::mutex positions_mu_;
  std::unique_ptr<redis_client> positions_redis_;  // positions() only; connected when first asked
};

}  // namespace tributary
