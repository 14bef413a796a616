#pragma once
#include <algorithm>
#include <cstdint>
#include <mutex>

namespace tributary {

// Request-weight budget of one plugin instance: `burst` tokens at most, refilled at
// requests/per. Time is passed in (ms) so tests drive it with a fake clock. Thread-safe.
class token_bucket {
 public:
  token_bucket(double requests, int64_t per_ms, double burst, int64_t now_ms)
      : rate_(per_ms > 0 ? requests / static_cast<double>(per_ms) : 0),
        burst_(std::max(1.0, burst)),
        tokens_(burst_),
        last_(now_ms) {}

  // Takes `cost` tokens if they are there. A cost above the burst is allowed from a full
  // bucket, so an expensive request is slowed down, never starved forever.
  bool try_take(double cost, int64_t now_ms) {
    std::lock_guard lk(mu_);
    refill(now_ms);
    double need = std::min(cost, burst_);
    if (tokens_ + 1e-9 < need) return false;
    tokens_ -= cost;
    return true;
  }

  double available(int64_t now_ms) {
    std::lock_guard lk(mu_);
    refill(now_ms);
    return tokens_;
  }

  // Milliseconds until `cost` could be taken.
  int64_t wait_ms(double cost, int64_t now_ms) {
    std::lock_guard lk(mu_);
    refill(now_ms);
    double need = std::min(cost, burst_) - tokens_;
    if (need <= 0) return 0;
    return rate_ > 0 ? static_cast<int64_t>(need / rate_) + 1 : INT64_MAX;
  }

  double burst() const { return burst_; }

  // The provider says only `remaining` is left: never more than that from now.
  void cap(double remaining, int64_t now_ms) {
    std::lock_guard lk(mu_);
    refill(now_ms);
    tokens_ = std::min(tokens_, std::max(0.0, remaining));
  }

 private:
  void refill(int64_t now) {
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) * rate_);
      last_ = now;
    }
  }

  std::mutex mu_;
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_;
};

}  // namespace tributary
