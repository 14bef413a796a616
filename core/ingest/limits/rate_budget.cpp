#include "ingest/limits/rate_budget.hpp"

#include <algorithm>

#include "util/duration.hpp"

namespace tributary {

rate_budget::rate_budget(const std::vector<rate_limit_config>& windows, int64_t now_ms) : configs_(windows) {
  for (const auto& w : windows)
    windows_.push_back({w, std::make_unique<token_bucket>(w.requests, w.per.count(), w.burst, now_ms)});
}

bool rate_budget::try_take(double cost, int64_t now_ms) {
  std::lock_guard lk(mu_);
  for (auto& w : windows_)
    if (w.bucket->wait_ms(cost, now_ms) > 0) return false;
  for (auto& w : windows_) w.bucket->try_take(cost, now_ms);
  auto& m = spent_[static_cast<size_t>(now_ms / 60000) % spent_.size()];
  if (m.index != now_ms / 60000) m = {now_ms / 60000, 0};
  m.spent += cost;
  if (first_spend_ < 0) first_spend_ = now_ms;
  return true;
}

// The rate over the minutes kept (the last hour, or since the first spend), over at least a minute.
double rate_budget::spent_per_ms(int64_t now_ms) const {
  if (first_spend_ < 0) return 0;
  int64_t this_minute = now_ms / 60000;
  double sum = 0;
  for (const auto& m : spent_)
    if (m.index > this_minute - static_cast<int64_t>(spent_.size()) && m.index <= this_minute) sum += m.spent;
  int64_t since = std::max(first_spend_, (this_minute - static_cast<int64_t>(spent_.size()) + 1) * 60000);  // the oldest minute counted
  return sum / static_cast<double>(std::max<int64_t>(now_ms - since, 60000));
}

nlohmann::json rate_budget::forecast(int64_t now_ms) {
  std::lock_guard lk(mu_);
  auto out = nlohmann::json::array();
  double rate = spent_per_ms(now_ms);
  for (auto& w : windows_) {
    double refill = w.cfg.per.count() > 0 ? w.cfg.requests / static_cast<double>(w.cfg.per.count()) : 0;
    double net = rate - refill;
    if (net <= 0) out.push_back(nullptr);
    else out.push_back(now_ms + static_cast<int64_t>(w.bucket->available(now_ms) / net));
  }
  return out;
}

double rate_budget::stretch(double cost_per_run, int64_t every_ms, int64_t now_ms) {
  std::lock_guard lk(mu_);
  double most = 1;
  if (cost_per_run <= 0 || every_ms <= 0) return most;
  for (auto& w : windows_) {
    double per = static_cast<double>(w.cfg.per.count());
    double affordable = (w.bucket->available(now_ms) + w.cfg.requests) / per;  // weight per ms over the next period
    if (affordable > 0) most = std::max(most, cost_per_run / affordable / static_cast<double>(every_ms));
  }
  return most;
}

std::vector<double> rate_budget::remaining(int64_t now_ms) {
  std::lock_guard lk(mu_);
  std::vector<double> out;
  for (auto& w : windows_) out.push_back(w.bucket->available(now_ms));
  return out;
}

int64_t rate_budget::wait_ms(double cost, int64_t now_ms) {
  std::lock_guard lk(mu_);
  int64_t longest = 0;
  for (auto& w : windows_) longest = std::max(longest, w.bucket->wait_ms(cost, now_ms));
  return longest;
}

double rate_budget::available(int64_t now_ms) {
  std::lock_guard lk(mu_);
  double least = windows_.empty() ? 0 : windows_[0].bucket->available(now_ms);
  for (auto& w : windows_) least = std::min(least, w.bucket->available(now_ms));
  return least;
}

void rate_budget::correct(size_t i, double remaining, int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (i < windows_.size()) windows_[i].bucket->cap(remaining, now_ms);
}

nlohmann::json rate_budget::status(int64_t now_ms) {
  std::lock_guard lk(mu_);
  auto all = nlohmann::json::array();
  for (auto& w : windows_)
    all.push_back({{"available", w.bucket->available(now_ms)},
                   {"burst", w.cfg.burst},
                   {"requests", w.cfg.requests},
                   {"per", format_duration(w.cfg.per)}});
  if (all.empty()) return nlohmann::json::object();
  auto j = all[0];
  j["windows"] = all;
  return j;
}

}  // namespace tributary
