#include "app/request_plan.hpp"

#include <cmath>
#include <cstdio>
#include <map>

#include "ingest/runtime.hpp"
#include "util/duration.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {

constexpr int64_t day_ms = 86'400'000;

// How many times a feed runs in `span` ms: span / every, or its schedule's runs over a day,
// scaled.
double runs_in(const feed_config& f, int64_t span) {
  if (f.schedule) {
    int64_t start = 1'767'225'600'000, t = start;  // 2026-01-01T00:00Z: any day would do
    int count = 0;
    while (count < 100'000) {
      auto next = f.schedule->next_after(t);
      if (!next || *next >= start + day_ms) break;
      t = *next;
      ++count;
    }
    return static_cast<double>(count) * static_cast<double>(span) / day_ms;
  }
  return f.every.count() > 0 ? static_cast<double>(span) / static_cast<double>(f.every.count()) : 0;
}

// The weight one run of `f` asks of `s`, from the plugin's own plan; nullopt when it refuses.
std::optional<double> weight_per_run(feed_runtime& f, source_runtime& s, std::vector<std::string>& problems) {
  auto subjects = f.subjects.find(s.name);
  if (subjects == f.subjects.end() || subjects->second.empty()) return std::nullopt;
  auto planned = s.plugin->plan({f.cfg.id, f.cfg.kind, subjects->second});
  if (planned.status != 0 || planned.requests.empty()) {
    problems.push_back("feed " + f.cfg.id + ", source " + s.name + ": no plan (" +
                       (planned.errors.empty() ? std::string("no request") : planned.errors.front().str()) + ")");
    return std::nullopt;
  }
  double w = 0;
  for (auto& r : planned.requests) w += r.weight;
  return w;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(v - std::round(v)) < 0.05 ? "%.0f" : "%.1f", v);
  return buf;
}

// One source's windows, with the shares of every feed that asks of it.
void plan_source(source_runtime& s, const std::vector<std::shared_ptr<feed_runtime>>& feeds, request_plan& out) {
  struct user {
    feed_runtime* feed;
    bool primary;
    double weight;
  };
  std::vector<user> users;
  for (auto& f : feeds)
    for (size_t k = 0; k < f->sources.size(); ++k) {
      if (f->sources[k] != &s || (f->cfg.stream && k == 0)) continue;  // a stream's own source is pushed to
      if (auto w = weight_per_run(*f, s, out.problems)) users.push_back({f.get(), k == 0 && !f->cfg.stream, *w});
    }
  if (users.empty() || !s.budget) return;
  const auto& documented = s.plugin->manifest().default_rate_limit;
  for (const auto& w : s.budget->windows()) {
    plan_window pw{s.name, format_duration(w.per), w.requests, 0, 0, 0, 0, {}};
    if (documented.per.count() > 0) pw.documented = documented.requests * static_cast<double>(w.per.count()) / documented.per.count();
    for (auto& u : users) {
      plan_share sh{u.feed->cfg.id, u.feed->cfg.where, u.primary, runs_in(u.feed->cfg, w.per.count()), u.weight, 1 + s.retries};
      double once = sh.runs * sh.weight_per_run, all = once * sh.attempts;
      pw.best += sh.primary ? once : 0;
      pw.worst += all;
      pw.primary_worst += sh.primary ? all : 0;
      pw.shares.push_back(std::move(sh));
    }
    out.windows.push_back(std::move(pw));
  }
}

std::string share_text(const plan_share& s) {
  return s.feed + " (" + (s.primary ? "primary" : "fallback") + ": " + number(s.runs) + " runs x " + number(s.weight_per_run) +
         (s.attempts > 1 ? " x up to " + std::to_string(s.attempts) + " attempts" : "") + ")";
}

}  // namespace

request_plan make_request_plan(const std::vector<std::shared_ptr<feed_runtime>>& feeds,
                               const std::vector<std::shared_ptr<source_runtime>>& sources) {
  request_plan plan;
  for (auto& s : sources) plan_source(*s, feeds, plan);
  return plan;
}

json request_plan::to_json() const {
  json out = json::array();
  for (auto& w : windows) {
    json shares = json::array();
    for (auto& s : w.shares)
      shares.push_back({{"feed", s.feed}, {"role", s.primary ? "primary" : "fallback"}, {"runs", s.runs},
                        {"weight_per_run", s.weight_per_run}, {"attempts", s.attempts}});
    out.push_back({{"source", w.source}, {"window", w.per}, {"budget", w.budget},
                   {"documented", w.documented > 0 ? json(w.documented) : json(nullptr)}, {"best", w.best}, {"worst", w.worst},
                   {"over", w.over_primary() ? "primary" : w.over_worst() ? "fallback" : json(nullptr)}, {"feeds", shares}});
  }
  return {{"scope", "cluster"}, {"windows", out}, {"problems", problems}};
}

std::string request_plan::table() const {
  std::string out = "request plan (per cluster: only the leader fetches), request weight per rate_limit window:\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-16s %-7s %10s %10s %10s %10s  %s\n", "source", "window", "budget", "documented", "best", "worst", "feeds");
  out += line;
  for (auto& w : windows) {
    std::string feeds;
    for (auto& s : w.shares) feeds += (feeds.empty() ? "" : ", ") + share_text(s);
    std::snprintf(line, sizeof line, "  %-16s %-7s %10s %10s %10s %10s  ", w.source.c_str(), w.per.c_str(), number(w.budget).c_str(),
                  w.documented > 0 ? number(w.documented).c_str() : "-", number(w.best).c_str(), number(w.worst).c_str());
    out += line + feeds + (w.over_primary() ? "  OVER" : w.over_worst() ? "  over if fallbacks run" : "") + "\n";
  }
  for (auto& p : problems) out += "  (" + p + ")\n";
  return out;
}

void report_overspending(const request_plan& plan, std::vector<diagnostic>& diags) {
  for (auto& w : plan.windows) {
    if (!w.over_worst()) continue;
    bool primary = w.over_primary();
    for (auto& s : w.shares) {
      if (s.primary != primary) continue;
      std::string msg = "source '" + w.source + "' may spend " + number(primary ? w.primary_worst : w.worst) + " of its " + number(w.budget) +
                        " per " + w.per + " (worst case, every retry" + (primary ? "" : ", every fallback run") + "): " + share_text(s) +
                        "; run it less often, or give the source a larger rate_limit if the provider allows it";
      diags.push_back({primary ? diagnostic::level::error : diagnostic::level::warning, s.where, "feeds." + s.feed, msg});
    }
  }
}

}  // namespace tributary
