#include "sink/copy_sink.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "record/topic.hpp"
#include "sink/kafka_sink.hpp"
#include "sink/redis_stream_sink.hpp"

namespace tributary {

namespace {
metrics_counter& drops(metrics& m, const std::string& sink, const char* reason) {
  return m.counter_for("tributary_sink_drops_total", {{"sink", sink}, {"reason", reason}});
}
}  // namespace

copy_sink::copy_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading, std::shared_ptr<spdlog::logger> log)
    : log_(std::move(log)), depth_(m.counter_for("tributary_sink_buffered", {{"sink", cfg.name}})), cfg_(cfg),
      leading_(std::move(leading)),
      written_(m.counter_for("tributary_sink_writes_total", {{"sink", cfg.name}})),
      up_(m.counter_for("tributary_sink_up", {{"sink", cfg.name}})),
      buffer_full_(drops(m, cfg.name, "buffer_full")), refused_(drops(m, cfg.name, "refused")),
      shutdown_(drops(m, cfg.name, "shutdown")) {
  m.describe("tributary_sink_writes_total", "counter", "Records a sink copied to its destination");
  m.describe("tributary_sink_drops_total", "counter", "Records a sink never copied, by reason (buffer_full, refused, shutdown)");
  m.describe("tributary_sink_up", "gauge", "1 while a sink's destination takes records");
  m.describe("tributary_sink_buffered", "gauge", "Records a sink holds for its destination");
  up_.set(1);
}

void copy_sink::accept(const std::shared_ptr<const published_record>& r) {
  if (!leading_()) return;  // the publishing node copies; elsewhere each record would be copied again
  for (const auto& p : cfg_.records)
    if (topic_matches(p, r->topic)) return take(r);
}

void copy_sink::dropped(const char* reason, size_t n) {
  std::string_view why(reason);
  (why == "buffer_full" ? buffer_full_ : why == "shutdown" ? shutdown_ : refused_).add(static_cast<double>(n));
}

void copy_sink::written(size_t n) { written_.add(static_cast<double>(n)); }

void copy_sink::set_failing(bool failing, const std::string& why) {
  std::lock_guard lk(mu_);
  if (failing) last_error_ = why;
  if (failing == failing_) return;
  failing_ = failing;
  up_.set(failing ? 0 : 1);
  if (failing) log_->warn("sink {}: {}; buffering", cfg_.name, why);
  else log_->info("sink {}: writing again ({} buffered)", cfg_.name, buffered());
}

nlohmann::json copy_sink::status() const {
  std::lock_guard lk(mu_);
  double dropped = buffer_full_.value() + refused_.value() + shutdown_.value();
  return {{"name", cfg_.name}, {"type", name_of(cfg_.type)}, {"state", failing_ ? "failing" : "ok"}, {"buffered", buffered()},
          {"written", written_.value()}, {"dropped", dropped}, {"last_error", last_error_.empty() ? nlohmann::json() : nlohmann::json(last_error_)}};
}

std::optional<std::string> copy_sink::unready() const {
  std::lock_guard lk(mu_);
  if (!failing_) return std::nullopt;
  return "sink " + cfg_.name + " failing: " + last_error_;
}

std::variant<std::unique_ptr<copy_sink>, std::string> make_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                                                 std::shared_ptr<spdlog::logger> log) {
  if (cfg.type == sink_type::kafka) return kafka_sink::make(cfg, m, std::move(leading), std::move(log));
  return redis_stream_sink::make(cfg, m, std::move(leading), std::move(log));
}

}  // namespace tributary
