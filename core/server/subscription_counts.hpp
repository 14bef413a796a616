#pragma once
// Sessions per topic pattern and per client protocol, server-wide, for GET /api/v1/subscriptions
// (admin). Kept as sessions subscribe, unsubscribe and close (a difference at a time), never by
// scanning sessions; subscriptions change per client message, not per record, so one mutex is
// enough.
#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tributary {

enum class client_protocol : uint8_t { websocket, sse, centrifugo, dialect };
inline constexpr std::array<const char*, 4> client_protocol_names{"websocket", "sse", "centrifugo", "dialect"};

class subscription_counts {
 public:
  // Told, under the lock (so in order), when a pattern is first held and when no session
  // holds it any more. Set before any session exists.
  void on_pattern(std::function<void(const std::string&, bool present)> f) { on_pattern_ = std::move(f); }
  // `had` -> `has`: the patterns one session asked for before and now.
  void change(client_protocol p, const std::vector<std::string>& had, const std::vector<std::string>& has) {
    std::lock_guard lk(mu_);
    for (auto& pattern : had)
      if (std::find(has.begin(), has.end(), pattern) == has.end()) dec(pattern, p);
    for (auto& pattern : has)
      if (std::find(had.begin(), had.end(), pattern) == had.end()) inc(pattern, p);
  }
  // {"patterns": [{"pattern", "sessions", "by_protocol": {"websocket": n}}...]}, sorted by pattern.
  nlohmann::json to_json() const {
    std::lock_guard lk(mu_);
    auto list = nlohmann::json::array();
    for (auto& [pattern, by] : counts_) {
      nlohmann::json protocols = nlohmann::json::object();
      size_t total = 0;
      for (size_t i = 0; i < by.size(); ++i)
        if (by[i]) protocols[client_protocol_names[i]] = by[i], total += by[i];
      list.push_back({{"pattern", pattern}, {"sessions", total}, {"by_protocol", protocols}});
    }
    return {{"patterns", list}};
  }

 private:
  void inc(const std::string& pattern, client_protocol p) {
    auto [it, fresh] = counts_.try_emplace(pattern);
    it->second[static_cast<size_t>(p)]++;
    if (fresh && on_pattern_) on_pattern_(pattern, true);
  }
  void dec(const std::string& pattern, client_protocol p) {
    auto it = counts_.find(pattern);
    if (it == counts_.end()) return;
    auto& n = it->second[static_cast<size_t>(p)];
    if (n) --n;
    bool empty = true;
    for (auto v : it->second) empty &= v == 0;
    if (!empty) return;
    counts_.erase(it);
    if (on_pattern_) on_pattern_(pattern, false);
  }

  mutable std::mutex mu_;
  std::map<std::string, std::array<size_t, client_protocol_names.size()>> counts_;
  std::function<void(const std::string&, bool)> on_pattern_;
};

}  // namespace tributary
