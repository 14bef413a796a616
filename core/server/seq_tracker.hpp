#pragma once
// The last seq a session has been sent, per topic, so that per topic a client never sees a seq
// twice or going backwards across snapshots, recovery, live updates and resubscribes. A sorted
// flat vector: a session follows few topics, and a look-up allocates nothing.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace tributary {

class seq_tracker {
 public:
  // The entry for `topic`, created at 0; valid until the next call.
  uint64_t& at(uint32_t topic) {
    auto it = std::lower_bound(v_.begin(), v_.end(), topic, [](const auto& e, uint32_t t) { return e.first < t; });
    if (it == v_.end() || it->first != topic) it = v_.insert(it, {topic, 0});
    return it->second;
  }
  size_t size() const { return v_.size(); }

 private:
  std::vector<std::pair<uint32_t, uint64_t>> v_;
};

}  // namespace tributary
