#include "publish/cache.hpp"

#include "record/topic.hpp"

namespace tributary {

void record_cache::accept(const std::shared_ptr<const published_record>& r) {
  std::lock_guard lk(mu_);
  if (auto* e = by_id_.find(*r)) {
    e->second = r;
    return;
  }
  by_id_.remember(*r, &*latest_.insert_or_assign(r->topic, r).first);
}

std::shared_ptr<const published_record> record_cache::latest(const std::string& topic) const {
  std::lock_guard lk(mu_);
  auto it = latest_.find(topic);
  return it == latest_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const published_record>> record_cache::matching(std::string_view pattern) const {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<const published_record>> out;
  for (const auto& [t, r] : latest_)
    if (topic_matches(pattern, t)) out.push_back(r);
  return out;
}

std::vector<std::shared_ptr<const published_record>> record_cache::all() const { return matching("*"); }

size_t record_cache::size() const {
  std::lock_guard lk(mu_);
  return latest_.size();
}

}  // namespace tributary
