#include "publish/history_rules.hpp"

#include <algorithm>

#include "record/topic.hpp"

namespace tributary {

history_rules::history_rules(std::vector<history_rule> rules, history_rule fallback)
    : rules_(std::move(rules)), fallback_(std::move(fallback)) {}

const history_rule& history_rules::rule_for(std::string_view topic) const {
  for (const auto& r : rules_)
    if (std::any_of(r.topics.begin(), r.topics.end(), [&](const std::string& p) { return topic_matches(p, topic); })) return r;
  return fallback_;
}

size_t history_rules::largest() const {
  size_t n = fallback_.size;
  for (const auto& r : rules_) n = std::max(n, r.size);
  return n;
}

}  // namespace tributary
