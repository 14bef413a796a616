#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace tributary {

// Delayed work keyed by the injected clock's time: schedule(at, fn), then whoever drives time
// (the scheduler thread, `fetch`, or a test with a fake clock) calls run_due(now).
class timer_queue {
 public:
  void schedule(int64_t at_ms, std::function<void()> fn) {
    std::lock_guard lk(mu_);
    q_.emplace(at_ms, std::move(fn));
  }
  // Runs everything due by `now` (outside the lock); returns how many ran.
  size_t run_due(int64_t now) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard lk(mu_);
      auto end = q_.upper_bound(now);
      for (auto it = q_.begin(); it != end; ++it) due.push_back(std::move(it->second));
      q_.erase(q_.begin(), end);
    }
    for (auto& f : due) f();
    return due.size();
  }
  int64_t next_due() const {
    std::lock_guard lk(mu_);
    return q_.empty() ? INT64_MAX : q_.begin()->first;
  }
  size_t size() const {
    std::lock_guard lk(mu_);
    return q_.size();
  }

 private:
  mutable std::mutex mu_;
  std::multimap<int64_t, std::function<void()>> q_;
};

}  // namespace tributary
