#pragma once
// Counters and gauges rendered in the Prometheus text format. Thread-safe; cheap enough for
// the per-record path (one mutex, one map look-up). Hot paths (per session, per message) keep
// their own per-thread counters instead and register a collector, which is called, and its
// samples added in, only when the metrics are read.
#include <atomic>
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
  void add(double v = 1) { v_.fetch_add(v, std::memory_order_relaxed); }
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
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
