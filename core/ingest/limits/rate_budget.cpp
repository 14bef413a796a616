#include "ingest/limits/rate_budget.hpp"

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
  return true;
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
