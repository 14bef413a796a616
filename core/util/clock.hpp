#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace tributary {

// Injected time source: wall clock in ms since the Unix epoch. Tests use fake_clock.
class clock_source {
 public:
  virtual ~clock_source() = default;
  virtual int64_t now_ms() const = 0;
};

class system_clock_source final : public clock_source {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class fake_clock final : public clock_source {
 public:
  explicit fake_clock(int64_t start = 1'700'000'000'000) : now_(start) {}
  int64_t now_ms() const override { return now_.load(); }
  void advance(int64_t ms) { now_ += ms; }
  void set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace tributary
