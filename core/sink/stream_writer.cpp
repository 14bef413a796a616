#include "sink/stream_writer.hpp"

#include <spdlog/spdlog.h>

#include "sink/fenced_writer.hpp"
#include "sink/record_batch.hpp"
#include "obs/metrics.hpp"
#include "util/thread_name.hpp"

namespace tributary {

namespace {
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

stream_writer::stream_writer(stream_options opts, metrics& m, std::shared_ptr<spdlog::logger> log, stream_hooks hooks)
    : opts_(std::move(opts)), m_(m), log_(std::move(log)), hooks_(std::move(hooks)),
      depth_(m.counter_for("tributary_stream_buffer_depth")) {
  auto outcome = [&](const char* o) { return &m_.counter_for("tributary_stream_writes_total", {{"outcome", o}}); };
  written_ = outcome("written");
  duplicate_ = outcome("duplicate");
  conflict_ = outcome("conflict");
  fenced_ = outcome("fenced");
  unavailable_ = outcome("unavailable");
  m_.describe("tributary_stream_buffer_depth", "gauge", "Records waiting for Redis");
  m_.describe("tributary_stream_drops_total", "counter", "Records never written to the stream, by reason");
  m_.describe("tributary_stream_writes_total", "counter", "Stream appends by outcome");
  m_.describe("tributary_stream_write_failing", "gauge", "1 while stream writes fail (Redis down, out of memory, read-only, timing out)");
  for (const char* reason : {"buffer_full", "fenced", "shutdown", "not_leader"})
    m_.add("tributary_stream_drops_total", {{"reason", reason}}, 0);  // shown as 0 from the start
  m_.set("tributary_stream_write_failing", {}, 0);
}

stream_writer::~stream_writer() { stop(); }

void stream_writer::start() {
  thread_ = std::thread([this] { loop(); });
  name_thread(thread_, "stream-writer");
}

void stream_writer::stop() {
  if (!thread_.joinable()) return;
  flush_until_ = steady_ms() + opts_.flush_at_stop.count();
  stop_ = true;
  cv_.notify_all();
  thread_.join();
  std::lock_guard lk(mu_);
  if (!buffer_.empty()) {
    log_->warn("stream: stopping with {} record(s) Redis did not take ({}); they are dropped", buffer_.size(),
               last_error_.empty() ? "no answer in time" : last_error_);
    drop(buffer_.size(), "shutdown");
    buffer_.clear();
  }
}

void stream_writer::drop(size_t n, const char* reason) {
  m_.add("tributary_stream_drops_total", {{"reason", reason}}, static_cast<double>(n));
}

void stream_writer::dropped(const published_record& r, const char* reason) {
  log_->warn("stream: {} seq {} not written: {}", r.topic, r.rec.seq, reason);
  drop(1, reason);
}

void stream_writer::accept(const std::shared_ptr<const published_record>& r) {
  {
    std::lock_guard lk(mu_);
    if (buffer_.size() >= opts_.buffer) {
      log_->warn("stream: buffer full ({} records); dropping {} seq {}", opts_.buffer, buffer_.front()->topic,
                 buffer_.front()->rec.seq);
      buffer_.pop_front();
      drop(1, "buffer_full");
    }
    buffer_.push_back(r);
    depth_.set(static_cast<double>(buffer_.size()));
  }
  cv_.notify_all();
}

size_t stream_writer::buffered() const {
  std::lock_guard lk(mu_);
  return buffer_.size();
}

std::string stream_writer::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

void stream_writer::set_failing(bool failing, const std::string& why) {
  bool was = failing_.exchange(failing);
  if (!was && !failing) return;  // the common case: writing, and it was already
  m_.set("tributary_stream_write_failing", {}, failing ? 1 : 0);
  std::lock_guard lk(mu_);
  if (failing) last_error_ = why;
  if (failing && !was) log_->warn("stream: write failed ({}); buffering", why);
  if (!failing && was) log_->info("stream: writing again ({} buffered)", buffer_.size());
}

void stream_writer::loop() {
  redis_client redis(opts_.redis, millis(1000));
  fenced_writer writer(redis, opts_.name, opts_.maxlen, opts_.cache_ttl, opts_.history ? &*opts_.history : nullptr);
  int64_t backoff = 100;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      bool woken = cv_.wait_for(lk, idle_probe_every, [this] { return stop_ || !buffer_.empty(); });
      if (!woken) {  // nothing to write: whether Redis would take a write still shows in /ready
        lk.unlock();
        probe(redis);
        continue;
      }
      if (buffer_.empty() || (stop_ && steady_ms() >= flush_until_)) break;
    }
    write_front(writer, backoff);
  }
}

