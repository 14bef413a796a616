#pragma once
// The one way records enter the system, for polled feeds, push streams and views alike: a
// plugin's contract problems are logged and counted here, its records stamped (source, feed,
// received, ts), counted and handed to the broker. Counting takes no lock and no allocation at
// steady state: each thread keeps the counters it has resolved.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "obs/metrics.hpp"
#include "publish/broker.hpp"
#include "publish/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

// Where a record comes from.
struct record_origin {
  std::string_view source;  // plugin instance
  std::string_view feed;
  int64_t received = 0;     // when its response or message arrived (ms)
  upstream_position position;  // where in an at-least-once upstream its message was (Kafka)
};

class intake {
 public:
  intake(broker& b, metrics& m, std::shared_ptr<spdlog::logger> log);
  // Stamps `r` with its origin (ts defaults to `received`) and publishes it: the publication,
  // or nullptr when this node does not publish now.
  std::shared_ptr<const published_record> publish(record&& r, const record_origin& o);
  // The same with a copy of `r`. Either way the record's strings are written into pooled
  // storage (published_record::wrap) and a caller's record keeps its own: a caller that reuses
  // its records (a stream feed's call result) publishes without allocating at steady state.
  std::shared_ptr<const published_record> publish(const record& r, const record_origin& o);
  // A record made here (a view): published as it is.
  std::shared_ptr<const published_record> publish(record r);
  // Re-announces the latest record of `topic` as stale (see broker::mark_stale).
  std::shared_ptr<const published_record> mark_stale(const std::string& topic);
  // A plugin broke the record contract (dropped fields, records not asked for...): counted in
  // tributary_plugin_contract_violations_total{source}, and logged at most once a second (a
  // push source can send thousands of bad messages a second; the count says how many).
  void contract_problems(std::string_view source, const std::vector<std::string>& problems);
  broker& out() { return broker_; }

 private:
  std::shared_ptr<const published_record> stamp_and_publish(std::shared_ptr<published_record> p, const record_origin& o);
  void count(const published_record& p);
  metrics::counter& counter(std::string_view name, std::string_view kind, std::string_view source);

  broker& broker_;
  metrics& m_;
  std::shared_ptr<spdlog::logger> log_;
  const uint64_t serial_;  // tells this intake's cached counters from another's (tests make several)
  std::atomic<int64_t> last_problem_log_{0};  // steady ms
  std::atomic<uint64_t> problems_unlogged_{0};
};

}  // namespace tributary
