#pragma once
// Counters and gauges rendered in the Prometheus text format. Thread-safe; cheap enough for
// the per-record path (one mutex, one map look-up).
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tributary {

class metrics {
 public:
  using labels = std::vector<std::pair<std::string, std::string>>;
  void describe(const std::string& name, const std::string& type, const std::string& help);
  void add(const std::string& name, const labels& l = {}, double v = 1);
  void set(const std::string& name, const labels& l, double v);
  double value(const std::string& name, const labels& l = {}) const;
  std::string render() const;

 private:
  static std::string key(const labels& l);
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> meta_;  // name -> type, help
  std::map<std::string, std::map<std::string, double>> series_;      // name -> labels -> v
};

}  // namespace tributary
