#include "ingest/demand.hpp"

#include "record/topic.hpp"
#include "util/clock.hpp"

namespace tributary {

template <class F>
bool demand_tracker::update(entry& e, F&& change, int64_t now) {
  bool was = e.wanted();
  change(e);
  if (was && !e.wanted()) e.gone_at = now;
  return !was && e.wanted();
}

void demand_tracker::notify(bool any) {
  std::function<void()> f;
  {
    std::lock_guard lk(mu_);
    if (any) f = on_wanted_;
  }
  if (f) f();
}

void demand_tracker::on_wanted(std::function<void()> f) {
  std::lock_guard lk(mu_);
  on_wanted_ = std::move(f);
}

void demand_tracker::watch(const std::set<std::string>& topics, const std::set<std::string>& view_topics) {
  bool any = false;
  {
    std::lock_guard lk(mu_);
    int64_t now = clock_.now_ms();
    std::map<std::string, entry, std::less<>> next;
    for (const auto& t : topics) {
      auto it = topics_.find(t);
      entry e = it != topics_.end() ? it->second : entry{};
      any |= update(e, [&](entry& x) {
        x.patterns = 0;
        for (const auto& p : patterns_) x.patterns += topic_matches(p, t);
        x.view = view_topics.count(t) > 0;
      }, now);
      next.emplace(t, e);
    }
    topics_ = std::move(next);
  }
  notify(any);
}

bool demand_tracker::pattern(const std::string& p, bool present) {
  bool any = false, local_changed = false;
  {
    std::lock_guard lk(mu_);
    if (present ? !patterns_.insert(p).second : patterns_.erase(p) == 0) return false;
    int64_t now = clock_.now_ms();
    for (auto& [t, e] : topics_) {
      if (!topic_matches(p, t)) continue;
      int before = e.patterns;
      any |= update(e, [&](entry& x) { x.patterns += present ? 1 : -1; }, now);
      local_changed |= (before == 0) != (e.patterns == 0);
    }
  }
  notify(any);
  return local_changed;
}

void demand_tracker::remote(const std::set<std::string>& topics) {
  bool any = false;
  {
    std::lock_guard lk(mu_);
    int64_t now = clock_.now_ms();
    for (auto& [t, e] : topics_) any |= update(e, [&](entry& x) { x.from_remote = topics.count(t) > 0; }, now);
  }
  notify(any);
}

std::set<std::string> demand_tracker::local() const {
  std::lock_guard lk(mu_);
  std::set<std::string> out;
  for (auto& [t, e] : topics_)
    if (e.patterns > 0 || e.view) out.insert(t);
  return out;
}

int64_t demand_tracker::last_wanted(const std::string& topic) const {
  std::lock_guard lk(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return 0;
  return it->second.wanted() ? INT64_MAX : it->second.gone_at;
}

}  // namespace tributary
