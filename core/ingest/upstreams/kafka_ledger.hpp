#pragma once
// What a Kafka source has done with each partition it holds, and what may be committed.
//  - A message is `handled` once the plugin has seen it; `recorded` when it made a record that
//    was handed to the broker, with the message's position (the last record of the message).
//  - What is published for good comes from the broker (positions(): cluster mode reads what
//    the fenced stream writes stored in Redis, atomically with the records; standalone, what
//    it delivered). A partition is committed past a message only once its record is among
//    them, or when it made no record at all. A kill -9 therefore loses nothing.
//  - On assignment, the positions already published are skipped: a message a deposed or
//    killed leader appended but never committed is not published a second time.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/upstreams/kafka_consumer.hpp"
#include "publish/broker.hpp"

namespace tributary {

class kafka_ledger {
 public:
  explicit kafka_ledger(std::string group) : prefix_("kafka:" + std::move(group) + ":") {}
  // The broker's position keys of this group start with it: "kafka:<group>:<topic>:<partition>".
  const std::string& prefix() const { return prefix_; }

  // Partitions now ours; `published` = the broker's positions of this group.
  void assigned(const std::vector<kafka_partition>& parts, const position_map& published);
  void revoked(const std::vector<kafka_partition>& parts);
  // The position a message's last record is published with; nullopt for a partition not held.
  // Whether the message was published already (skip it).
  bool published_already(std::string_view topic, int32_t partition, int64_t offset) const;
  upstream_position position(std::string_view topic, int32_t partition, int64_t offset) const;
  void handled(std::string_view topic, int32_t partition, int64_t offset, bool recorded);
  // The commits now due, given the broker's positions; they count as committed from here on.
  // `only`: just these partitions (a revocation), else all. `again`: also what was committed
  // already (a background commit may have failed, during a rebalance say: the last commit
  // before partitions are given up must not rely on it).
  std::vector<kafka_commit> due(const position_map& published, const std::vector<kafka_partition>* only = nullptr, bool again = false);
  size_t held() const { return parts_.size(); }
  // Whether some partition has messages handled past what was committed (due() may find work).
  bool pending() const;

 private:
  struct state {
    std::string topic;
    int32_t partition;
    std::string key;
    int64_t skip_through = -1;  // published before this assignment
    int64_t handled = -1, recorded = -1, committed = -1;  // committed: the next offset committed
  };
  state* find(std::string_view topic, int32_t partition);
  const state* find(std::string_view topic, int32_t partition) const;

  std::string prefix_;
  std::vector<state> parts_;  // few: a linear search beats a map
};

}  // namespace tributary
