#include "cluster/cluster_node.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

#include "sink/metrics.hpp"
#include "sink/pipeline.hpp"
#include "util/clock.hpp"

namespace tributary {

using json = nlohmann::json;

cluster_node::cluster_node(cluster_options opts, pipeline& local, metrics& m, const clock_source& clock,
                           std::shared_ptr<spdlog::logger> log)
    : opts_(std::move(opts)), local_(local), m_(m), clock_(clock), log_(std::move(log)) {
  m_.describe("tributary_leader", "gauge", "1 while this node is the leader");
  m_.describe("tributary_epoch", "gauge", "Fencing epoch of this node's last acquisition");
  m_.describe("tributary_redis_up", "gauge", "1 while Redis answers");
  m_.describe("tributary_stream_reads_total", "counter", "Records read from the stream and applied");
  m_.set("tributary_leader", {}, 0);
  lease_redis_ = std::make_unique<redis_client>(opts_.redis, millis(std::max<int64_t>(200, opts_.renew_every.count() / 2)));
  keeper_ = std::make_unique<lease_keeper>(*lease_redis_, opts_.name, opts_.node_id, opts_.lease, clock_);
  stream_options so{opts_.redis, opts_.name, opts_.maxlen, opts_.cache_ttl, opts_.buffer};
  stream_hooks hooks;
  hooks.epoch = [this] { return epoch_.load(); };
  hooks.on_fenced = [this] {
    fenced_ = true;  // the lease thread steps down on its next turn; stop fetching now
    set_role(false, epoch_);
  };
  hooks.on_conflict = [this](const published_record& r, uint64_t last_seq) {
    local_.continue_after(r.topic, last_seq);
    local_.publish(r.rec);  // numbered again, after what the previous leader wrote
  };
  writer_ = std::make_unique<stream_writer>(so, m_, log_, std::move(hooks));
  m_.describe("tributary_stream_gaps_total", "counter", "Gaps in a topic's seqs seen by the stream reader (each followed by a resync)");
  m_.describe("tributary_stream_resyncs_total", "counter", "Reloads of the latest records from Redis after a gap or a reconnect");
  m_.add("tributary_stream_gaps_total", {}, 0);
  m_.add("tributary_stream_resyncs_total", {}, 0);
}

cluster_node::~cluster_node() { stop(); }

void cluster_node::start() {
  started_ = true;
  redis_client r(opts_.redis, millis(1000));
  load_latest(r);
  lease_thread_ = std::thread([this] { lease_loop(); });
  writer_->start();
  reader_thread_ = std::thread([this] { reader_loop(); });
}

void cluster_node::stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  writer_->stop();
  // Release before waiting for the reader (blocked in XREAD up to a second): a follower takes
  // over within one retry period.
  if (keeper_->current() == lease_keeper::role::leader) {
    keeper_->release();
    log_->info("cluster: lease released");
  }
  set_role(false, epoch_);
  if (reader_thread_.joinable()) reader_thread_.join();
}

void cluster_node::set_role(bool leader, uint64_t epoch) {
  bool was = leader_.exchange(leader);
  if (was && !leader) local_.renumber_from_applied();  // what was never written is never shown
  epoch_ = epoch;
  m_.set("tributary_leader", {}, leader ? 1 : 0);
  m_.set("tributary_epoch", {}, static_cast<double>(epoch));
  if (was != leader) log_->info("cluster: node {} is now {} (epoch {})", opts_.node_id, leader ? "leader" : "follower", epoch);
}

void cluster_node::lease_loop() {
  while (!stop_) {
    if (fenced_.exchange(false)) keeper_->step_down();
    auto role = keeper_->step();
    bool up = keeper_->last_error().empty() || keeper_->last_error().find("lease lost") != std::string::npos;
    redis_up_ = up;
    {
      std::lock_guard lk(mu_);
      last_error_ = keeper_->last_error();
    }
    m_.set("tributary_redis_up", {}, up ? 1 : 0);
    set_role(role == lease_keeper::role::leader, keeper_->epoch());
    if (up) write_control(*lease_redis_);  // before looking, so this node's own requests are in
    if (on_control_ && up) poll_control(*lease_redis_);
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, opts_.renew_every, [this] { return stop_.load(); });
  }
}

