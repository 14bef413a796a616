#include "publish/stream_reader.hpp"

#include <charconv>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "record/record_bytes.hpp"
#include "util/thread_name.hpp"
#include "util/wake_batch.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {
// A stream entry id "ms-n" as a comparable pair; {0, 0} when malformed.
std::pair<uint64_t, uint64_t> stream_id(const std::string& s) {
  uint64_t ms = 0, n = 0;
  auto dash = s.find('-');
  std::from_chars(s.data(), s.data() + std::min(dash, s.size()), ms);
  if (dash != std::string::npos) std::from_chars(s.data() + dash + 1, s.data() + s.size(), n);
  return {ms, n};
}

// A pooled record read from its bytes; nullptr when they are not a record.
std::shared_ptr<published_record> read_back(const std::string& bytes, uint64_t epoch) {
  auto p = published_record::acquire();
  if (!read_record_header(bytes, p->rec)) return nullptr;
  p->json.assign(bytes);
  p->epoch = epoch;
  return p;
}
}  // namespace

stream_reader::stream_reader(redis_endpoint redis, std::string name, target& t, metrics& m, std::shared_ptr<spdlog::logger> log,
                             const history_rules* history)
    : redis_(std::move(redis)), key_("tributary:" + name + ":stream"), prefix_("tributary:" + name + ":"), target_(t), history_(history), m_(m),
      reads_(m.counter_for("tributary_stream_reads_total")), log_(std::move(log)) {
  m_.describe("tributary_stream_reads_total", "counter", "Records read from the stream and applied");
  m_.describe("tributary_stream_gaps_total", "counter", "Gaps in a topic's seqs seen by the stream reader (each followed by a resync)");
  m_.describe("tributary_stream_resyncs_total", "counter", "Reloads of the latest records from Redis after a gap or a reconnect");
  m_.add("tributary_stream_gaps_total", {}, 0);
  m_.add("tributary_stream_resyncs_total", {}, 0);
}

stream_reader::~stream_reader() { stop(); }

void stream_reader::load() {
  redis_client r(redis_, millis(1000));
  auto last = r.command({"XREVRANGE", key_, "+", "-", "COUNT", "1"});
  if (auto* rep = std::get_if<redis_reply>(&last); rep && !rep->elements.empty() && !rep->elements[0].elements.empty())
    last_id_ = rep->elements[0].elements[0].str;
  load_latest_records(r, true);
}

void stream_reader::start() {
  thread_ = std::thread([this] { loop(); });
  name_thread(thread_, "stream-reader");
}

void stream_reader::stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool stream_reader::wait(int ms) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

void stream_reader::load_latest_records(redis_client& r, bool with_history) {
  std::string cursor = "0";
  size_t loaded = 0;
  do {
    auto scan = r.command({"SCAN", cursor, "MATCH", prefix_ + "latest:*", "COUNT", "500"});
    auto* rep = std::get_if<redis_reply>(&scan);
    if (!rep || rep->is_error() || rep->elements.size() != 2) {
      log_->warn("cluster: cannot load the latest records from Redis: {}", rep ? rep->str : std::get<std::string>(scan));
      return;
    }
    cursor = rep->elements[0].str;
    for (const auto& key : rep->elements[1].elements) {
      if (history_ && with_history) loaded += load_history(r, std::string_view(key.str).substr(prefix_.size() + 7));  // after "latest:"
      auto v = r.command({"GET", key.str});
      auto* val = std::get_if<redis_reply>(&v);
      if (!val || val->type != redis_reply::kind::string) continue;
      if (auto p = read_back(val->str, 0); p && target_.apply(std::move(p))) ++loaded;
    }
  } while (cursor != "0");
  log_->info("cluster: loaded {} latest record(s) from Redis", loaded);
}

// The topic's history stream, oldest first: at most its rule's size, none older than its ttl.
size_t stream_reader::load_history(redis_client& r, std::string_view topic) {
  const auto& rule = history_->rule_for(topic);
  if (rule.size == 0) return 0;
  auto got = r.command({"XREVRANGE", history_stream_key(prefix_, topic), "+", "-", "COUNT", std::to_string(rule.size)});
  auto* rep = std::get_if<redis_reply>(&got);
  if (!rep || rep->type != redis_reply::kind::array) return 0;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  uint64_t oldest = static_cast<uint64_t>(std::max<int64_t>(0, now - rule.ttl.count()));
  size_t loaded = 0;
  for (auto e = rep->elements.rbegin(); e != rep->elements.rend(); ++e) {
    if (e->elements.size() != 2 || stream_id(e->elements[0].str).first < oldest) continue;
    const auto& f = e->elements[1].elements;
    uint64_t epoch = 0;
    const std::string* bytes = nullptr;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "epoch") std::from_chars(f[i + 1].str.data(), f[i + 1].str.data() + f[i + 1].str.size(), epoch);
      if (f[i].str == "record") bytes = &f[i + 1].str;
    }
    if (auto p = bytes ? read_back(*bytes, epoch) : nullptr; p && target_.apply(std::move(p))) ++loaded;
  }
  return loaded;
}

