#include <algorithm>
#include <map>

#include "util/clock.hpp"
#include "wire/ws_frame.hpp"

#include "sink/cache.hpp"
#include "sink/fanout_hub.hpp"
#include "sink/metrics.hpp"
#include "sink/pipeline.hpp"
#include "sink/view_engine.hpp"

namespace tributary {

namespace {
std::string message_text(const char* type, const std::string& topic, const std::string& record_json) {
  return std::string(R"({"type":")") + type + R"(","topic":)" +
         nlohmann::json(topic).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + R"(,"record":)" +
         record_json + "}";
}
}  // namespace

std::string published_record::ws_snapshot() const {
  return ws::make_frame(ws::opcode::text, message_text("snapshot", topic, json));
}

std::shared_ptr<const published_record> published_record::make(record r, uint32_t topic_id) {
  auto p = std::make_shared<published_record>();
  p->topic = r.topic();
  p->topic_id = topic_id;
  p->json = r.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  p->ws_update = std::make_shared<const std::string>(ws::make_frame(ws::opcode::text, message_text("update", p->topic, p->json)));
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

fanout_hub::fanout_hub(history_options h, const clock_source* clock) {
  if (!clock) {
    own_clock_ = std::make_unique<system_clock_source>();
    clock = own_clock_.get();
  }
  history_ = std::make_unique<topic_history>(h, *clock);
}

fanout_hub::~fanout_hub() = default;

void fanout_hub::attach(record_inbox* in) {
  std::lock_guard lk(mu_);
  inboxes_.push_back(in);
}

void fanout_hub::detach(record_inbox* in) {
  std::lock_guard lk(mu_);
  std::erase(inboxes_, in);
}

void fanout_hub::accept(const std::shared_ptr<const published_record>& r) {
  history_->add(r);
  std::lock_guard lk(mu_);
  for (auto* in : inboxes_) in->push(r);
}

// ---- pipeline

uint32_t pipeline::topic_id(const std::string& topic) {
  auto [it, added] = ids_.try_emplace(topic, static_cast<uint32_t>(ids_.size()));
  return it->second;
}

std::shared_ptr<const published_record> pipeline::publish(record r) {
  std::lock_guard lk(mu_);
  return publish_locked(std::move(r));
}

std::shared_ptr<const published_record> pipeline::publish_locked(record r) {
  auto topic = r.topic();
  r.seq = seq_.next(topic);
  auto p = published_record::make(std::move(r), topic_id(topic));
  metrics_.add("tributary_records_total", {{"kind", p->rec.kind}, {"source", p->rec.source}});
  if (p->rec.stale) metrics_.add("tributary_stale_records_total", {{"kind", p->rec.kind}});
  bool upstream_only = via_stream_ && via_stream_();
  if (!upstream_only) cache_.accept(p);
  for (auto& [s, on_ingest] : sinks_)
    if (!upstream_only || !on_ingest) s->accept(p);
  if (views_)
    for (auto& v : views_->on_record(p->rec)) publish_locked(std::move(v));  // kind view: no further views
  return p;
}

view_engine* pipeline::replace_views(view_engine* v, bool publish) {
  std::lock_guard lk(mu_);
  std::vector<record> made;
  if (v)
    for (auto& p : cache_.all())
      if (p->rec.kind != view_engine::kind)
        for (auto& r : v->on_record(p->rec)) made.push_back(std::move(r));
  auto old = std::exchange(views_, v);
  if (!publish) return old;
  std::map<std::string, size_t> last;  // one record per view: the one made from the whole cache
  for (size_t i = 0; i < made.size(); ++i) last[made[i].topic()] = i;
  for (auto& [topic, i] : last) publish_locked(std::move(made[i]));
  return old;
}

bool pipeline::ingest(record r) {
  std::lock_guard lk(mu_);
  auto topic = r.topic();
  if (auto cur = cache_.latest(topic); cur && r.seq <= cur->rec.seq) return false;  // applied already
  seq_.seed(topic, r.seq);
  auto p = published_record::make(std::move(r), topic_id(topic));
  cache_.accept(p);
  for (auto& [s, on_ingest] : sinks_)
    if (on_ingest) s->accept(p);
  if (views_) views_->on_record(p->rec);  // only notes it: the leader publishes the views
  return true;
}

void pipeline::renumber_from_applied() {
  std::lock_guard lk(mu_);
  for (const auto& [topic, _] : ids_) {
    auto cur = cache_.latest(topic);
    seq_.reset(topic, cur ? cur->rec.seq : 0);
  }
}

uint64_t pipeline::applied(const std::string& topic) const {
  auto cur = cache_.latest(topic);
  return cur ? cur->rec.seq : 0;
}

void pipeline::continue_after(const std::string& topic, uint64_t seq) {
  std::lock_guard lk(mu_);
  seq_.seed(topic, seq);
}

bool pipeline::has(const std::string& topic) const { return cache_.latest(topic) != nullptr; }

std::shared_ptr<const published_record> pipeline::mark_stale(const std::string& topic) {
  // Read and re-announce under one lock, so a fresh record cannot slip in between and be
  // overtaken by a stale copy of its predecessor.
  std::lock_guard lk(mu_);
  auto cur = cache_.latest(topic);
  if (!cur || cur->rec.stale) return nullptr;
  record r = cur->rec;
  r.stale = true;
  return publish_locked(std::move(r));
}

}  // namespace tributary
