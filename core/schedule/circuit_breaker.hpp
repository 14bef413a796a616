#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

namespace tributary {

// Per-source circuit breaker. Closed: requests flow, consecutive failures are counted; at
// `threshold` it opens. Open: the source is skipped until `cooldown` has passed, then one trial
// run is let through (half-open); its success closes the circuit, its failure opens it again.
// Time is passed in (ms) so tests use a fake clock. Thread-safe.
class circuit_breaker {
 public:
  enum class state { closed, open, half_open };
  using on_change = std::function<void(state from, state to)>;

  circuit_breaker(int threshold, int64_t cooldown_ms, on_change cb = {})
      : threshold_(threshold < 1 ? 1 : threshold), cooldown_(cooldown_ms), cb_(std::move(cb)) {}

  // May a run use this source now? In half-open only one trial is in flight at a time.
  bool allow(int64_t now) {
    std::unique_lock lk(mu_);
    if (state_ == state::open && now >= opened_at_ + cooldown_) move(state::half_open, lk);
    if (state_ == state::closed) return true;
    if (state_ == state::half_open && !trial_) return trial_ = true;
    return false;
  }
  void success() {
    std::unique_lock lk(mu_);
    failures_ = 0;
    trial_ = false;
    if (state_ != state::closed) move(state::closed, lk);
  }
  void failure(int64_t now) {
    std::unique_lock lk(mu_);
    trial_ = false;
    ++failures_;
    if (state_ == state::half_open || (state_ == state::closed && failures_ >= threshold_)) {
      opened_at_ = now;
      move(state::open, lk);
    }
  }
  // The run ended without saying anything about the source's health (rate limited, a bad
  // subject): a half-open trial slot is given back, counters unchanged.
  void release() {
    std::lock_guard lk(mu_);
    trial_ = false;
  }
  state current() const {
    std::lock_guard lk(mu_);
    return state_;
  }
  int64_t retry_at() const {
    std::lock_guard lk(mu_);
    return state_ == state::open ? opened_at_ + cooldown_ : 0;
  }
  int consecutive_failures() const {
    std::lock_guard lk(mu_);
    return failures_;
  }
  static std::string_view name(state s) {
    return s == state::closed ? "closed" : s == state::open ? "open" : "half_open";
  }

 private:
  void move(state to, std::unique_lock<std::mutex>& lk) {
    state from = state_;
    state_ = to;
    if (cb_) {
      lk.unlock();
      cb_(from, to);
      lk.lock();
    }
  }
  mutable std::mutex mu_;
  int threshold_;
  int64_t cooldown_;
  on_change cb_;
  state state_ = state::closed;
  int failures_ = 0;
  int64_t opened_at_ = 0;
  bool trial_ = false;
};

}  // namespace tributary
