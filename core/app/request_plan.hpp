#pragma once
// What a config's feeds will spend of each source's rate budget at steady state, per window of
// its rate_limit: from the plugins' real plan calls for the configured subjects, every run of
// every feed (`every`, or the runs of its schedule), retries at their worst. A source is a
// feed's primary (it spends on every run) or a fallback (it spends only when the sources
// before it fail): the best case counts primaries without retries, the worst case everything,
// every retry included. In cluster mode only the leader fetches, so this is the plan of the
// whole cluster. `tributary plan`, and the table at the end of `check`.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace tributary {

struct feed_runtime;
struct source_runtime;

struct plan_share {  // one feed's spending on one source
  std::string feed;
  source_pos where;
  bool primary = false;
  double runs = 0;            // per window
  double weight_per_run = 0;  // what its plan asks for, once
  int attempts = 1;           // 1 + retries: the worst case of each run
};

struct plan_window {
  std::string source, per;
  double budget = 0;      // the configured rate_limit's requests per window
  double documented = 0;  // the manifest's default_rate_limit over the same span (0: none)
  double best = 0, worst = 0, primary_worst = 0;
  std::vector<plan_share> shares;
  bool over_primary() const { return primary_worst > budget; }
  bool over_worst() const { return worst > budget; }
};

struct request_plan {
  std::vector<plan_window> windows;
  std::vector<std::string> problems;  // plans that could not be made (a plugin refused)
  nlohmann::json to_json() const;
  std::string table() const;  // for people: one line per source and window
};

request_plan make_request_plan(const std::vector<std::shared_ptr<feed_runtime>>& feeds,
                               const std::vector<std::shared_ptr<source_runtime>>& sources);

// Errors (a primary's worst case over a window) and warnings (a fallback's), at the feeds.
void report_overspending(const request_plan& plan, std::vector<diagnostic>& diags);

}  // namespace tributary