void stream_reader::loop() {
  redis_client redis(redis_, millis(3000));
  bool was_down = false;
  redis_reply batch;  // used again: its strings keep their room
  std::vector<std::string> xread{"XREAD", "COUNT", "500", "BLOCK", "1000", "STREAMS", key_, last_id_};
  while (!stop_) {
    xread.back() = last_id_;
    auto failed = redis.command_into(xread, batch);
    auto* rep = failed ? nullptr : &batch;
    if (!rep || rep->is_error()) {
      was_down = true;
      wait(500);
      continue;
    }
    // Back after an outage: the position may have been trimmed away meanwhile.
    if (std::exchange(was_down, false) && position_trimmed(redis)) resync(redis, "stream position trimmed");
    if (rep->type != redis_reply::kind::array) continue;  // timeout: nil
    if (apply_reply(*rep)) resync(redis, "gap in seqs");
  }
}

bool stream_reader::apply_reply(const redis_reply& rep) {
  bool gap = false;
  wake_batch wakes;  // the I/O threads are woken once for the whole reply
  for (const auto& stream : rep.elements) {
    if (stream.elements.size() != 2) continue;
    for (const auto& entry : stream.elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      last_id_ = entry.elements[0].str;
      gap |= apply_entry(entry);
    }
  }
  return gap;
}

// Applies one stream entry; true when it shows that records were missed before it.
bool stream_reader::apply_entry(const redis_reply& entry) {
  const auto& f = entry.elements[1].elements;
  uint64_t epoch = 0;
  for (size_t i = 0; i + 1 < f.size(); i += 2)
    if (f[i].str == "epoch") std::from_chars(f[i + 1].str.data(), f[i + 1].str.data() + f[i + 1].str.size(), epoch);
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str != "record") continue;
    auto p = read_back(f[i + 1].str, epoch);
    if (!p) {
      log_->warn("cluster: stream entry {} has no valid record; skipped", entry.elements[0].str);
      continue;
    }
    std::shared_ptr<const published_record> held = p;  // for the gap's message; the record itself is shared
    uint64_t seq = p->rec.seq;
    auto before = target_.apply(std::move(p));
    if (!before) continue;
    reads_.add();
    if (*before > 0 && seq > *before + 1) {
      note_gap(held->topic, *before, seq);
      return true;
    }
  }
  return false;
}

void stream_reader::note_gap(const std::string& topic, uint64_t before, uint64_t seq) {
  m_.add("tributary_stream_gaps_total");
  log_->warn("cluster: {} jumped from seq {} to {}: records were missed; resyncing", topic, before, seq);
  std::lock_guard lk(mu_);
  ++gaps_;
  last_gap_ = topic + " " + std::to_string(before) + " -> " + std::to_string(seq);
}

// Whether entries after our position were trimmed away (MAXLEN) while we were not reading.
bool stream_reader::position_trimmed(redis_client& r) {
  if (last_id_ == "0") return false;
  auto first = r.command({"XRANGE", key_, "-", "+", "COUNT", "1"});
  auto* rep = std::get_if<redis_reply>(&first);
  if (!rep || rep->is_error() || rep->elements.empty() || rep->elements[0].elements.empty()) return false;
  auto oldest = stream_id(rep->elements[0].elements[0].str), ours = stream_id(last_id_);
  return ours < oldest && !(ours.first == oldest.first && ours.second + 1 == oldest.second);
}

void stream_reader::resync(redis_client& r, const char* why) {
  m_.add("tributary_stream_resyncs_total");
  log_->info("cluster: resyncing the latest records from Redis ({})", why);
  load_latest_records(r, false);  // what a gap skipped is older than what is applied: no history to add
}

json stream_reader::status() const {
  std::lock_guard lk(mu_);
  return {{"gaps", gaps_}, {"last_gap", last_gap_.empty() ? json(nullptr) : json(last_gap_)}};
}

}  // namespace tributary
