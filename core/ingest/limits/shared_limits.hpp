#pragma once
// Where a source's rate budget and Retry-After pause live when several instances take turns
// fetching (cluster mode, `shared_budget = true`): outside the process, so an instance that
// becomes leader honours what its predecessor spent and was told. The runner asks it instead
// of its local budget, and falls back to the local one while it cannot answer.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace tributary {

class shared_limits {
 public:
  struct verdict {
    enum class kind { ok, budget_spent, paused, unavailable } result;
    int64_t wait_ms = 0;  // until the budget allows it, or the pause ends
  };
  virtual ~shared_limits() = default;
  // Takes `cost` from every window of `source`, unless it is paused or a window is spent.
  virtual verdict take(const std::string& source, const std::vector<rate_limit_config>& windows, double cost,
                       int64_t now_ms) = 0;
  // Records a pause of `pause_ms` for `source` (a longer one already set stays).
  virtual void pause(const std::string& source, int64_t pause_ms) = 0;
  virtual void clear_pause(const std::string& source) = 0;
  // The provider reports `remaining` in window `i`: lower that window to it if it is higher.
  virtual void correct(const std::string& source, const std::vector<rate_limit_config>& windows, size_t i,
                       double remaining, int64_t now_ms) = 0;
};

}  // namespace tributary
