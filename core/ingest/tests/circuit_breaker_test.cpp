#include <gtest/gtest.h>

#include "ingest/limits/circuit_breaker.hpp"

using tributary::circuit_breaker;
using S = circuit_breaker::state;

TEST(CircuitBreaker, OpensAfterThresholdHalfOpensAfterCooldownAndCloses) {
  std::vector<std::pair<S, S>> moves;
  circuit_breaker b(3, 1000, [&](S from, S to) { moves.emplace_back(from, to); });
  EXPECT_TRUE(b.allow(0));
  b.failure(0);
  b.failure(0);
  b.success();  // a success resets the count
  b.failure(0);
  b.failure(0);
  EXPECT_EQ(b.current(), S::closed);
  b.failure(10);
  EXPECT_EQ(b.current(), S::open);
  EXPECT_FALSE(b.allow(500));
  EXPECT_EQ(b.retry_at(), 1010);
  EXPECT_TRUE(b.allow(1010));   // the one trial
  EXPECT_EQ(b.current(), S::half_open);
  EXPECT_FALSE(b.allow(1011));  // no second trial while one is out
  b.failure(1100);              // the trial failed: open again, for a full cooldown
  EXPECT_EQ(b.current(), S::open);
  EXPECT_FALSE(b.allow(2000));
  EXPECT_TRUE(b.allow(2100));
  b.success();
  EXPECT_EQ(b.current(), S::closed);
  EXPECT_EQ(moves, (std::vector<std::pair<S, S>>{{S::closed, S::open}, {S::open, S::half_open}, {S::half_open, S::open},
                                                {S::open, S::half_open}, {S::half_open, S::closed}}));
}

TEST(CircuitBreaker, ReleaseGivesBackTheTrialWithoutJudging) {
  circuit_breaker b(1, 100);
  b.failure(0);
  EXPECT_TRUE(b.allow(100));
  b.release();
  EXPECT_EQ(b.current(), S::half_open);
  EXPECT_TRUE(b.allow(101));
}

TEST(CircuitBreaker, APermitDroppedWithoutAVerdictGivesTheTrialBack) {
  circuit_breaker b(1, 100);
  b.failure(0);
  {
    auto trial = b.acquire(100);
    ASSERT_TRUE(trial);
    EXPECT_EQ(b.current(), S::half_open);
    EXPECT_FALSE(b.acquire(101));  // one trial at a time
  }                                // skipped, abandoned: no verdict
  auto again = b.acquire(102);
  ASSERT_TRUE(again);
  again->success();
  EXPECT_EQ(b.current(), S::closed);
}

TEST(CircuitBreaker, APermitTakenWhileClosedDoesNotGiveBackSomeoneElsesTrial) {
  circuit_breaker b(1, 100);
  auto early = b.acquire(0);  // closed: no trial held
  ASSERT_TRUE(early);
  b.failure(1);  // another run's failure opens the circuit
  auto trial = b.acquire(200);
  ASSERT_TRUE(trial);
  early.reset();                  // the early permit is dropped...
  EXPECT_FALSE(b.acquire(201));  // ...and the trial is still out
  trial->failure(202);
  EXPECT_EQ(b.current(), S::open);
}
