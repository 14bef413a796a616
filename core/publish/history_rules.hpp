#pragma once
// How much history each topic keeps ([[server.history]], docs/configuration.md): the first
// rule whose patterns match a topic decides its size and age; a topic no rule matches keeps the
// defaults ([server] history, history_age). Immutable once made; shared by the in-memory
// history and, in cluster mode, the stream writer (which keeps the same in Redis).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "util/duration.hpp"

namespace tributary {

struct history_rule {
  std::vector<std::string> topics;  // patterns; empty for the default
  size_t size = 256;                // updates kept per topic; 0 keeps none
  millis ttl{600000};
  bool operator==(const history_rule&) const = default;
};

// The Redis stream holding a topic's history in cluster mode: "tributary:{name}:history:{topic}"
// for a prefix "tributary:{name}:".
inline std::string history_stream_key(const std::string& prefix, std::string_view topic) {
  return prefix + "history:" + std::string(topic);
}

class history_rules {
 public:
  history_rules() = default;
  history_rules(std::vector<history_rule> rules, history_rule fallback);
  // The rule of `topic`: the first that matches, else the default.
  const history_rule& rule_for(std::string_view topic) const;
  const history_rule& fallback() const { return fallback_; }
  const std::vector<history_rule>& rules() const { return rules_; }
  // The largest size of any rule (bounds what a loader reads).
  size_t largest() const;

 private:
  std::vector<history_rule> rules_;
  history_rule fallback_;
};

}  // namespace tributary
