#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "record/record.hpp"
#include "sink/published.hpp"

namespace tributary {

class clock_source;
class record_cache;
class metrics;
class view_engine;

// The one way records enter the system: numbered per topic, then handed to every sink in order
// (the cache first, so a subscriber that sees an update can always find it as latest).
//
// In cluster mode the leader's records are only numbered and handed to the upstream sinks (the
// stream); they reach the cache and clients when they come back from the stream through
// ingest(), on every node alike. So no node ever shows a record the cluster later contradicts.
class pipeline {
 public:
  pipeline(record_cache& cache, sequencer& seq, metrics& m) : cache_(cache), seq_(seq), metrics_(m) {}
  // `on_ingest`: also hand it records that came from elsewhere (ingest); false for sinks that
  // write upstream, like the cluster stream.
  void add_sink(record_sink* s, bool on_ingest = true) { sinks_.push_back({s, on_ingest}); }
  std::shared_ptr<const published_record> publish(record r);
  // Per record: true when it must go through the stream before anyone sees it.
  void set_via_stream(std::function<bool()> f) { via_stream_ = std::move(f); }
  // Views: shown every record applied; their records are published after the input that
  // changed them (where records are numbered), or arrive numbered through ingest().
  void set_views(view_engine* v) { views_ = v; }
  // A reload's views: `v` is first shown every record in the cache, then replaces the current
  // engine. With `publish`, the views that makes are published at once; a cluster follower
  // passes false (the leader numbers views). Returns the engine replaced.
  view_engine* replace_views(view_engine* v, bool publish);
  // After losing the lead: number from what was applied, not from records that never made it.
  void renumber_from_applied();
  // A record numbered elsewhere (the leader, via the stream): kept with its seq, and the local
  // numbering continues after it. Older or repeated seqs are ignored; returns whether applied.
  bool ingest(record r);
  // Re-announces the latest record of `topic` as stale; nothing when unknown or already stale.
  std::shared_ptr<const published_record> mark_stale(const std::string& topic);
  bool has(const std::string& topic) const;
  // The seq of the topic's record in the cache (0 if none).
  uint64_t applied(const std::string& topic) const;
  // Number the topic's next record after `seq` (a predecessor wrote up to it).
  void continue_after(const std::string& topic, uint64_t seq);

 private:
  std::shared_ptr<const published_record> publish_locked(record r);
  uint32_t topic_id(const std::string& topic);

  record_cache& cache_;
  sequencer& seq_;
  metrics& metrics_;
  std::vector<std::pair<record_sink*, bool>> sinks_;
  std::function<bool()> via_stream_;
  view_engine* views_ = nullptr;
  std::mutex mu_;  // keeps seq order equal to delivery order; covers numbering, cache and hand-off
  std::unordered_map<std::string, uint32_t> ids_;
};

}  // namespace tributary
