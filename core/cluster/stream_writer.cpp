#include "cluster/stream_writer.hpp"

#include <spdlog/spdlog.h>

#include "cluster/fenced_writer.hpp"
#include "sink/metrics.hpp"

namespace tributary {

stream_writer::stream_writer(stream_options opts, metrics& m, std::shared_ptr<spdlog::logger> log,
                             std::function<uint64_t()> epoch, std::function<void()> on_fenced)
    : opts_(std::move(opts)), m_(m), log_(std::move(log)), epoch_(std::move(epoch)), on_fenced_(std::move(on_fenced)) {
  m_.describe("tributary_stream_buffer_depth", "gauge", "Records waiting for Redis");
  m_.describe("tributary_stream_drops_total", "counter", "Records dropped because the stream buffer was full");
  m_.describe("tributary_stream_writes_total", "counter", "Stream appends by outcome");
  m_.add("tributary_stream_drops_total", {}, 0);  // shown as 0 from the start, not only after a drop
}

stream_writer::~stream_writer() { stop(); }

void stream_writer::start() { thread_ = std::thread([this] { loop(); }); }

void stream_writer::stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void stream_writer::accept(const std::shared_ptr<const published_record>& r) {
  {
    std::lock_guard lk(mu_);
    if (buffer_.size() >= opts_.buffer) {
      buffer_.pop_front();
      m_.add("tributary_stream_drops_total");
    }
    buffer_.push_back(r);
    m_.set("tributary_stream_buffer_depth", {}, static_cast<double>(buffer_.size()));
  }
  cv_.notify_all();
}

size_t stream_writer::buffered() const {
  std::lock_guard lk(mu_);
  return buffer_.size();
}

void stream_writer::loop() {
  redis_client redis(opts_.redis, millis(1000));
  fenced_writer writer(redis, opts_.name, opts_.maxlen, opts_.cache_ttl);
  int64_t backoff = 100;
  while (!stop_) {
    std::shared_ptr<const published_record> next;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !buffer_.empty(); });
      if (stop_) break;
      next = buffer_.front();
    }
    std::string why;
    auto res = writer.write(epoch_(), *next, &why);
    if (res == fenced_writer::result::unavailable) {
      m_.add("tributary_stream_writes_total", {{"outcome", "unavailable"}});
      if (backoff == 100) log_->warn("stream: write failed ({}); buffering", why);
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(backoff), [this] { return stop_.load(); });
      backoff = std::min<int64_t>(backoff * 2, 2000);  // reconnect with backoff; the same record again, in order
      continue;
    }
    backoff = 100;
    if (res == fenced_writer::result::fenced) {
      // A newer epoch exists: nothing held here may be written.
      m_.add("tributary_stream_writes_total", {{"outcome", "fenced"}});
      log_->warn("stream: write refused ({})", why);
      {
        std::lock_guard lk(mu_);
        buffer_.clear();
      }
      if (on_fenced_) on_fenced_();
    } else {
      m_.add("tributary_stream_writes_total", {{"outcome", "written"}});
      std::lock_guard lk(mu_);
      if (!buffer_.empty() && buffer_.front() == next) buffer_.pop_front();
    }
    std::lock_guard lk(mu_);
    m_.set("tributary_stream_buffer_depth", {}, static_cast<double>(buffer_.size()));
  }
}

}  // namespace tributary
