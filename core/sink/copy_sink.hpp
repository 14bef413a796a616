#pragma once
// A `[sinks.NAME]`: every publication whose topic matches `records` is copied elsewhere (a
// Kafka topic, a Redis stream), by the node that publishes (standalone; the cluster leader),
// so each record is copied once. Each sink holds a bounded buffer while its destination is
// unreachable; what does not fit, or is refused, is counted in
// tributary_sink_drops_total{sink,reason}. The sink shows in status, /ready and the metrics
// (tributary_sink_writes_total{sink}, tributary_sink_buffered{sink}, tributary_sink_up{sink}).
#include <functional>
#include <memory>
#include <mutex>
#include <variant>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "config/config.hpp"
#include "publish/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class metrics;
class metrics_counter;

class copy_sink : public record_sink {
 public:
  copy_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading, std::shared_ptr<spdlog::logger> log);
  void accept(const std::shared_ptr<const published_record>& r) final;
  virtual void start() = 0;
  // Writes what is buffered while the destination answers, for up to 2 s; counts the rest.
  virtual void stop() = 0;
  virtual size_t buffered() const = 0;
  const std::string& name() const { return cfg_.name; }
  // {"name", "type", "state": "ok" | "failing", "buffered", "written", "dropped", "last_error"}
  nlohmann::json status() const;
  // Why the node is not ready because of this sink (its destination fails), or nullopt.
  std::optional<std::string> unready() const;

 protected:
  // A record to copy (on the delivering thread: must not block).
  virtual void take(const std::shared_ptr<const published_record>& r) = 0;
  void dropped(const char* reason, size_t n = 1);
  void written(size_t n = 1);
  void set_failing(bool failing, const std::string& why);  // logs the change
  const sink_config& cfg() const { return cfg_; }
  std::shared_ptr<spdlog::logger> log_;
  metrics_counter& depth_;  // tributary_sink_buffered{sink}

 private:
  sink_config cfg_;
  std::function<bool()> leading_;
  metrics_counter &written_, &up_, &buffer_full_, &refused_, &shutdown_;
  mutable std::mutex mu_;
  bool failing_ = false;
  std::string last_error_;
};

// The sink `cfg` names, or why it cannot be made.
std::variant<std::unique_ptr<copy_sink>, std::string> make_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                                                 std::shared_ptr<spdlog::logger> log);

}  // namespace tributary
