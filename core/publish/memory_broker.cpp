#include "publish/memory_broker.hpp"

#include <nlohmann/json.hpp>

namespace tributary {

nlohmann::json broker::status() const { return nullptr; }

std::shared_ptr<const published_record> memory_broker::publish(std::shared_ptr<published_record> p, const upstream_position& at) {
  std::lock_guard lk(mu_);
  return publish_locked(std::move(p), at);
}

std::variant<position_map, std::string> memory_broker::positions(std::string_view prefix) {
  std::lock_guard lk(mu_);
  position_map out;
  for (auto it = positions_.lower_bound(prefix); it != positions_.end() && it->first.starts_with(prefix); ++it) out.insert(*it);
  return out;
}

std::shared_ptr<const published_record> memory_broker::publish_locked(std::shared_ptr<published_record> p, const upstream_position& at) {
  if (!at.empty()) {
    p->position_key.assign(at.key);
    p->position = at.offset;
    if (auto it = positions_.find(at.key); it != positions_.end()) it->second = at.offset;
    else positions_.emplace(std::string(at.key), at.offset);
  }
  auto& t = topics_.at(p->topic);
  p->rec.seq = ++t.numbered;
  p->topic_id = t.id;
  p->table = topics_.serial();
  p->seal(frames_);
  t.applied = p->rec.seq;
  t.last = p;
  if (handler_) handler_(p);
  return p;
}

std::shared_ptr<const published_record> memory_broker::mark_stale(const std::string& topic) {
  std::lock_guard lk(mu_);
  auto r = topics_.stale_copy(topic);
  return r ? publish_locked(published_record::wrap(std::move(*r))) : nullptr;
}

bool memory_broker::has(const std::string& topic) {
  std::lock_guard lk(mu_);
  return topics_.has(topic);
}

void memory_broker::continue_after(std::string_view topic, uint64_t seq) {
  std::lock_guard lk(mu_);
  topics_.continue_after(topic, seq);
}

}  // namespace tributary
