#pragma once
// The one on_publication handler: every publication on this node, in position order, goes to
// the cache (first, so a subscriber that sees an update can always find it as latest), the
// fan-out hub (history and sessions), the sinks that copy publications elsewhere, and the
// views. What a view makes is handed to `publish_view` (the intake), which publishes it where
// records are numbered; elsewhere the view only notes its input.
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "publish/published.hpp"

namespace tributary {

class record_cache;
class fanout_hub;
class view_engine;

class delivery {
 public:
  using view_output = std::function<void(record)>;
  delivery(record_cache& cache, fanout_hub* hub) : cache_(cache), hub_(hub) {}
  void add_sink(record_sink* s) { sinks_.push_back(s); }
  // `publishes`: whether this node publishes now (what a view makes is dropped where not).
  void set_views(view_engine* v, view_output out, std::function<bool()> publishes);
  // A reload's views: `v` is first shown every record in the cache, then replaces the
  // current engine; what it makes from the whole cache is published (one record per view).
  // Returns the engine replaced.
  view_engine* replace_views(view_engine* v);
  void on_publication(const std::shared_ptr<const published_record>& p);

 private:
  void publish_views(std::vector<record> made);

  record_cache& cache_;
  fanout_hub* hub_;
  std::vector<record_sink*> sinks_;
  std::mutex views_mu_;  // the engine; never held while publishing what it made
  view_engine* views_ = nullptr;
  view_output view_out_;
  std::function<bool()> publishes_;
};

}  // namespace tributary
