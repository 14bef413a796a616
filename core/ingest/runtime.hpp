#pragma once
// Feeds, their sources, and running them: plan -> HTTP -> parse -> intake, with per-source
// rate budgets, Retry-After pauses and fallback to the next source for whatever is still
// missing. Nothing is fabricated: a subject no source served keeps its last good record,
// re-announced once as stale.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "plugin/plugin.hpp"
#include "ingest/limits/circuit_breaker.hpp"
#include "ingest/timer_queue.hpp"
#include "ingest/limits/rate_budget.hpp"
#include "ingest/limits/shared_limits.hpp"
#include "publish/published.hpp"

namespace spdlog { class logger; }

namespace tributary {

class http_transport;
class clock_source;
class demand_tracker;
class intake;
class metrics;

// One configured plugin instance with its budget and health.
struct source_runtime {
  std::string name;
  std::shared_ptr<plugin_instance> plugin;
  std::string base_url;
  millis timeout{10000};
  std::unique_ptr<rate_budget> budget;
  std::shared_ptr<shared_limits> shared;  // cluster mode: budget and pauses kept in Redis
  std::unique_ptr<circuit_breaker> breaker;
  int retries = 2;         // extra attempts after a retryable failure, inside the feed's deadline
  millis backoff{250};     // first retry delay, doubled each time, jittered by +-50%
  std::atomic<int64_t> paused_until{0};
  void pause_until(int64_t until) {  // a longer pause already set stays
    int64_t cur = paused_until.load();
    while (cur < until && !paused_until.compare_exchange_weak(cur, until)) {}
  }

  mutable std::mutex mu;  // guards the status below
  int64_t last_success = 0, last_error_at = 0;
  std::string last_error_class, last_error;
  uint64_t requests = 0, failures = 0;

  nlohmann::json status(int64_t now) const;
};

struct feed_runtime {
  feed_config cfg;
  std::vector<source_runtime*> sources;  // in fallback order
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> subjects;  // source -> (canonical, native)
  std::atomic<bool> running{false};
  std::atomic<bool> paused{false};    // by the control API: not scheduled until resumed
  std::atomic<bool> run_once{false};  // run at the next tick even while paused
  // mode = "stream": whether the stream (the first source) delivers. While it does not, the
  // scheduler polls the later sources.
  std::atomic<bool> stream_up{true};
  bool polled_now() const { return !cfg.stream || (!stream_up && sources.size() > 1); }
  // When a run due after `now` starts, before jitter: at once (the first), every `every`, on
  // multiples of `every` (align), or at the next time of the schedule.
  int64_t next_run(int64_t now, bool first) const;
  // adapt = true: how many times `every` apart runs are now (1: not stretched), from what a run
  // costs its primary source and what that source's budget has left.
  std::atomic<double> stretch{1.0};
  std::atomic<double> cost_per_run{0};  // what the last run took from its primary source's budget
  void adapt(int64_t now);
  int64_t next_due = 0;
  // demand = "subscribed": who wants which topic (set by the host; null: every subject always).
  const demand_tracker* demand = nullptr;
  // The subjects a run due now asks for: every one, or (demand) those wanted now or within
  // demand_linger. Remembers them as asked for.
  std::vector<std::string> due_subjects(int64_t now);
  // demand: subjects wanted now that no run has asked for since they became wanted (a
  // subscriber just arrived): asked for at once, not at the next tick. Remembers them as asked.
  std::vector<std::string> new_subjects(int64_t now);

  mutable std::mutex mu;  // guards the status below
  int64_t last_run = 0, last_success = 0;
  std::string last_source;
  std::vector<std::string> last_skipped;
  std::vector<std::string> stale_topics;  // unserved topics whose last good record is kept
  std::vector<std::string> unserved;      // subjects no source served in the last run
  bool failing = false;
  std::string last_error;
  uint64_t runs = 0;

  nlohmann::json status(int64_t now) const;

