#include "ingest/runtime.hpp"

#include <charconv>
#include <cmath>

#include <spdlog/spdlog.h>

#include "net/transport.hpp"
#include "obs/metrics.hpp"
#include "ingest/demand.hpp"
#include "ingest/intake.hpp"
#include "publish/broker.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"

namespace tributary {

using json = nlohmann::json;

json source_runtime::status(int64_t now) const {
  std::lock_guard lk(mu);
  json j{{"name", name},
         {"plugin", plugin->manifest().name},
         {"requests", requests},
         {"failures", failures},
         {"rate_budget", budget ? budget->status(now) : json::object()},
         {"budget_forecast", budget ? budget->forecast(now) : json::array()},
         {"circuit", breaker ? std::string(circuit_breaker::name(breaker->current())) : "closed"},
         {"consecutive_failures", breaker ? breaker->consecutive_failures() : 0}};
  if (breaker && breaker->retry_at() > now) j["circuit_retry_in_ms"] = breaker->retry_at() - now;
  j["last_success"] = last_success ? json(last_success) : json(nullptr);
  j["last_error_at"] = last_error_at ? json(last_error_at) : json(nullptr);
  j["last_error_class"] = last_error_class.empty() ? json(nullptr) : json(last_error_class);
  j["last_error"] = last_error.empty() ? json(nullptr) : json(last_error);
  int64_t p = paused_until.load();
  j["paused_for_ms"] = p > now ? p - now : 0;
  j["process"] = plugin->backend_status();
  return j;
}

int64_t feed_runtime::next_run(int64_t now, bool first) const {
  if (cfg.schedule) return cfg.schedule->next_after(now).value_or(now + 86'400'000);
  int64_t every = std::max<int64_t>(1, cfg.every.count());
  if (cfg.adapt) every = std::min(static_cast<int64_t>(static_cast<double>(every) * stretch.load()), std::max(every, cfg.max_every.count()));
  if (cfg.align) return (now / every + 1) * every;  // the next multiple of `every` since the epoch
  return first ? now : now + every;
}

void feed_runtime::adapt(int64_t now) {
  if (!cfg.adapt || sources.empty() || !sources.front()->budget) return;
  stretch = sources.front()->budget->stretch(cost_per_run.load(), cfg.every.count(), now);
}

bool feed_runtime::wanted(const std::string& subject, int64_t now) const {
  return demand->wanted(cfg.kind + "." + subject, cfg.demand_linger.count(), now);
}

std::vector<std::string> feed_runtime::due_subjects(int64_t now) {
  if (!demand || cfg.demand == feed_config::demand_mode::always) return cfg.subjects;
  std::vector<std::string> out;
  asked_.clear();
  for (const auto& s : cfg.subjects)
    if (wanted(s, now)) out.push_back(s), asked_.insert(s);
  return out;
}

std::vector<std::string> feed_runtime::new_subjects(int64_t now) {
  std::vector<std::string> out;
  if (!demand || cfg.demand == feed_config::demand_mode::always) return out;
  for (const auto& s : cfg.subjects) {
    if (!wanted(s, now)) asked_.erase(s);  // wanted again later: asked for at once again
    else if (asked_.insert(s).second) out.push_back(s);
  }
  return out;
}

// {"mode", "linger", "demanded": subjects someone wants, "lingering": [{subject, stops_in_ms}],
// "idle": subjects not asked for}.
json feed_runtime::demand_status(int64_t now) const {
  json j{{"mode", "subscribed"}, {"linger", format_duration(cfg.demand_linger)}, {"demanded", json::array()},
         {"lingering", json::array()}, {"idle", json::array()}};
  for (const auto& s : cfg.subjects) {
    int64_t at = demand->last_wanted(cfg.kind + "." + s);
    if (at == INT64_MAX) j["demanded"].push_back(s);
    else if (at > 0 && now - at < cfg.demand_linger.count())
      j["lingering"].push_back({{"subject", s}, {"stops_in_ms", cfg.demand_linger.count() - (now - at)}});
    else j["idle"].push_back(s);
  }
  return j;
}

json feed_runtime::status(int64_t now) const {
  json demanded = demand && cfg.demand == feed_config::demand_mode::subscribed ? demand_status(now) : json(nullptr);
  std::lock_guard lk(mu);
  json srcs = json::array();
  for (auto* s : sources) srcs.push_back(s->name);
  json j{{"id", cfg.id},
         {"kind", cfg.kind},
         {"subjects", cfg.subjects},
         {"mode", cfg.stream ? "stream" : "poll"},
         {"every", (cfg.stream && sources.size() < 2) || cfg.schedule ? json(nullptr) : json(format_duration(cfg.every))},
         {"sources", srcs},
         {"runs", runs},
         {"paused", paused.load()},
         {"skipped", last_skipped},
         {"stale", !stale_topics.empty()},
         {"stale_topics", stale_topics},
         {"unserved", unserved}};
  if (cfg.schedule) j["schedule"] = cfg.schedule->text();
  if (cfg.align) j["align"] = true;
  if (cfg.adapt) {
    double st = stretch.load();
    int64_t every = std::min(static_cast<int64_t>(static_cast<double>(cfg.every.count()) * st), std::max(cfg.every.count(), cfg.max_every.count()));
    j["adapt"] = {{"stretch", std::round(st * 100) / 100}, {"every_now", format_duration(millis(every))}, {"max_every", format_duration(cfg.max_every)}};
  }
  if (!demanded.is_null()) j["demand"] = std::move(demanded);
  if (cfg.stream) j["stream"] = stream_up ? "up" : sources.size() > 1 ? "down, polling fallback" : "down";
  j["last_source"] = last_source.empty() ? json(nullptr) : json(last_source);
  j["last_record_age_ms"] = last_success ? json(now - last_success) : json(nullptr);
  j["last_error"] = last_error.empty() ? json(nullptr) : json(last_error);
  return j;
}

struct feed_runner::run_ctx {
  feed_runtime* feed;
  std::function<void(run_outcome)> done;
  size_t idx = 0;
  int attempt = 0;         // retries of the current source so far
  bool retrying = false;   // the next attempt retries the current source
  // The current source's breaker permission, held across its retries; dropped (and a
  // half-open trial given back) whenever the run moves on without a verdict.
  std::optional<circuit_breaker::permit> permit;
  // The errors of an attempt whose retry is pending: they are reported if the retry never
  // happens (skipped for budget or a pause), so a skip never hides the provider's error.
  std::vector<fetch_error> pending_errors;
  int64_t deadline = 0;    // retries must be due before this
  std::vector<std::string> remaining;  // canonical subjects still to serve
  run_outcome out;
};

feed_runner::feed_runner(http_transport& http, const clock_source& clock, timer_queue& timers, intake& out, metrics& m,
                         std::shared_ptr<spdlog::logger> log, uint64_t seed)
    : http_(http), clock_(clock), timers_(timers), rng_(seed), out_(out), metrics_(m), log_(std::move(log)) {
  metrics_.describe("tributary_retries_total", "counter", "Retries of a source after a retryable failure");
  metrics_.describe("tributary_circuit_transitions_total", "counter", "Circuit breaker transitions, by source and new state");
  metrics_.describe("tributary_circuit_state", "gauge", "Circuit state per source: 0 closed, 1 open, 2 half-open");
  metrics_.describe("tributary_fetches_total", "counter", "HTTP requests made for feeds, by source and outcome");
  metrics_.describe("tributary_fetch_errors_total", "counter", "Failed fetches by source and error class");
  metrics_.describe("tributary_fallbacks_total", "counter", "Times a feed moved on to its next source");
  metrics_.describe("tributary_rate_limit_skips_total", "counter",
                    "Times a source was passed over for a spent rate budget or a Retry-After pause");
  metrics_.describe("tributary_records_total", "counter", "Records published, by kind and source");
  metrics_.describe("tributary_stale_records_total", "counter", "Last-good records re-announced as stale");
  metrics_.describe("tributary_plugin_contract_violations_total", "counter",
                    "Records or fields a plugin emitted outside the schema (dropped)");
}

void feed_runner::run(feed_runtime& feed, std::vector<std::string> subjects, std::function<void(run_outcome)> done) {
  auto c = std::make_shared<run_ctx>();
  c->feed = &feed;
  c->done = std::move(done);
  c->remaining = std::move(subjects);
  c->idx = feed.cfg.stream ? 1 : 0;  // a stream feed polls only its fallback sources
  c->deadline = feed.next_run(clock_.now_ms(), /*first=*/false);  // retries must fit before the next run
  try_next(std::move(c));
}

int64_t feed_runner::backoff(const source_runtime& s, int attempt) {
  double base = static_cast<double>(s.backoff.count()) * static_cast<double>(1 << std::min(attempt - 1, 10));
  std::lock_guard lk(rng_mu_);
  return static_cast<int64_t>(base * std::uniform_real_distribution<double>(0.5, 1.5)(rng_));
}

void feed_runner::try_next(std::shared_ptr<run_ctx> c) {
  auto& feed = *c->feed;
  while (c->idx < feed.sources.size() && !c->remaining.empty()) {
    source_runtime* s = feed.sources[c->idx];
    auto planned = prepare(*c, *s);
    if (!planned) {
      next_source(*c, *s);
      continue;
    }
    send(std::move(c), s, std::move(*planned));
    return;
  }
  finish(std::move(c));
}

namespace {
// Rate limits pause a source and bad requests are ours to fix: neither says the source is
// unwell. Server errors, timeouts, auth failures and internal errors do, whatever subject or
// request tag they carry; bad data does when it is not about one requested subject.
bool counts_against_source(const fetch_error& e, bool about_a_subject) {
  switch (e.cls) {
    case error_class::rate_limited:
    case error_class::bad_request: return false;
    case error_class::bad_data: return !about_a_subject;
    default: return true;
  }
}
}  // namespace

// What one attempt at a source produced.
struct feed_runner::attempt_result {
  std::vector<std::pair<record, int64_t>> records;  // with when its response arrived
  std::vector<fetch_error> errors;
  // Something says the source itself is unwell (counts_against_source), for any request.
  bool source_failure = false;
};

feed_request feed_runner::request_for(const run_ctx& c, const source_runtime& s) const {
  feed_request fr{c.feed->cfg.id, c.feed->cfg.kind, {}};
  for (auto& [canon, native] : c.feed->subjects.at(s.name))
    if (std::find(c.remaining.begin(), c.remaining.end(), canon) != c.remaining.end()) fr.subjects.emplace_back(canon, native);
  return fr;
}

// Whether `s` may be tried now, in this order: a Retry-After pause, the circuit (before any
// budget is spent on it), the plugin's plan, then the rate budget. Says why when not.
std::optional<std::vector<http_request>> feed_runner::prepare(run_ctx& c, source_runtime& s) {
  bool retry = std::exchange(c.retrying, false);
  if (c.idx > 0 && !retry) metrics_.add("tributary_fallbacks_total", {{"feed", c.feed->cfg.id}, {"to", s.name}});
  int64_t now = clock_.now_ms();
  if (int64_t until = s.paused_until.load(); until > now) {
    c.out.skipped.push_back(s.name + ": paused for " + std::to_string(until - now) + "ms after a rate limit");
    metrics_.add("tributary_rate_limit_skips_total", {{"source", s.name}, {"reason", "retry_after"}});
    return std::nullopt;
  }
  if (!retry && s.breaker) {
    c.permit = s.breaker->acquire(now);
    if (!c.permit) {
      c.out.skipped.push_back(s.breaker->current() == circuit_breaker::state::open
                                  ? s.name + ": circuit open for " + std::to_string(s.breaker->retry_at() - now) + "ms more"
                                  : s.name + ": circuit half-open, trial in progress");
      return std::nullopt;
    }
  }
  auto planned = s.plugin->plan(request_for(c, s));
  if (planned.status != 0 || planned.requests.empty()) {
    plan_failed(c, s, std::move(planned.errors), now);
    return std::nullopt;
  }
  double cost = 0;
  for (auto& r : planned.requests) cost += r.weight;
  if (c.idx == 0) c.feed->cost_per_run = cost;  // what adapt = true paces the feed by
  if (!take_budget(c, s, cost, now)) return std::nullopt;
  for (auto& r : planned.requests) {
    if (r.base_url.empty()) r.base_url = s.base_url;
    r.timeout = s.timeout;
  }
  return std::move(planned.requests);
}

// A plan that failed (a plugin that crashed or overran, or refused the subjects) is that
// source's failure like a failed fetch: counted, in its status, and against its circuit.
void feed_runner::plan_failed(run_ctx& c, source_runtime& s, std::vector<fetch_error> errors, int64_t now) {
  attempt_result a;
  if (errors.empty()) errors.push_back({error_class::internal, "planned no request", {}, 0});
  for (auto& e : errors) a.source_failure |= counts_against_source(e, !e.subject.empty());
  a.errors = std::move(errors);
  record_attempt(s, 0, a, now);
  if (c.permit && a.source_failure) c.permit->failure(now);
  c.permit.reset();
  report_errors(c, s, std::move(a.errors));
}

// Spends `cost` from the source's budget: the shared one (cluster mode) while it answers, which
// also knows a pause another instance was told about; else the local one.
bool feed_runner::take_budget(run_ctx& c, source_runtime& s, double cost, int64_t now) {
  if (s.shared) {
    auto v = s.shared->take(s.name, s.budget->windows(), cost, now);
    using kind = shared_limits::verdict::kind;
    if (v.result == kind::ok) return true;
    if (v.result == kind::paused) {
      s.pause_until(now + v.wait_ms);
      c.out.skipped.push_back(s.name + ": paused for " + std::to_string(v.wait_ms) + "ms after a rate limit (shared)");
      metrics_.add("tributary_rate_limit_skips_total", {{"source", s.name}, {"reason", "retry_after"}});
      return false;
    }
    if (v.result == kind::budget_spent) {
      c.out.skipped.push_back(s.name + ": rate budget spent (shared; next in " + std::to_string(v.wait_ms) + "ms)");
      metrics_.add("tributary_rate_limit_skips_total", {{"source", s.name}, {"reason", "budget"}});
      return false;
    }
  }
  if (s.budget->try_take(cost, now)) return true;
  c.out.skipped.push_back(s.name + ": rate budget spent (needs " + std::to_string(cost) + ", next in " +
                          std::to_string(s.budget->wait_ms(cost, now)) + "ms)");
  metrics_.add("tributary_rate_limit_skips_total", {{"source", s.name}, {"reason", "budget"}});
  return false;
}

// Moves on from `s`. A retry that never happened still reports its source's last errors and
// counts that failure against the circuit.
void feed_runner::next_source(run_ctx& c, source_runtime& s) {
  if (!c.pending_errors.empty()) {
    if (c.permit) c.permit->failure(clock_.now_ms());
    report_errors(c, s, std::exchange(c.pending_errors, {}));
  }
  c.permit.reset();
  c.attempt = 0;
  c.retrying = false;
  ++c.idx;
}

void feed_runner::send(std::shared_ptr<run_ctx> c, source_runtime* s, std::vector<http_request> requests) {
  // Gather every response of this source, then parse them together.
  struct gather {
    std::mutex mu;
    std::vector<http_response> resps;
    size_t left;
  };
  auto g = std::make_shared<gather>();
  g->resps.resize(requests.size());
  g->left = requests.size();
  auto reqs = std::make_shared<const std::vector<http_request>>(std::move(requests));
  for (size_t i = 0; i < reqs->size(); ++i) {
    http_.send((*reqs)[i], [this, c, s, g, i, reqs](http_response resp) {
      bool last;
      {
        std::lock_guard lk(g->mu);
        g->resps[i] = std::move(resp);
        last = --g->left == 0;
      }
      if (last) on_responses(c, s, *reqs, std::move(g->resps));
    });
  }
}



feed_runner::attempt_result feed_runner::collect(const run_ctx& c, source_runtime& s, const std::vector<http_request>& reqs,
                                                 const std::vector<http_response>& resps) {
  attempt_result a;
  auto fr = request_for(c, s);
  auto about_a_subject = [&](const fetch_error& e) {
    return std::any_of(fr.subjects.begin(), fr.subjects.end(), [&](auto& sub) { return sub.first == e.subject; });
  };
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& resp = resps[i];
    if (resp.status == 0) {
      bool miss = resp.error.rfind(no_cassette_error, 0) == 0;
      a.errors.push_back({miss ? error_class::internal : error_class::retryable, resp.error, reqs[i].tag, 0});
      a.source_failure = true;
      metrics_.add("tributary_fetches_total", {{"source", s.name}, {"outcome", "transport_error"}});
      continue;
    }
    metrics_.add("tributary_fetches_total", {{"source", s.name}, {"outcome", std::to_string(resp.status / 100) + "xx"}});
    apply_budget_header(s, resp);
    auto parsed = s.plugin->parse(fr, reqs[i], resp);
    out_.contract_problems(s.name, parsed.problems);
    for (auto& r : parsed.records) a.records.push_back({std::move(r), resp.received_ms});
    for (auto& e : parsed.errors) {
      a.source_failure |= counts_against_source(e, about_a_subject(e));
      a.errors.push_back(std::move(e));
    }
  }
  return a;
}

