#pragma once
// Per-topic entries found by a publication's topic id, without comparing names (a topic name
// past the short-string size is a cold heap line per look-up). A slot remembers which broker's
// topic table gave the id (published_record::table), so a record numbered by another table (a
// test's second broker) or by none (table 0: made outside a broker) is not mistaken for the
// slot's topic: the caller looks it up by name, and remembers what it found.
#include <cstdint>
#include <vector>

#include "publish/published.hpp"

namespace tributary {

template <class Entry>
class by_topic_id {
 public:
  Entry* find(const published_record& r) const {
    if (r.table == 0 || r.topic_id >= slots_.size()) return nullptr;
    const slot& s = slots_[r.topic_id];
    return s.table == r.table ? s.entry : nullptr;
  }
  // `e` (which must outlive the index, or be forgotten) is the entry of `r`'s topic.
  void remember(const published_record& r, Entry* e) {
    if (r.table == 0) return;
    if (r.topic_id >= slots_.size()) slots_.resize(r.topic_id + 1);  // a new topic: the only time this allocates
    slots_[r.topic_id] = {e, r.table};
  }

 private:
  struct slot {
    Entry* entry = nullptr;
    uint32_t table = 0;
  };
  std::vector<slot> slots_;
};

}  // namespace tributary
