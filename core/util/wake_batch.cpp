#include "util/wake_batch.hpp"

#include <utility>
#include <vector>

namespace tributary {

namespace {
struct deferred {
  int depth = 0;
  std::vector<std::pair<wake_batch::waker, void*>> wakes;  // keeps its room: no allocation per batch
};
thread_local deferred here;
}  // namespace

wake_batch::wake_batch() { ++here.depth; }

wake_batch::~wake_batch() {
  if (--here.depth > 0) return;
  for (size_t i = 0; i < here.wakes.size(); ++i) here.wakes[i].first(here.wakes[i].second);
  here.wakes.clear();
}

void wake_batch::wake(waker w, void* ctx) {
  if (here.depth == 0) return w(ctx);
  here.wakes.emplace_back(w, ctx);
}

}  // namespace tributary
