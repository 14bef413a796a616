#pragma once
// A token bucket for one session's client messages: `burst` at most, refilled at `per_second`.
// Not thread-safe (a session lives on one I/O thread); no lock, no allocation.
#include <algorithm>
#include <cstdint>

namespace tributary {

class message_budget {
 public:
  message_budget(double per_second, double burst, int64_t now_ms)
      : rate_(per_second / 1000.0), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now_ms) {}
  bool unlimited() const { return rate_ <= 0; }
  bool take(int64_t now_ms) {
    if (unlimited()) return true;
    if (now_ms > last_) {
      tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_) * rate_);
      last_ = now_ms;
    }
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_;
};

}  // namespace tributary
