#pragma once
// A source's request-weight budget over one or more windows (CoinMarketCap: 30 a minute and
// 10,000 credits a month): a request goes only when every window allows it, and then spends
// from every window. Time is passed in (ms). Thread-safe.
#include <array>
#include <memory>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "ingest/limits/token_bucket.hpp"

namespace tributary {

class rate_budget {
 public:
  rate_budget(const std::vector<rate_limit_config>& windows, int64_t now_ms);
  bool try_take(double cost, int64_t now_ms);
  int64_t wait_ms(double cost, int64_t now_ms);  // until every window allows `cost`
  double available(int64_t now_ms);              // in the tightest window
  // The first window's figures at the top (as with one window), and every window.
  nlohmann::json status(int64_t now_ms);
  // The provider reports `remaining` in window `i`: lower that window to it if ours is higher.
  void correct(size_t i, double remaining, int64_t now_ms);
  // When each window runs out at the rate spent over the last hour: a time (ms since the
  // epoch) per window, or null where what is spent does not outrun the refill.
  nlohmann::json forecast(int64_t now_ms);
  // How many times `every_ms` runs costing `cost_per_run` must be apart for every window to
  // last: each window may spend what it has left plus one period's refill over its next
  // period. 1 when it lasts at `every_ms`.
  double stretch(double cost_per_run, int64_t every_ms, int64_t now_ms);
  // What is left in each window (for tributary_budget_remaining).
  std::vector<double> remaining(int64_t now_ms);
  const std::vector<rate_limit_config>& windows() const { return configs_; }

 private:
  struct window {
    rate_limit_config cfg;
    std::unique_ptr<token_bucket> bucket;
  };
  // What was spent in each of the last 60 minutes.
  struct minute {
    int64_t index = -1;
    double spent = 0;
  };
  double spent_per_ms(int64_t now_ms) const;
  std::mutex mu_;  // takes from every window as one step
  std::vector<window> windows_;
  std::array<minute, 60> spent_{};
  int64_t first_spend_ = -1;
  std::vector<rate_limit_config> configs_;
};

}  // namespace tributary
