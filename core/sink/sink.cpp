#include <algorithm>

#include "sink/cache.hpp"
#include "sink/fanout_hub.hpp"
#include "sink/metrics.hpp"
#include "sink/pipeline.hpp"

namespace tributary {

std::string published_record::snapshot_frame() const {
  return R"({"type":"snapshot","topic":)" + nlohmann::json(topic).dump() + R"(,"record":)" + json + "}";
}

std::shared_ptr<const published_record> published_record::make(record r) {
  auto p = std::make_shared<published_record>();
  p->topic = r.topic();
  p->json = r.to_json().dump();
  p->update_frame = std::make_shared<const std::string>(R"({"type":"update","topic":)" +
                                                        nlohmann::json(p->topic).dump() +
                                                        R"(,"record":)" + p->json + "}");
  p->rec = std::move(r);
  return p;
}

bool topic_matches(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*")
    return topic.size() > pattern.size() - 1 &&
           topic.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == topic;
}

std::string check_pattern(std::string_view p) {
  if (p.empty()) return "empty topic pattern";
  if (p.size() > 256) return "topic pattern longer than 256 characters";
  auto star = p.find('*');
  if (star != std::string_view::npos && !(p == "*" || (star == p.size() - 1 && star >= 2 && p[star - 1] == '.')))
    return "'*' may only end a pattern, as in 'price.*', or stand alone";
  for (char c : p)
    if (static_cast<unsigned char>(c) < 0x21 || c == '"') return "topic pattern has a space or control character";
  return {};
}

// ---- cache

void record_cache::accept(const std::shared_ptr<const published_record>& r) {
  std::unique_lock lk(mu_);
  latest_[r->topic] = r;
}

std::shared_ptr<const published_record> record_cache::latest(const std::string& topic) const {
  std::shared_lock lk(mu_);
  auto it = latest_.find(topic);
  return it == latest_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const published_record>> record_cache::matching(std::string_view pattern) const {
  std::shared_lock lk(mu_);
  std::vector<std::shared_ptr<const published_record>> out;
  for (const auto& [t, r] : latest_)
    if (topic_matches(pattern, t)) out.push_back(r);
  return out;
}

std::vector<std::shared_ptr<const published_record>> record_cache::all() const { return matching("*"); }

size_t record_cache::size() const {
  std::shared_lock lk(mu_);
  return latest_.size();
}

// ---- hub

void fanout_hub::join(std::weak_ptr<subscriber> s) {
  std::lock_guard lk(mu_);
  subs_.push_back(std::move(s));
}

void fanout_hub::accept(const std::shared_ptr<const published_record>& r) {
  std::vector<std::shared_ptr<subscriber>> live;
  {
    std::lock_guard lk(mu_);
    live.reserve(subs_.size());
    std::erase_if(subs_, [&](const std::weak_ptr<subscriber>& w) {
      auto s = w.lock();
      if (!s) return true;  // that session is gone
      live.push_back(std::move(s));
      return false;
    });
  }
  for (const auto& s : live) s->deliver(r);
}

size_t fanout_hub::size() const {
  std::lock_guard lk(mu_);
  return subs_.size();
}

// ---- pipeline

std::shared_ptr<const published_record> pipeline::publish(record r) {
  std::lock_guard lk(mu_);
  r.seq = seq_.next(r.topic());
  auto p = published_record::make(std::move(r));
  cache_.accept(p);
  for (auto& [s, _] : sinks_) s->accept(p);
  metrics_.add("tributary_records_total", {{"kind", p->rec.kind}, {"source", p->rec.source}});
  if (p->rec.stale) metrics_.add("tributary_stale_records_total", {{"kind", p->rec.kind}});
  return p;
}

bool pipeline::ingest(record r) {
  std::lock_guard lk(mu_);
  auto topic = r.topic();
  if (r.seq <= seq_.current(topic)) return false;
  seq_.seed(topic, r.seq);
  auto p = published_record::make(std::move(r));
  cache_.accept(p);
  for (auto& [s, on_ingest] : sinks_)
    if (on_ingest) s->accept(p);
  return true;
}

bool pipeline::has(const std::string& topic) const { return cache_.latest(topic) != nullptr; }

std::shared_ptr<const published_record> pipeline::mark_stale(const std::string& topic) {
  auto cur = cache_.latest(topic);
  if (!cur || cur->rec.stale) return nullptr;
  record r = cur->rec;
  r.stale = true;
  return publish(std::move(r));
}

}  // namespace tributary
