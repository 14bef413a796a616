#include "publish/redis_broker.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/leadership.hpp"
#include "sink/fenced_writer.hpp"

namespace tributary {

using json = nlohmann::json;

redis_broker::redis_broker(redis_broker_options opts, leadership& lead, frame_maker frames, metrics& m,
                           std::shared_ptr<spdlog::logger> log)
    : opts_(std::move(opts)), lead_(lead), frames_(frames), log_(std::move(log)) {
  stream_hooks hooks;
  hooks.epoch = [this] { return lead_.epoch(); };
  hooks.on_fenced = [this] { lead_.fenced(); };
  hooks.on_conflict = [this](const published_record& r, uint64_t last_seq) { on_conflict(r, last_seq); };
  writer_ = std::make_unique<stream_writer>(opts_.stream, m, log_, std::move(hooks));
  reader_ = std::make_unique<stream_reader>(opts_.stream.redis, opts_.stream.name, *this, m, log_,
                                            opts_.stream.history ? &*opts_.stream.history : nullptr);
}

redis_broker::~redis_broker() { stop(); }

void redis_broker::start() {
  started_ = true;  // from here on only the leader publishes: what loading shows views is only noted
  reader_->load();
  writer_->start();
  reader_->start();
}

void redis_broker::stop() {
  if (!started_.exchange(false)) return;
  writer_->stop();  // still leading: what is buffered is written under our epoch
  lead_.resign();   // before waiting for the reader (blocked in XREAD up to a second)
  reader_->stop();
}

bool redis_broker::alone() const { return !started_ || (opts_.fetch_alone && !lead_.redis_up() && !lead_.is_leader()); }

bool redis_broker::publishing() const { return lead_.is_leader() || alone(); }

std::shared_ptr<const published_record> redis_broker::publish(std::shared_ptr<published_record> p, const upstream_position& at) {
  std::lock_guard lk(mu_);
  return publish_locked(std::move(p), at);
}

std::variant<position_map, std::string> redis_broker::positions(std::string_view prefix) {
  std::lock_guard lk(positions_mu_);
  if (!positions_redis_) positions_redis_ = std::make_unique<redis_client>(opts_.stream.redis, millis(1000));
  auto all = fenced_writer::written_positions(*positions_redis_, opts_.stream.name);
  if (auto* e = std::get_if<std::string>(&all)) return *e;
  position_map out;
  for (auto& [k, v] : std::get<position_map>(all))
    if (k.starts_with(prefix)) out.emplace(k, v);
  return out;
}

std::shared_ptr<const published_record> redis_broker::publish_locked(std::shared_ptr<published_record> p, const upstream_position& at) {
  if (!at.empty()) {
    p->position_key.assign(at.key);
    p->position = at.offset;
  }
  auto& t = topics_.at(p->topic);
  p->topic_id = t.id;
  p->table = topics_.serial();
  if (alone()) {
    p->rec.seq = ++t.numbered;
    p->seal(frames_);
    return deliver_locked(t, std::move(p));
  }
  uint64_t epoch = lead_.epoch();
  if (epoch != numbering_epoch_) {  // a new term: number after what the stream holds
    topics_.renumber_from_applied();
    numbering_epoch_ = epoch;
  }
  p->rec.seq = t.numbered + 1;
  p->epoch = epoch;
  if (!lead_.is_leader()) {  // demoted while the record was being fetched
    writer_->dropped(*p, "not_leader");
    return nullptr;
  }
  p->seal(nullptr);  // the stream's copy needs no frame: clients get the one delivered from the stream
  t.numbered = p->rec.seq;
  writer_->accept(p);
  return p;
}

std::shared_ptr<const published_record> redis_broker::deliver_locked(topic_table::entry& t,
                                                                     std::shared_ptr<const published_record> p) {
  t.applied = p->rec.seq;
  t.numbered = std::max(t.numbered, t.applied);
  t.last = p;
  if (handler_) handler_(p);
  return p;
}

// A record read back from the stream, with the leader's canonical bytes (not encoded again).
std::optional<uint64_t> redis_broker::apply(std::shared_ptr<published_record> p) {
  p->set_topic();
  std::lock_guard lk(mu_);
  auto& t = topics_.at(p->topic);
  if (p->rec.seq <= t.applied) return std::nullopt;  // applied already
  uint64_t before = t.applied;
  p->topic_id = t.id;
  p->table = topics_.serial();
  if (frames_) frames_(*p);
  deliver_locked(t, std::move(p));
  return before;
}

void redis_broker::on_conflict(const published_record& r, uint64_t last_seq) {
  std::lock_guard lk(mu_);
  topics_.continue_after(r.topic, last_seq);
  publish_locked(published_record::wrap(r.rec), {r.position_key, r.position});  // numbered again, after what the previous leader wrote
}

std::shared_ptr<const published_record> redis_broker::mark_stale(const std::string& topic) {
  std::lock_guard lk(mu_);
  auto* t = topics_.find(topic);
  if (t && !alone() && t->numbered > t->applied) return nullptr;  // a fresher record is on its way through the stream
  auto r = topics_.stale_copy(topic);
  return r ? publish_locked(published_record::wrap(std::move(*r))) : nullptr;
}

bool redis_broker::has(const std::string& topic) {
  std::lock_guard lk(mu_);
  return topics_.has(topic);
}

std::pair<bool, std::string> redis_broker::ready() const {
  if (!writer_->healthy()) return {false, "stream writes failing: " + json(writer_->last_error()).dump()};
  return {true, ""};
}

json redis_broker::status() const {
  auto write_error = writer_->last_error();
  json j{{"buffered", writer_->buffered()},
         {"stream_writes", writer_->healthy() ? "ok" : "failing"},
         {"stream_write_error", writer_->healthy() || write_error.empty() ? json(nullptr) : json(write_error)}};
  j.update(reader_->status());
  return j;
}

}  // namespace tributary
