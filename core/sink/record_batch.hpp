#pragma once
// The front of a Redis writer's buffer as one batch (the stream writer's fenced script, the
// copy sink's pipelined XADDs), and its written part taken off the buffer afterwards.
#include <memory>
#include <vector>

#include "publish/published.hpp"
#include "util/ring_queue.hpp"

namespace tributary {

using record_buffer = ring_queue<std::shared_ptr<const published_record>>;

// Up to `max` records from `buffer`'s front into `batch` (replaced), stopping once they hold
// `max_bytes` of JSON: one big record still goes alone. The caller holds the buffer's lock.
inline void take_front(const record_buffer& buffer, size_t max, size_t max_bytes,
                       std::vector<std::shared_ptr<const published_record>>& batch) {
  batch.clear();
  for (size_t i = 0, bytes = 0; i < buffer.size() && batch.size() < max && bytes < max_bytes; ++i) {
    batch.push_back(buffer[i]);
    bytes += buffer[i]->json.size();
  }
}

// Takes the first `n` of `batch` off `buffer`'s front, skipping any the buffer dropped
// meanwhile (full: it drops its oldest). The caller holds the buffer's lock.
inline void pop_written(record_buffer& buffer, const std::vector<std::shared_ptr<const published_record>>& batch, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!buffer.empty() && buffer.front() == batch[i]) buffer.pop_front();
}

}  // namespace tributary
