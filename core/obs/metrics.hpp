#pragma once
// Counters and gauges rendered in the Prometheus text format. Thread-safe; cheap enough for
// the per-record path (one mutex, one map look-up). Hot paths (per session, per message) keep
// their own per-thread counters instead and register a collector, which is called, and its
// samples added in, only when the metrics are read.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tributary {

// A counter (or gauge) resolved once and kept by a hot path: adding to it or setting it takes
// no lock, no look-up and no allocation. Lives as long as its metrics object; rendered with the
// other series. A series is either such a cell or set by name, never both.
class metrics_counter {
 public:
  // A whole number (the usual case: one more record, n more bytes) is one atomic add; only a
  // fraction takes the compare-and-swap loop that adding to an atomic double is.
  void add(double v = 1) {
    if (v > -kWhole && v < kWhole && static_cast<double>(static_cast<int64_t>(v)) == v)
      whole_.fetch_add(static_cast<int64_t>(v), std::memory_order_relaxed);
    else
      part_.fetch_add(v, std::memory_order_relaxed);
  }
  void set(double v) {
    whole_.store(0, std::memory_order_relaxed);
    part_.store(v, std::memory_order_relaxed);
  }
  double value() const { return static_cast<double>(whole_.load(std::memory_order_relaxed)) + part_.load(std::memory_order_relaxed); }

 private:
  static constexpr double kWhole = 9007199254740992.0;  // 2^53: every whole number below is exact
  std::atomic<int64_t> whole_{0};
  std::atomic<double> part_{0};
};

class metrics {
 public:
  using labels = std::vector<std::pair<std::string, std::string>>;
  struct sample {
    std::string name;
    labels l;
    double v;
  };
  using collector = std::function<void(std::vector<sample>&)>;
  // Returns an id for remove_collector; a collector must be removed before what it reads dies.
  int add_collector(collector c);
  void remove_collector(int id);
  using counter = metrics_counter;
  counter& counter_for(const std::string& name, const labels& l = {});
  void describe(const std::string& name, const std::string& type, const std::string& help);
  void add(const std::string& name, const labels& l = {}, double v = 1);
  void set(const std::string& name, const labels& l, double v);
  double value(const std::string& name, const labels& l = {}) const;
  std::string render() const;

 private:
  static std::string key(const labels& l);
  std::map<std::string, std::map<std::string, double>> snapshot() const;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> meta_;  // name -> type, help
  std::map<std::string, std::map<std::string, double>> series_;      // name -> labels -> v
  std::map<int, collector> collectors_;
  std::map<std::string, std::map<std::string, std::unique_ptr<counter>>> counters_;  // name -> labels -> counter
  int next_collector_ = 0;
};

}  // namespace tributary
