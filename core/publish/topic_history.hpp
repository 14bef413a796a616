#pragma once
// The last updates of every topic, for recovery (`since` on subscribe). Bounded three ways:
// per topic by its history rule (size and ttl: the first [[server.history]] rule matching it,
// else `per_topic` and `max_age`), and by `max_bytes` over all topics (the oldest go first), so
// a deployment with many busy personal topics cannot grow without bound.
// Thread-safe: delivery adds in seq order, sessions read from any I/O thread.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "publish/by_topic_id.hpp"
#include "publish/history_rules.hpp"
#include "publish/published.hpp"
#include "util/duration.hpp"
#include "util/ring_queue.hpp"

namespace tributary {

class clock_source;

struct history_options {
  size_t per_topic = 256;  // the default rule
  millis max_age{600000};
  size_t max_bytes = 64u << 20;
  std::vector<history_rule> rules;  // [[server.history]], first match wins
  history_rules make_rules() const { return history_rules(rules, {{}, per_topic, max_age}); }
};

class topic_history {
 public:
  topic_history(history_options o, const clock_source& clock) : opts_(o), rules_(o.make_rules()), clock_(clock) {}
  void add(const std::shared_ptr<const published_record>& r);
  // Every record of `topic` after seq `after`, oldest first, when the history still holds all
  // of them (none missing, none too old); nullopt when it cannot say.
  std::optional<std::vector<std::shared_ptr<const published_record>>> since(std::string_view topic,
                                                                             uint64_t after) const;
  // Up to `limit` records of `topic` the history still holds (within its ttl), oldest first:
  // the first ones after seq `after` when given, else the newest. GET /api/v1/history.
  std::vector<std::shared_ptr<const published_record>> window(std::string_view topic, std::optional<uint64_t> after,
                                                              size_t limit) const;
  size_t bytes() const;
  const history_rules& rules() const { return rules_; }

 private:
  struct entry {
    std::shared_ptr<const published_record> rec;
    int64_t at;
  };
  struct ring {
    ring_queue<entry> items;
    const history_rule* rule = nullptr;  // this topic's, found once
  };
  struct hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  ring& ring_of(const published_record& r);  // made on first use
  void pop_front(ring& r);
  void evict(int64_t now);
  void compact_order();

  history_options opts_;
  history_rules rules_;
  const clock_source& clock_;
  mutable std::mutex mu_;
  using ring_map = std::unordered_map<std::string, ring, hash, std::equal_to<>>;
  ring_map rings_;
  by_topic_id<ring_map::value_type> by_id_;  // by the broker's dense topic id (as in the cache)
  // Every entry in arrival order, for the age and byte bounds; entries already dropped from
  // their ring are skipped (and compacted away when they pile up).
  ring_queue<std::pair<ring*, uint64_t>> order_;
  size_t live_ = 0;
  size_t bytes_ = 0;
};

}  // namespace tributary