// The provider's own count of the budget, in the header its manifest names, corrects ours.
void feed_runner::apply_budget_header(source_runtime& s, const http_response& resp) {
  const auto& bh = s.plugin->manifest().budget_header;
  if (bh.name.empty()) return;
  for (const auto& [k, v] : resp.headers) {
    if (k.size() != bh.name.size() ||
        !std::equal(k.begin(), k.end(), bh.name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      continue;
    double n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || n < 0) return;
    const auto& windows = s.budget->windows();
    if (bh.window >= windows.size()) return;
    double remaining = bh.counts_used ? windows[bh.window].requests - n : n;
    int64_t now = clock_.now_ms();
    s.budget->correct(bh.window, remaining, now);
    if (s.shared) s.shared->correct(s.name, windows, bh.window, remaining, now);
    return;
  }
}

void feed_runner::on_responses(std::shared_ptr<run_ctx> c, source_runtime* s, const std::vector<http_request>& reqs,
                               std::vector<http_response> resps) {
  auto a = collect(*c, *s, reqs, resps);
  int64_t now = clock_.now_ms();
  record_attempt(*s, reqs.size(), a, now);
  if (schedule_retry(c, *s, a, now)) return;
  c->pending_errors.clear();
  if (c->permit) {
    if (!a.records.empty()) c->permit->success();
    else if (a.source_failure) c->permit->failure(now);
  }
  report_errors(*c, *s, std::move(a.errors));
  for (auto& [r, received] : a.records) {
    auto it = std::find(c->remaining.begin(), c->remaining.end(), r.subject);
    if (it == c->remaining.end()) continue;  // a duplicate within one answer
    c->remaining.erase(it);
    if (auto p = out_.publish(std::move(r), {s->name, c->feed->cfg.id, received, {}})) c->out.published.push_back(std::move(p));
  }
  if (!a.records.empty()) c->out.served_by.push_back(s->name);
  next_source(*c, *s);
  try_next(std::move(c));
}

void feed_runner::record_attempt(source_runtime& s, size_t requests, const attempt_result& a, int64_t now) {
  std::lock_guard lk(s.mu);
  s.requests += requests;
  if (!a.records.empty()) s.last_success = now;
  if (!a.errors.empty()) {
    s.failures += 1;
    s.last_error_at = now;
    s.last_error_class = std::string(name_of(a.errors.front().cls));
    s.last_error = a.errors.front().message;
  }
}

// A whole answer lost to a transient failure is retried, with backoff, while the feed's
// deadline allows; the retry keeps the breaker's permission.
bool feed_runner::schedule_retry(const std::shared_ptr<run_ctx>& c, source_runtime& s, attempt_result& a, int64_t now) {
  bool transient = a.records.empty() && !a.errors.empty() &&
                   std::all_of(a.errors.begin(), a.errors.end(), [](auto& e) { return e.cls == error_class::retryable; });
  if (!transient || c->attempt >= s.retries) return false;
  int64_t delay = backoff(s, c->attempt + 1);
  if (now + delay >= c->deadline) return false;
  ++c->attempt;
  c->retrying = true;
  c->pending_errors = std::move(a.errors);
  metrics_.add("tributary_retries_total", {{"source", s.name}});
  log_->debug("feed {}: retrying {} in {}ms ({}): {}", c->feed->cfg.id, s.name, delay, c->attempt,
              c->pending_errors.front().message);
  timers_.schedule(now + delay, [this, c] { try_next(c); });
  return true;
}

void feed_runner::report_errors(run_ctx& c, source_runtime& s, std::vector<fetch_error> errors) {
  int64_t now = clock_.now_ms();
  for (auto& e : errors) {
    metrics_.add("tributary_fetch_errors_total", {{"source", s.name}, {"class", std::string(name_of(e.cls))}});
    if (e.cls == error_class::rate_limited) {
      int64_t pause = e.retry_after_ms > 0 ? e.retry_after_ms : c.feed->cfg.every.count();
      s.pause_until(now + pause);
      if (s.shared) s.shared->pause(s.name, pause);  // so the next leader honours it too
      log_->warn("source {} is rate limited; pausing it for {}ms", s.name, pause);
      e.message += " (" + s.name + " paused for " + std::to_string(pause) + "ms)";
    }
    e.message = s.name + ": " + e.message;
    c.out.errors.push_back(std::move(e));
  }
}

void feed_runner::finish(std::shared_ptr<run_ctx> c) {
  auto& feed = *c->feed;
  c->out.unserved = c->remaining;
  std::vector<std::string> stale;  // unserved topics that keep a last good record
  for (auto& subj : c->remaining) {
    std::string topic = feed.cfg.kind + "." + subj;
    if (auto p = out_.mark_stale(topic)) c->out.published.push_back(p);
    if (out_.out().has(topic)) stale.push_back(topic);
  }
  int64_t now = clock_.now_ms();
  bool was_failing;
  {
    std::lock_guard lk(feed.mu);
    feed.runs++;
    feed.last_run = now;
    feed.last_skipped = c->out.skipped;
    feed.stale_topics = stale;
    feed.unserved = c->remaining;
    if (!c->out.served_by.empty()) {
      feed.last_success = now;
      feed.last_source = c->out.served_by.back();
    }
    feed.last_error = c->out.errors.empty() ? "" : c->out.errors.back().str();
    was_failing = feed.failing;
    feed.failing = !c->remaining.empty();
  }
  // Log changes of state, not every failed run of a feed that stays down.
  if (!c->remaining.empty()) {
    std::string why = c->out.errors.empty() ? "no source could run" : c->out.errors.back().str();
    auto lvl = was_failing ? spdlog::level::debug : spdlog::level::warn;
    log_->log(lvl, "feed {}: {} subject(s) not served ({}); {} kept as stale", feed.cfg.id, c->remaining.size(), why,
              stale.size());
  } else if (was_failing) {
    log_->info("feed {}: every subject served again", feed.cfg.id);
  }
  auto done = std::move(c->done);
  done(std::move(c->out));
}

// ---------------------------------------------------------------- scheduler

scheduler::scheduler(feed_runner& runner, const clock_source& clock, timer_queue& timers, std::vector<feed_runtime*> feeds,
                     uint64_t seed)
    : runner_(runner), clock_(clock), timers_(timers), feeds_(std::move(feeds)), rng_(seed) {
  int64_t now = clock_.now_ms();
  for (auto* f : feeds_)  // a feed kept across a reload keeps its schedule
    if (f->next_due == 0) f->next_due = f->next_run(now, /*first=*/true) + jitter(*f);
}

scheduler::~scheduler() { stop(); }

int64_t scheduler::jitter(const feed_runtime& f) {
  auto j = f.cfg.jitter.count();
  if (j <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, j)(rng_);
}

void scheduler::tick() {
  int64_t now = clock_.now_ms();
  timers_.run_due(now);
  if (gate_ && !gate_()) return;
  for (auto* f : feeds_) {
    if (f->sources.empty() || !f->polled_now()) continue;
    if (now >= f->next_due) run_due(*f, now);
    else if (!f->paused && !f->running) start_run(*f, f->new_subjects(now));  // demand that just arrived
  }
}

void scheduler::run_due(feed_runtime& f, int64_t now) {
  if (f.paused && !f.run_once.exchange(false)) return;
  f.run_once = false;
  {
    std::lock_guard lk(mu_);
    f.adapt(now);
    f.next_due = f.next_run(now, /*first=*/false) + jitter(f);
  }
  if (f.running) return;  // previous run still going
  start_run(f, f.due_subjects(now));
}

// Nothing to ask for (demand: nobody wants any subject) makes no run.
void scheduler::start_run(feed_runtime& f, std::vector<std::string> subjects) {
  if (subjects.empty()) return;
  bool expected = false;
  if (!f.running.compare_exchange_strong(expected, true)) return;
  runner_.run(f, std::move(subjects), [&f](run_outcome) { f.running = false; });
}

void scheduler::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void scheduler::run_now(feed_runtime& f) {
  {
    std::lock_guard lk(mu_);
    f.next_due = 0;
    f.run_once = true;
  }
  cv_.notify_all();
}

int64_t scheduler::next_due() const {
  std::lock_guard lk(mu_);
  int64_t best = INT64_MAX;
  for (auto* f : feeds_)
    if (!f->sources.empty() && f->polled_now()) best = std::min(best, f->next_due);  // a stream that is up is not polled
  return best;
}

void scheduler::start() {
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stop_) {
      lk.unlock();
      tick();
      int64_t wait = std::clamp<int64_t>(std::min(next_due(), timers_.next_due()) - clock_.now_ms(), 1, 1000);
      lk.lock();
      cv_.wait_for(lk, std::chrono::milliseconds(wait), [this] { return stop_ || woken_; });
      woken_ = false;
    }
  });
  name_thread(thread_, "scheduler");
}

void scheduler::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tributary
