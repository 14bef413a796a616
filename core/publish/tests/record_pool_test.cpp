// The pool of published records: a thread takes back the record it freed last (no lock, and its
// lines are warm), and what a thread holds when it ends goes to the shared list, not lost.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "publish/published.hpp"

using namespace tributary;

TEST(RecordPool, AThreadTakesBackTheRecordItFreedClearedWithItsRoom) {
  auto p = published_record::acquire();
  const published_record* at = p.get();
  p->json.assign(5000, 'j');
  p->rec.subject = "user.42.orders";
  p->rec.seq = 7;
  p->topic_id = 3;
  p.reset();
  auto q = published_record::acquire();
  EXPECT_EQ(q.get(), at);
  EXPECT_TRUE(q->json.empty());
  EXPECT_GE(q->json.capacity(), 5000u);
  EXPECT_EQ(q->rec.seq, 0u);
  EXPECT_EQ(q->topic_id, 0u);
}

TEST(RecordPool, WhatAThreadHoldsAtItsEndGoesToTheSharedList) {
  constexpr size_t kRoom = 9000;  // a new record has less; a deleted one would come back without it
  std::thread([&] {
    std::vector<std::shared_ptr<published_record>> made;
    for (int i = 0; i < 3; ++i) {
      made.push_back(published_record::acquire());
      made.back()->frame = std::string(kRoom, 'f');  // exactly that room (assign could double an old one)
    }
  }).join();  // freed on that thread, into its own few; at its end, into the shared list
  std::thread([&] {
    std::vector<std::shared_ptr<published_record>> held;  // none freed here before the last is taken
    for (int i = 0; i < 3; ++i) {
      held.push_back(published_record::acquire());
      EXPECT_GE(held.back()->frame.capacity(), kRoom) << "record " << i << " came from the heap, not from the ended thread";
    }
  }).join();
}

TEST(RecordPool, ARecordFreedAfterTheThreadsOwnFewAreGoneStillReachesTheSharedList) {
  constexpr size_t kRoom = 11000;
  struct holder {
    std::shared_ptr<published_record> p;
  };
  std::thread([&] {
    thread_local holder h;  // made before the pool's per-thread few, so destroyed after them
    h.p = published_record::acquire();
    h.p->frame = std::string(kRoom, 'f');
  }).join();
  std::thread([&] {
    auto p = published_record::acquire();
    EXPECT_EQ(p->frame.capacity(), kRoom) << "the record freed at the thread's end was lost";
  }).join();
}