void cluster_node::accept(const std::shared_ptr<const published_record>& r) {
  if (!started_) return;  // not serving (`tributary fetch`): the record is only printed
  if (leader_) writer_->accept(r);
  else writer_->dropped(*r, "not_leader");  // demoted while the record was being fetched
}

void cluster_node::load_latest(redis_client& r) {
  // Where the stream is now, so the reader starts right after what we load.
  auto last = r.command({"XREVRANGE", "tributary:" + opts_.name + ":stream", "+", "-", "COUNT", "1"});
  if (auto* rep = std::get_if<redis_reply>(&last); rep && !rep->elements.empty()) last_id_ = rep->elements[0].elements[0].str;
  load_latest_records(r);
}

void cluster_node::load_latest_records(redis_client& r) {
  std::string cursor = "0";
  size_t loaded = 0;
  do {
    auto scan = r.command({"SCAN", cursor, "MATCH", "tributary:" + opts_.name + ":latest:*", "COUNT", "500"});
    auto* rep = std::get_if<redis_reply>(&scan);
    if (!rep || rep->is_error() || rep->elements.size() != 2) {
      log_->warn("cluster: cannot load the latest records from Redis: {}",
                 rep ? rep->str : std::get<std::string>(scan));
      return;
    }
    cursor = rep->elements[0].str;
    for (const auto& key : rep->elements[1].elements) {
      auto v = r.command({"GET", key.str});
      auto* val = std::get_if<redis_reply>(&v);
      if (!val || val->type != redis_reply::kind::string) continue;
      if (auto rec = record::from_json(json::parse(val->str, nullptr, false)); rec && local_.ingest(std::move(*rec))) ++loaded;
    }
  } while (cursor != "0");
  log_->info("cluster: loaded {} latest record(s) from Redis", loaded);
}

void cluster_node::reader_loop() {
  redis_client redis(opts_.redis, millis(3000));
  const std::string key = "tributary:" + opts_.name + ":stream";
  bool was_down = false;
  while (!stop_) {
    auto r = redis.command({"XREAD", "COUNT", "500", "BLOCK", "1000", "STREAMS", key, last_id_});
    auto* rep = std::get_if<redis_reply>(&r);
    if (!rep || rep->is_error()) {
      was_down = true;
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(500), [this] { return stop_.load(); });
      continue;
    }
    // Back after an outage: the position may have been trimmed away meanwhile.
    if (std::exchange(was_down, false) && position_trimmed(redis, key)) resync(redis, "stream position trimmed");
    if (rep->type != redis_reply::kind::array) continue;  // timeout: nil
    bool gap = false;
    for (const auto& stream : rep->elements) {
      if (stream.elements.size() != 2) continue;
      for (const auto& entry : stream.elements[1].elements) {
        last_id_ = entry.elements[0].str;
        gap |= apply_entry(entry);
      }
    }
    if (gap) resync(redis, "gap in seqs");
  }
}

// Applies one stream entry; true when it shows that records were missed before it.
bool cluster_node::apply_entry(const redis_reply& entry) {
  const auto& f = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str != "record") continue;
    auto rec = record::from_json(json::parse(f[i + 1].str, nullptr, false));
    if (!rec) {
      log_->warn("cluster: stream entry {} has no valid record; skipped", entry.elements[0].str);
      continue;
    }
    auto topic = rec->topic();
    uint64_t seq = rec->seq, before = local_.applied(topic);
    if (!local_.ingest(std::move(*rec))) continue;
    m_.add("tributary_stream_reads_total");
    if (before > 0 && seq > before + 1) {
      note_gap(topic, before, seq);
      return true;
    }
  }
  return false;
}

void cluster_node::note_gap(const std::string& topic, uint64_t before, uint64_t seq) {
  m_.add("tributary_stream_gaps_total");
  log_->warn("cluster: {} jumped from seq {} to {}: records were missed; resyncing", topic, before, seq);
  std::lock_guard lk(mu_);
  ++gaps_;
  last_gap_ = topic + " " + std::to_string(before) + " -> " + std::to_string(seq);
}

