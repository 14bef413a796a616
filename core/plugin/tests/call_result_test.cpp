// A call result kept across calls (a stream feed's) keeps its records' storage, but only a
// bounded amount of it: a burst must not pin its size for the feed's life.
#include <gtest/gtest.h>

#include "plugin/plugin.hpp"

using namespace tributary;

TEST(CallResult, KeepsASmallRecordsStorageAndGivesItBackCleared) {
  call_result r;
  auto& x = r.next_record();
  x.kind = "event";
  x.subject = "user.42.orders";
  x.data_text.assign(2000, 'a');
  x.seq = 9;
  r.reset();
  EXPECT_TRUE(r.records.empty());
  auto& y = r.next_record();
  EXPECT_GE(y.data_text.capacity(), 2000u);  // the same storage again
  EXPECT_TRUE(y.data_text.empty());
  EXPECT_TRUE(y.kind.empty());
  EXPECT_TRUE(y.subject.empty());
  EXPECT_EQ(y.seq, 0u);
}

TEST(CallResult, DoesNotKeepARecordWithALargeString) {
  call_result r;
  r.next_record().data_text.assign(40 * 1024, 'a');
  r.reset();
  EXPECT_LT(r.next_record().data_text.capacity(), 40u * 1024);
  r.reset();
  r.next_record().native.assign(40 * 1024, 'n');
  r.drop_last_record();  // an unfit record goes the same way
  EXPECT_LT(r.next_record().native.capacity(), 40u * 1024);
}

TEST(CallResult, KeepsAtMost64Records) {
  call_result r;
  for (int i = 0; i < 200; ++i) r.next_record().data_text.assign(1000, 'a');
  r.reset();
  size_t kept = 0;
  for (int i = 0; i < 200; ++i) kept += r.next_record().data_text.capacity() >= 1000;
  EXPECT_EQ(kept, 64u);
}

TEST(CallResult, KeepsNoMoreThanItIsToldTo) {
  call_result r;
  r.keep_at_most(2);
  for (int i = 0; i < 10; ++i) r.next_record().data_text.assign(1000, 'a');
  r.reset();
  size_t kept = 0;
  for (int i = 0; i < 10; ++i) kept += r.next_record().data_text.capacity() >= 1000;
  EXPECT_EQ(kept, 2u);
}
