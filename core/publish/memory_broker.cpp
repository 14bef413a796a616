#include "publish/memory_broker.hpp"

#include <nlohmann/json.hpp>

namespace tributary {

nlohmann::json broker::status() const { return nullptr; }

std::shared_ptr<const published_record> memory_broker::publish(record r) {
  std::lock_guard lk(mu_);
  return publish_locked(std::move(r));
}

std::shared_ptr<const published_record> memory_broker::publish_locked(record r) {
  auto p = published_record::wrap(std::move(r));
  auto& t = topics_.at(p->topic);
  p->rec.seq = ++t.numbered;
  p->topic_id = t.id;
  p->seal(frames_);
  t.applied = p->rec.seq;
  t.last = p;
  if (handler_) handler_(p);
  return p;
}

std::shared_ptr<const published_record> memory_broker::mark_stale(const std::string& topic) {
  std::lock_guard lk(mu_);
  auto r = topics_.stale_copy(topic);
  return r ? publish_locked(std::move(*r)) : nullptr;
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