namespace {
// A stream entry id "ms-n" as a comparable pair; {0, 0} when malformed.
std::pair<uint64_t, uint64_t> stream_id(const std::string& s) {
  uint64_t ms = 0, n = 0;
  auto dash = s.find('-');
  std::from_chars(s.data(), s.data() + std::min(dash, s.size()), ms);
  if (dash != std::string::npos) std::from_chars(s.data() + dash + 1, s.data() + s.size(), n);
  return {ms, n};
}
}  // namespace

// Whether entries after our position were trimmed away (MAXLEN) while we were not reading.
bool cluster_node::position_trimmed(redis_client& r, const std::string& key) {
  if (last_id_ == "0") return false;
  auto first = r.command({"XRANGE", key, "-", "+", "COUNT", "1"});
  auto* rep = std::get_if<redis_reply>(&first);
  if (!rep || rep->is_error() || rep->elements.empty() || rep->elements[0].elements.empty()) return false;
  auto oldest = stream_id(rep->elements[0].elements[0].str), ours = stream_id(last_id_);
  return ours < oldest && !(ours.first == oldest.first && ours.second + 1 == oldest.second);
}

void cluster_node::resync(redis_client& r, const char* why) {
  m_.add("tributary_stream_resyncs_total");
  log_->info("cluster: resyncing the latest records from Redis ({})", why);
  load_latest_records(r);
}

void cluster_node::share_control(const control_request& r) {
  std::lock_guard lk(mu_);
  control_out_.push_back(r);  // written by the lease thread: no Redis I/O on the caller's thread
}

void cluster_node::write_control(redis_client& redis) {
  std::vector<control_request> out;
  {
    std::lock_guard lk(mu_);
    out.swap(control_out_);
  }
  using act = control_request::action;
  const std::string key = "tributary:" + opts_.name + ":control";
  for (const auto& r : out) {
    if (r.what == act::pause_feed) {
      redis.command({"HSET", key, "paused:" + r.target, "1"});
    } else if (r.what == act::resume_feed) {
      redis.command({"HDEL", key, "paused:" + r.target});
    } else {
      std::string field = (r.what == act::run_feed ? "run:" : "reset:") + r.target;
      auto n = redis.command({"HINCRBY", key, field, "1"});
      if (auto* rep = std::get_if<redis_reply>(&n); rep && rep->type == redis_reply::kind::integer) {
        std::lock_guard lk(mu_);
        control_seen_[field] = rep->integer;  // already applied here
      }
    }
  }
}

void cluster_node::poll_control(redis_client& r) {
  auto all = r.command({"HGETALL", "tributary:" + opts_.name + ":control"});
  auto* rep = std::get_if<redis_reply>(&all);
  if (!rep || rep->type != redis_reply::kind::array) return;
  cluster_control c;
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i + 1 < rep->elements.size(); i += 2) {
      const auto& field = rep->elements[i].str;
      auto value = std::atoll(rep->elements[i + 1].str.c_str());
      auto colon = field.find(':');
      if (colon == std::string::npos) continue;
      auto kind = field.substr(0, colon), target = field.substr(colon + 1);
      if (kind == "paused") {
        c.paused_feeds.insert(target);
        continue;
      }
      auto& seen = control_seen_[field];
      if (control_primed_ && value > seen) (kind == "run" ? c.run_feeds : c.reset_sources).push_back(target);
      seen = std::max(seen, value);
    }
    control_primed_ = true;  // requests older than this node are not replayed
  }
  on_control_(c);
}

json cluster_node::status() const {
  auto write_error = writer_->last_error();
  std::lock_guard lk(mu_);
  return {{"redis", redis_up_.load() ? "up" : "down"},
          {"buffered", writer_->buffered()},
          {"stream_writes", writer_->healthy() ? "ok" : "failing"},
          {"stream_write_error", writer_->healthy() || write_error.empty() ? json(nullptr) : json(write_error)},
          {"gaps", gaps_},
          {"last_gap", last_gap_.empty() ? json(nullptr) : json(last_gap_)},
          {"last_error", last_error_.empty() ? json(nullptr) : json(last_error_)}};
}

bool cluster_node::writes_healthy() const { return writer_->healthy(); }

}  // namespace tributary
