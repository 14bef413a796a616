// The pool of published records: the record freed last is the next one taken, cleared with its
// strings' room, and records freed on one thread are taken on another (a record is made on the
// publishing thread and may be freed on an I/O thread).
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

TEST(RecordPool, RecordsFreedOnOneThreadAreTakenOnAnother) {
  constexpr size_t kRoom = 9000;  // a new record has less; a deleted one would come back without it
  std::thread([&] {
    std::vector<std::shared_ptr<published_record>> made;
    for (int i = 0; i < 3; ++i) {
      made.push_back(published_record::acquire());
      made.back()->frame = std::string(kRoom, 'f');  // exactly that room (assign could double an old one)
    }
  }).join();  // freed on that thread, at its end
  std::thread([&] {
    std::vector<std::shared_ptr<published_record>> held;  // none freed here before the last is taken
    for (int i = 0; i < 3; ++i) {
      held.push_back(published_record::acquire());
      EXPECT_GE(held.back()->frame.capacity(), kRoom) << "record " << i << " came from the heap, not from the other thread";
    }
  }).join();
}

