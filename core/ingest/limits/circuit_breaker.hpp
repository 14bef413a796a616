#pragma once
#include <cstdint>
#include <utility>
#include <functional>
#include <mutex>
#include <optional>
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

  // Permission to use the source for one attempt. Its verdict (success or failure) is
  // recorded once; a permit dropped without one gives a half-open trial back, so no path that
  // skips or abandons an attempt can leave the circuit waiting for a trial forever.
  class permit {
   public:
    permit(permit&& o) noexcept : b_(std::exchange(o.b_, nullptr)), trial_(o.trial_) {}
    permit& operator=(permit&& o) noexcept {
      if (this != &o) {
        drop();
        b_ = std::exchange(o.b_, nullptr);
        trial_ = o.trial_;
      }
      return *this;
    }
    permit(const permit&) = delete;
    permit& operator=(const permit&) = delete;
    ~permit() { drop(); }
    void success() {
      if (auto* b = std::exchange(b_, nullptr)) b->success();
    }
    void failure(int64_t now) {
      if (auto* b = std::exchange(b_, nullptr)) b->failure(now);
    }

   private:
    friend class circuit_breaker;
    permit(circuit_breaker* b, bool trial) : b_(b), trial_(trial) {}
    void drop() {
      if (auto* b = std::exchange(b_, nullptr); b && trial_) b->release();
    }
    circuit_breaker* b_;
    bool trial_;  // this permit holds the half-open trial
  };

  // A permit when the source may be used now; none while open, or half-open with its one
  // trial already out.
  std::optional<permit> acquire(int64_t now) {
    std::unique_lock lk(mu_);
    if (state_ == state::open && now >= opened_at_ + cooldown_) move(state::half_open, lk);
    if (state_ == state::closed) return permit(this, false);
    if (state_ == state::half_open && !trial_) {
      trial_ = true;
      return permit(this, true);
    }
    return std::nullopt;
  }
  bool allow(int64_t now) {  // for callers that judge by hand (tests)
    auto p = acquire(now);
    if (!p) return false;
    p->b_ = nullptr;  // keep the trial: the caller reports success() or failure()
    return true;
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
  // Closes the circuit and forgets the failures (the control API's reset).
  void reset() {
    std::unique_lock lk(mu_);
    failures_ = 0;
    trial_ = false;
    if (state_ != state::closed) move(state::closed, lk);
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
