#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "publish/by_topic_id.hpp"
#include "publish/published.hpp"

namespace tributary {

// Latest record per topic, in process. Readers share a lock; entries are immutable.
class record_cache final : public record_sink {
 public:
  void accept(const std::shared_ptr<const published_record>& r) override;
  std::shared_ptr<const published_record> latest(const std::string& topic) const;
  std::vector<std::shared_ptr<const published_record>> matching(std::string_view pattern) const;
  std::vector<std::shared_ptr<const published_record>> all() const;
  size_t size() const;

 private:
  using map = std::map<std::string, std::shared_ptr<const published_record>, std::less<>>;
  mutable std::mutex mu_;  // not a shared_mutex: its write lock cost more than the reads it would let run side by side
  map latest_;
  // The entries by the broker's dense topic id: the per-record path finds its entry without
  // comparing strings down the tree.
  by_topic_id<map::value_type> by_id_;
};

}  // namespace tributary
