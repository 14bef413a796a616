#include "util/wake_batch.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tributary {
namespace {

void count(void* n) { ++*static_cast<int*>(n); }

TEST(WakeBatch, AWakeRunsAtOnceOutsideABatchAndOnceTheOutermostBatchEnds) {
  int a = 0, b = 0;
  wake_batch::wake(count, &a);
  EXPECT_EQ(a, 1);  // no batch: at once
  {
    wake_batch outer;
    wake_batch::wake(count, &a);
    {
      wake_batch inner;
      wake_batch::wake(count, &b);
    }
    EXPECT_EQ(a, 1);  // the inner batch ending runs nothing
    EXPECT_EQ(b, 0);
  }
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 1);
  {
    wake_batch again;  // what ran before is not run again
  }
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 1);
}

TEST(WakeBatch, ABatchHoldsOnlyItsOwnThreadsWakes) {
  int mine = 0, theirs = 0;
  wake_batch held;
  wake_batch::wake(count, &mine);
  std::thread([&] { wake_batch::wake(count, &theirs); }).join();
  EXPECT_EQ(theirs, 1);  // another thread holds no batch: at once
  EXPECT_EQ(mine, 0);
}

}  // namespace
}  // namespace tributary
