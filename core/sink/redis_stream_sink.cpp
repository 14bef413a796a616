#include "sink/redis_stream_sink.hpp"

#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "record/record_bytes.hpp"
#include "sink/record_batch.hpp"
#include "util/thread_name.hpp"

namespace tributary {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "2025-01-15T10:30:00Z", with ".123" before the Z when the time has milliseconds.
std::string rfc3339(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (ms % 1000) n += std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(ms % 1000));
  return std::string(buf, n) + "Z";
}

}  // namespace

std::variant<std::unique_ptr<copy_sink>, std::string> redis_stream_sink::make(const sink_config& cfg, metrics& m,
                                                                              std::function<bool()> leading,
                                                                              std::shared_ptr<spdlog::logger> log) {
  auto where = parse_redis_url_or_why(cfg.redis_url);
  if (auto* e = std::get_if<std::string>(&where)) return "sinks." + cfg.name + ".redis_url: " + *e;
  return std::unique_ptr<copy_sink>(new redis_stream_sink(cfg, m, std::move(leading), std::move(log), std::get<redis_endpoint>(where)));
}

redis_stream_sink::redis_stream_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                     std::shared_ptr<spdlog::logger> log, redis_endpoint where)
    : copy_sink(cfg, m, std::move(leading), std::move(log)), where_(std::move(where)) {}

redis_stream_sink::~redis_stream_sink() { stop(); }

void redis_stream_sink::start() {
  thread_ = std::thread([this] { loop(); });
  name_thread(thread_, "redis-sink");
}

void redis_stream_sink::stop() {
  if (!thread_.joinable()) return;
  flush_until_ = steady_ms() + 2000;
  stop_ = true;
  cv_.notify_all();
  thread_.join();
  std::lock_guard lk(mu_);
  if (buffer_.empty()) return;
  log_->warn("sink {}: stopping with {} record(s) Redis did not take; they are dropped", name(), buffer_.size());
  dropped("shutdown", buffer_.size());
  buffer_.clear();
}

size_t redis_stream_sink::buffered() const {
  std::lock_guard lk(mu_);
  return buffer_.size();
}

void redis_stream_sink::take(const std::shared_ptr<const published_record>& r) {
  {
    std::lock_guard lk(mu_);
    if (buffer_.size() >= cfg().buffer) {
      buffer_.pop_front();
      dropped("buffer_full");
    }
    buffer_.push_back(r);
    depth_.set(static_cast<double>(buffer_.size()));
  }
  cv_.notify_one();
}

std::vector<std::string> redis_stream_sink::fields_of(const published_record& r, sink_format format) {
  if (format == sink_format::record) return {"topic", r.topic, "seq", std::to_string(r.rec.seq), "record", r.json};
  std::vector<std::string> f;
  nlohmann::json read_back;  // the data read back from the record's bytes when it came as text
  const auto& data = r.rec.data.is_null() ? (read_back = read_record_data(r.json)) : r.rec.data;
  if (data.is_object())
    for (auto& [k, v] : data.items()) {
      if (k == "updated_at") continue;  // ours below
      f.push_back(k);
      f.push_back(v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  f.push_back("updated_at");
  f.push_back(rfc3339(r.rec.ts));
  return f;
}

void redis_stream_sink::loop() {
  redis_client redis(where_, millis(1000));
  int64_t backoff = 100;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      bool woken = cv_.wait_for(lk, idle_probe_every, [this] { return stop_ || !buffer_.empty(); });
      if (!woken) {  // nothing to copy: whether Redis would take a write still shows in /ready
        lk.unlock();
        auto why = redis.ping();
        set_failing(why.has_value(), why.value_or(""));
        continue;
      }
      if (buffer_.empty() || (stop_ && steady_ms() >= flush_until_)) return;
    }
    if (write_front(redis)) {
      backoff = 100;
      continue;
    }
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(backoff), [this] { return stop_ && steady_ms() >= flush_until_; });
    backoff = std::min<int64_t>(backoff * 2, 2000);
  }
}

// The buffer's front, up to kBatch records (and about 1 MiB), in one round trip (pipelined
// XADDs). Records Redis took leave the buffer; at the first it refused or did not answer, the
// rest wait for the next try.
bool redis_stream_sink::write_front(redis_client& redis) {
  constexpr size_t kBatch = 64, kBatchBytes = 1u << 20;
  {
    std::lock_guard lk(mu_);
    take_front(buffer_, kBatch, kBatchBytes, batch_);
  }
  cmds_.resize(batch_.size());
  for (size_t i = 0; i < batch_.size(); ++i) {
    auto& argv = cmds_[i];
    argv = {"XADD", cfg().key, "MAXLEN", "~", std::to_string(cfg().maxlen), "*"};
    auto fields = fields_of(*batch_[i], cfg().format);
    argv.insert(argv.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
  }
  auto failure = redis.pipeline(cmds_, replies_);
  size_t taken = 0;
  while (taken < replies_.size() && !replies_[taken].is_error()) ++taken;
  if (taken < replies_.size()) failure = replies_[taken].str;
  settle(taken);
  if (failure) set_failing(true, "XADD " + cfg().key + ": " + *failure);
  else set_failing(false, "");
  return !failure;
}

// The first `n` of the batch were written: counted, and out of the buffer.
void redis_stream_sink::settle(size_t n) {
  if (n) written(n);
  std::lock_guard lk(mu_);
  pop_written(buffer_, batch_, n);
  depth_.set(static_cast<double>(buffer_.size()));
}

}  // namespace tributary