void stream_writer::probe(redis_client& redis) {
  auto why = redis.ping();
  set_failing(why.has_value(), why ? *why : "");
}

// Writes the oldest buffered records (up to a batch, one round trip), or waits (with backoff)
// when Redis does not take them.
void stream_writer::write_front(fenced_writer& writer, int64_t& backoff) {
  {
    std::lock_guard lk(mu_);  // a batch of big records is cut short: one script run holds Redis up
    take_front(buffer_, fenced_writer::max_batch, fenced_writer::max_batch_bytes, batch_);
  }
  std::string why;
  batch_ptrs_.clear();
  for (auto& r : batch_) batch_ptrs_.push_back(r.get());
  auto res = writer.write_batch(hooks_.epoch(), batch_ptrs_, outcomes_, &why);
  if (res == fenced_writer::result::unavailable) return wait_after_failure(why, backoff);
  backoff = 100;
  set_failing(false, "");
  if (res == fenced_writer::result::fenced) return drop_fenced(why);
  {
    std::lock_guard lk(mu_);
    pop_written(buffer_, batch_, batch_.size());
    depth_.set(static_cast<double>(buffer_.size()));
  }
  for (size_t i = 0; i < batch_.size(); ++i) settle(*batch_[i], outcomes_[i]);
  batch_.clear();  // the records go back to their pool once delivered
}

void stream_writer::wait_after_failure(const std::string& why, int64_t& backoff) {
  unavailable_->add();
  set_failing(true, why);
  std::unique_lock lk(mu_);
  auto wait = std::chrono::milliseconds(backoff);
  if (stop_) wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(0, flush_until_ - steady_ms())));
  cv_.wait_for(lk, wait, [this] { return stop_.load() && steady_ms() >= flush_until_; });
  backoff = std::min<int64_t>(backoff * 2, 2000);  // the same records again, in order
}

void stream_writer::drop_fenced(const std::string& why) {
  fenced_->add();
  size_t n;
  {
    std::lock_guard lk(mu_);
    n = buffer_.size();
    buffer_.clear();
  }
  log_->warn("stream: write refused ({}); {} record(s) no client has seen are dropped", why, n);
  drop(n, "fenced");
  if (hooks_.on_fenced) hooks_.on_fenced();
}

// Counts what became of one written record; a conflict is numbered again by the broker.
void stream_writer::settle(const published_record& r, const fenced_writer::outcome& o) {
  using result = fenced_writer::result;
  (o.res == result::written ? written_ : o.res == result::duplicate ? duplicate_ : conflict_)->add();
  if (o.res == result::duplicate && steady_ms() - last_duplicate_log_ >= 1000) {  // at most once a second
    last_duplicate_log_ = steady_ms();
    log_->warn("stream: {} seq {} is already written; not written again", r.topic, r.rec.seq);
  }
  if (o.res == result::conflict) {
    log_->warn("stream: {}; renumbering it after {}", o.why, o.last_seq);
    if (hooks_.on_conflict) hooks_.on_conflict(r, o.last_seq);
  }
}

}  // namespace tributary
