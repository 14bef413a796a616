#pragma once
// Which topics of demand = "subscribed" feeds anyone wants: a client of this node subscribed
// to a pattern that matches (exact, "prefix.*", "*"), a view reading it, or (cluster mode)
// another node saying so through Redis. A topic nobody wants any more is still wanted for the
// feed's demand_linger after the moment it stopped being wanted.
//
// Subscriptions change per client message, not per record, so one mutex is enough. Changes
// that make a topic wanted call `on_wanted` after the lock is released: the scheduler runs
// the feed at once instead of waiting for its next tick.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace tributary {

class clock_source;

class demand_tracker {
 public:
  explicit demand_tracker(const clock_source& clock) : clock_(clock) {}

  // The topics that matter (those of demand = "subscribed" feeds) and those views read; a
  // reload replaces both. Topics kept keep their state.
  void watch(const std::set<std::string>& topics, const std::set<std::string>& view_topics);
  // A pattern a client of this node subscribes to appeared (`present`) or went. True when
  // that changed local() (what this node shares with the others).
  bool pattern(const std::string& p, bool present);
  // Cluster mode: every topic some node wants (this one's included), as read from Redis.
  void remote(const std::set<std::string>& topics);
  // Whether any topic is watched (some feed polls by demand).
  bool watching() const {
    std::lock_guard lk(mu_);
    return !topics_.empty();
  }
  // The watched topics wanted by this node's own clients and views, to share with the others.
  std::set<std::string> local() const;

  // When `topic` was last wanted: INT64_MAX while it is, 0 if never (or not watched).
  int64_t last_wanted(const std::string& topic) const;
  bool wanted(const std::string& topic, int64_t linger_ms, int64_t now) const {
    int64_t at = last_wanted(topic);
    return at == INT64_MAX || (at > 0 && now - at < linger_ms);
  }

  void on_wanted(std::function<void()> f);

 private:
  struct entry {
    int patterns = 0;  // this node's patterns that match it
    bool view = false, from_remote = false;
    int64_t gone_at = 0;  // when it stopped being wanted
    bool wanted() const { return patterns > 0 || view || from_remote; }
  };
  // Applies `change` to `e`, noting when it stops being wanted; true when it starts.
  template <class F>
  bool update(entry& e, F&& change, int64_t now);
  void notify(bool any);

  const clock_source& clock_;
  mutable std::mutex mu_;
  std::map<std::string, entry, std::less<>> topics_;
  std::set<std::string> patterns_;  // this node's clients' patterns (each once, however many hold it)
  std::function<void()> on_wanted_;
};

}  // namespace tributary