 private:
  bool wanted(const std::string& subject, int64_t now) const;
  nlohmann::json demand_status(int64_t now) const;
  std::set<std::string> asked_;  // demand: wanted subjects asked for since they became wanted (the scheduler's thread)
};

struct run_outcome {
  std::vector<std::shared_ptr<const published_record>> published;
  std::vector<fetch_error> errors;       // what went wrong, per source and subject
  std::vector<std::string> skipped;      // sources passed over and why
  std::vector<std::string> served_by;    // sources that produced records
  std::vector<std::string> unserved;     // subjects no source served
  bool ok() const { return unserved.empty(); }
};

class feed_runner {
 public:
  feed_runner(http_transport& http, const clock_source& clock, timer_queue& timers, intake& out, metrics& m,
              std::shared_ptr<spdlog::logger> log, uint64_t seed = std::random_device{}());
  // Runs `feed` once for `subjects` (by default all of them); `done` is called exactly once,
  // possibly on the transport's thread.
  void run(feed_runtime& feed, std::function<void(run_outcome)> done) { run(feed, feed.cfg.subjects, std::move(done)); }
  void run(feed_runtime& feed, std::vector<std::string> subjects, std::function<void(run_outcome)> done);

 private:
  struct run_ctx;
  struct attempt_result;
  void try_next(std::shared_ptr<run_ctx> c);
  feed_request request_for(const run_ctx& c, const source_runtime& s) const;
  std::optional<std::vector<http_request>> prepare(run_ctx& c, source_runtime& s);
  void next_source(run_ctx& c, source_runtime& s);
  void plan_failed(run_ctx& c, source_runtime& s, std::vector<fetch_error> errors, int64_t now);
  bool take_budget(run_ctx& c, source_runtime& s, double cost, int64_t now);
  void send(std::shared_ptr<run_ctx> c, source_runtime* s, std::vector<http_request> requests);
  void on_responses(std::shared_ptr<run_ctx> c, source_runtime* s, const std::vector<http_request>& reqs,
                    std::vector<http_response> resps);
  attempt_result collect(const run_ctx& c, source_runtime& s, const std::vector<http_request>& reqs,
                         const std::vector<http_response>& resps);
  void record_attempt(source_runtime& s, size_t requests, const attempt_result& a, int64_t now);
  void apply_budget_header(source_runtime& s, const http_response& resp);
  bool schedule_retry(const std::shared_ptr<run_ctx>& c, source_runtime& s, attempt_result& a, int64_t now);
  void report_errors(run_ctx& c, source_runtime& s, std::vector<fetch_error> errors);
  void finish(std::shared_ptr<run_ctx> c);
  int64_t backoff(const source_runtime& s, int attempt);

  http_transport& http_;
  const clock_source& clock_;
  timer_queue& timers_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  intake& out_;
  metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
};

// Starts each feed every `every` (+ jitter), never two runs of one feed at once. tick() is the
// whole logic, so tests drive it with a fake clock; start() runs it on a thread.
class scheduler {
 public:
  scheduler(feed_runner& runner, const clock_source& clock, timer_queue& timers, std::vector<feed_runtime*> feeds,
            uint64_t seed = std::random_device{}());
  ~scheduler();
  void tick();
  int64_t next_due() const;
  // Runs start only while `gate` says so (cluster mode: only the leader fetches).
  void set_gate(std::function<bool()> gate) { gate_ = std::move(gate); }
  // Runs `f` at the next tick, whatever its schedule (a paused feed too: asked for by name).
  void run_now(feed_runtime& f);
  // Looks at the feeds now rather than at the next due time (a subscriber wants a topic).
  void wake();
  void start();
  void stop();

 private:
  int64_t jitter(const feed_runtime& f);
  void run_due(feed_runtime& f, int64_t now);
  void start_run(feed_runtime& f, std::vector<std::string> subjects);
  feed_runner& runner_;
  const clock_source& clock_;
  timer_queue& timers_;
  std::function<bool()> gate_;
  std::vector<feed_runtime*> feeds_;
  std::mt19937_64 rng_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::thread thread_;
};

}  // namespace tributary
