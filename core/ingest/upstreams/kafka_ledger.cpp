#include "ingest/upstreams/kafka_ledger.hpp"

#include <algorithm>

namespace tributary {

namespace {
int64_t published_of(const position_map& published, const std::string& key) {
  auto it = published.find(key);
  return it == published.end() ? -1 : it->second;
}
}  // namespace

kafka_ledger::state* kafka_ledger::find(std::string_view topic, int32_t partition) {
  for (auto& s : parts_)
    if (s.partition == partition && s.topic == topic) return &s;
  return nullptr;
}

const kafka_ledger::state* kafka_ledger::find(std::string_view topic, int32_t partition) const {
  return const_cast<kafka_ledger*>(this)->find(topic, partition);
}

void kafka_ledger::assigned(const std::vector<kafka_partition>& parts, const position_map& published) {
  for (auto& p : parts) {
    state* s = find(p.topic, p.partition);
    if (!s) s = &parts_.emplace_back(state{p.topic, p.partition, prefix_ + p.topic + ":" + std::to_string(p.partition)});
    *s = state{s->topic, s->partition, s->key};
    s->skip_through = published_of(published, s->key);
  }
}

void kafka_ledger::revoked(const std::vector<kafka_partition>& parts) {
  std::erase_if(parts_, [&](const state& s) {
    return std::any_of(parts.begin(), parts.end(), [&](auto& p) { return p.partition == s.partition && p.topic == s.topic; });
  });
}

bool kafka_ledger::published_already(std::string_view topic, int32_t partition, int64_t offset) const {
  auto* s = find(topic, partition);
  return s && offset <= s->skip_through;
}

upstream_position kafka_ledger::position(std::string_view topic, int32_t partition, int64_t offset) const {
  auto* s = find(topic, partition);
  return s ? upstream_position{s->key, offset} : upstream_position{};
}

bool kafka_ledger::pending() const {
  return std::any_of(parts_.begin(), parts_.end(), [](const state& s) { return s.handled >= 0 && s.handled + 1 > s.committed; });
}

void kafka_ledger::handled(std::string_view topic, int32_t partition, int64_t offset, bool recorded) {
  auto* s = find(topic, partition);
  if (!s) return;
  s->handled = std::max(s->handled, offset);
  if (recorded) s->recorded = std::max(s->recorded, offset);
}

std::vector<kafka_commit> kafka_ledger::due(const position_map& published, const std::vector<kafka_partition>* only, bool again) {
  std::vector<kafka_commit> out;
  for (auto& s : parts_) {
    if (only && std::none_of(only->begin(), only->end(), [&](auto& p) { return p.partition == s.partition && p.topic == s.topic; }))
      continue;
    int64_t done = published_of(published, s.key);
    // Everything handled is done once the last recorded message is published; else up to what is.
    int64_t next = s.recorded <= done ? s.handled + 1 : done + 1;
    if (next <= 0 || (next <= s.committed && !again)) continue;
    s.committed = next;
    out.push_back({s.topic, s.partition, next});
  }
  return out;
}

}  // namespace tributary
