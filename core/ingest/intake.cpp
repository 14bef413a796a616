#include "ingest/intake.hpp"

#include <atomic>
#include <chrono>

#include <spdlog/spdlog.h>

#include "publish/broker.hpp"

namespace tributary {

namespace {
std::atomic<uint64_t> next_serial{1};

struct cached_counter {
  uint64_t owner;
  const char* name;  // one of the literals below: compared by address
  std::string kind, source;
  metrics::counter* c;
};
thread_local std::vector<cached_counter> counters_here;

constexpr const char* kRecords = "tributary_records_total";
constexpr const char* kStale = "tributary_stale_records_total";
constexpr const char* kViolations = "tributary_plugin_contract_violations_total";
}  // namespace

intake::intake(broker& b, metrics& m, std::shared_ptr<spdlog::logger> log)
    : broker_(b), m_(m), log_(std::move(log)), serial_(next_serial++) {}

metrics::counter& intake::counter(std::string_view name, std::string_view kind, std::string_view source) {
  for (auto& c : counters_here)
    if (c.owner == serial_ && c.name == name.data() && c.kind == kind && c.source == source) return *c.c;
  metrics::labels l;
  if (name.data() != kViolations) l.emplace_back("kind", kind);
  if (name.data() != kStale) l.emplace_back("source", source);
  auto& c = m_.counter_for(std::string(name), l);
  counters_here.push_back({serial_, name.data(), std::string(kind), std::string(source), &c});
  return c;
}

void intake::count(const published_record& p) {
  counter(kRecords, p.rec.kind, p.rec.source).add();
  if (p.rec.stale) counter(kStale, p.rec.kind, {}).add();
}

std::shared_ptr<const published_record> intake::publish(record&& r, const record_origin& o) {
  return stamp_and_publish(published_record::wrap(std::move(r)), o);
}

std::shared_ptr<const published_record> intake::publish(const record& r, const record_origin& o) {
  return stamp_and_publish(published_record::wrap(r), o);
}

std::shared_ptr<const published_record> intake::stamp_and_publish(std::shared_ptr<published_record> w, const record_origin& o) {
  auto& r = w->rec;
  r.source.assign(o.source);
  r.feed.assign(o.feed);
  r.received = o.received;
  if (r.ts == 0) r.ts = o.received;
  auto p = broker_.publish(std::move(w), o.position);
  if (p) count(*p);
  return p;
}

std::shared_ptr<const published_record> intake::publish(record r) {
  auto p = broker_.publish(std::move(r));
  if (p) count(*p);
  return p;
}

std::shared_ptr<const published_record> intake::mark_stale(const std::string& topic) {
  auto p = broker_.mark_stale(topic);
  if (p) count(*p);
  return p;
}

void intake::contract_problems(std::string_view source, const std::vector<std::string>& problems) {
  if (problems.empty()) return;
  counter(kViolations, {}, source).add(static_cast<double>(problems.size()));
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  auto last = last_problem_log_.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_problem_log_.compare_exchange_strong(last, now)) {
    problems_unlogged_ += problems.size();
    return;
  }
  auto before = problems_unlogged_.exchange(0);
  for (auto& p : problems) log_->warn("plugin {} broke the record contract: {}", source, p);
  if (before) log_->warn("(and {} more contract problem(s) in the second before, counted in tributary_plugin_contract_violations_total)", before);
}

}  // namespace tributary
