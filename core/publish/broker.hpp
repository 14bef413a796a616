#pragma once
// The one publish path (docs/architecture.md). Everything that makes records (polled feeds,
// push streams, views) hands them, through the intake, to broker::publish(), which gives each
// its position (seq per topic, and the epoch of the stream that numbered it). Every node then
// receives every publication once, in position order, through one handler that feeds the
// cache, the history, the fan-out hub and the views.
//
// Engines: memory_broker (standalone: numbered and delivered in process) and redis_broker
// (cluster: the leader numbers and appends to a fenced Redis stream; every node, the leader
// included, delivers what it reads back from the stream). The pipeline above knows neither.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "publish/published.hpp"

namespace tributary {

enum class broker_kind { memory, redis };

// A place in an upstream that delivers at least once (a Kafka partition): `key` names the
// partition ("kafka:<group>:<topic>:<partition>"), `offset` the message. A record published
// with one has it stored atomically with the record (the cluster's stream write), so a
// consumer can tell, after a restart or a failover, which messages are published already.
struct upstream_position {
  std::string_view key;
  int64_t offset = -1;
  bool empty() const { return offset < 0; }
};
using position_map = std::map<std::string, int64_t, std::less<>>;

class broker {
 public:
  using handler = std::function<void(const std::shared_ptr<const published_record>&)>;
  virtual ~broker() = default;

  // Every publication on this node, once, in position order. Set before start().
  virtual void on_publication(handler h) = 0;
  // Numbers the record of `p` (a pooled publication with its record and topic set:
  // published_record::wrap) and publishes it: the publication as numbered here, or nullptr when
  // this node does not publish now (a cluster follower; the record is counted as dropped).
  // `at`: where in its upstream the record came from, stored with it.
  virtual std::shared_ptr<const published_record> publish(std::shared_ptr<published_record> p, const upstream_position& at = {}) = 0;
  // The same for a record not yet wrapped.
  std::shared_ptr<const published_record> publish(record r, const upstream_position& at = {}) {
    return publish(published_record::wrap(std::move(r)), at);
  }
  // The last upstream positions published for good (cluster: appended to the stream), of keys
  // starting with `prefix`; or why they cannot be read now.
  virtual std::variant<position_map, std::string> positions(std::string_view prefix) = 0;
  // Publishes the latest record of `topic` again, marked stale; nullptr when there is none, it
  // is stale already, or this node does not publish. Atomic with publish(): a fresh record
  // cannot slip in between and be overtaken by a stale copy of its predecessor.
  virtual std::shared_ptr<const published_record> mark_stale(const std::string& topic) = 0;
  // Whether `topic` has a publication on this node.
  virtual bool has(const std::string& topic) = 0;
  // Whether records published here are taken now (standalone; the cluster leader).
  virtual bool publishing() const = 0;

  virtual void start() {}
  virtual void stop() {}
  // For /ready: false with the reason while publications cannot flow.
  virtual std::pair<bool, std::string> ready() const { return {true, ""}; }
  // Engine state for /api/v1/status (merged into its "cluster" object); null when none.
  virtual nlohmann::json status() const;
};

}  // namespace tributary
