#include "publish/topic_history.hpp"

#include "publish/published.hpp"
#include "util/clock.hpp"

namespace tributary {

void topic_history::pop_front(ring& r) {
  bytes_ -= r.items.front().rec->footprint();
  r.items.pop_front();
  --live_;
}

topic_history::ring& topic_history::ring_of(const published_record& r) {
  if (auto* e = by_id_.find(r)) return e->second;
  auto it = rings_.find(r.topic);
  if (it == rings_.end()) it = rings_.emplace(r.topic, ring{{}, &rules_.rule_for(r.topic)}).first;
  by_id_.remember(r, &*it);
  return it->second;
}

void topic_history::add(const std::shared_ptr<const published_record>& r) {
  int64_t now = clock_.now_ms();
  std::lock_guard lk(mu_);
  auto& rg = ring_of(*r);
  if (rg.rule->size == 0) return;
  rg.items.push_back({r, now});
  order_.push_back({&rg, r->rec.seq});
  bytes_ += r->footprint();
  ++live_;
  if (rg.items.size() > rg.rule->size) pop_front(rg);
  while (now - rg.items.front().at > rg.rule->ttl.count()) pop_front(rg);  // the newest is never too old
  evict(now);
  if (order_.size() > 2 * live_ + 1024) compact_order();
}

void topic_history::evict(int64_t now) {
  while (!order_.empty()) {
    auto [rg, seq] = order_.front();
    bool held = !rg->items.empty() && rg->items.front().rec->rec.seq == seq;
    if (held && bytes_ <= opts_.max_bytes && now - rg->items.front().at <= rg->rule->ttl.count()) return;
    if (held) pop_front(*rg);
    order_.pop_front();
  }
}

void topic_history::compact_order() {
  order_.keep_if([](const auto& e) {
    auto* rg = e.first;
    return !rg->items.empty() && e.second >= rg->items.front().rec->rec.seq;
  });
}

std::optional<std::vector<std::shared_ptr<const published_record>>> topic_history::since(std::string_view topic,
                                                                                         uint64_t after) const {
  int64_t now = clock_.now_ms();
  std::lock_guard lk(mu_);
  auto it = rings_.find(topic);
  if (it == rings_.end() || it->second.items.empty()) return std::nullopt;
  int64_t oldest = now - it->second.rule->ttl.count();
  const auto& items = it->second.items;
  if (after >= items.back().rec->rec.seq) return std::nullopt;  // the caller compares with the latest
  std::vector<std::shared_ptr<const published_record>> out;
  uint64_t expect = after + 1;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& e = items[i];
    uint64_t seq = e.rec->rec.seq;
    if (seq <= after) continue;
    if (seq != expect || e.at < oldest) return std::nullopt;  // a gap, or too old to vouch for
    out.push_back(e.rec);
    ++expect;
  }
  return out;
}

std::vector<std::shared_ptr<const published_record>> topic_history::window(std::string_view topic,
                                                                          std::optional<uint64_t> after, size_t limit) const {
  std::vector<std::shared_ptr<const published_record>> out;
  int64_t now = clock_.now_ms();
  std::lock_guard lk(mu_);
  auto it = rings_.find(topic);
  if (it == rings_.end() || limit == 0) return out;
  int64_t oldest = now - it->second.rule->ttl.count();
  const auto& items = it->second.items;
  for (size_t i = 0; i < items.size() && !(after && out.size() == limit); ++i) {
    const auto& e = items[i];
    if (e.at >= oldest && (!after || e.rec->rec.seq > *after)) out.push_back(e.rec);
  }
  if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  return out;
}

size_t topic_history::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

}  // namespace tributary
