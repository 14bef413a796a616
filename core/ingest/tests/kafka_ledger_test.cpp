// What a Kafka source commits and skips (kafka_ledger): commits follow what is published for
// good, never what is only handed over; positions published before an assignment are skipped.
#include <gtest/gtest.h>

#include "ingest/upstreams/kafka_ledger.hpp"

namespace tributary {
namespace {

const std::vector<kafka_partition> kBoth{{"orders", 0}, {"orders", 1}};

int64_t next_of(const std::vector<kafka_commit>& c, int32_t partition) {
  for (auto& x : c)
    if (x.partition == partition) return x.next_offset;
  return -1;
}

TEST(KafkaLedger, CommitsOnlyWhatIsPublishedForGood) {
  kafka_ledger l("g");
  l.assigned(kBoth, {});
  EXPECT_EQ(l.position("orders", 1, 7).key, "kafka:g:orders:1");
  for (int64_t o = 0; o < 5; ++o) l.handled("orders", 0, o, true);
  EXPECT_TRUE(l.due({}).empty());  // handed to the broker, not yet in the stream
  position_map published{{"kafka:g:orders:0", 2}};
  auto c = l.due(published);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(next_of(c, 0), 3);     // one past the last published
  EXPECT_TRUE(l.due(published).empty());  // committed already
  EXPECT_EQ(next_of(l.due(published, nullptr, true), 0), 3);  // unless asked again (before giving partitions up)
  published["kafka:g:orders:0"] = 4;
  EXPECT_EQ(next_of(l.due(published), 0), 5);
}

TEST(KafkaLedger, MessagesWithoutRecordsAreCommittedOnceThoseBeforeThemArePublished) {
  kafka_ledger l("g");
  l.assigned(kBoth, {});
  l.handled("orders", 0, 0, true);
  l.handled("orders", 0, 1, false);  // rejected
  l.handled("orders", 0, 2, false);
  EXPECT_TRUE(l.due({}).empty());
  EXPECT_EQ(next_of(l.due({{"kafka:g:orders:0", 0}}), 0), 3);
  l.handled("orders", 1, 0, false);  // a partition of rejects only
  EXPECT_EQ(next_of(l.due({{"kafka:g:orders:0", 0}}), 1), 1);
}

TEST(KafkaLedger, WhatWasPublishedBeforeTheAssignmentIsSkipped) {
  kafka_ledger l("g");
  l.assigned(kBoth, {{"kafka:g:orders:0", 41}, {"kafka:other:orders:1", 99}});
  EXPECT_TRUE(l.published_already("orders", 0, 41));
  EXPECT_FALSE(l.published_already("orders", 0, 42));
  EXPECT_FALSE(l.published_already("orders", 1, 0));  // another group's position is not ours
  // Skipped messages count as done: the partition is committed past them.
  for (int64_t o = 30; o <= 41; ++o) l.handled("orders", 0, o, false);
  EXPECT_EQ(next_of(l.due({{"kafka:g:orders:0", 41}}), 0), 42);
}

TEST(KafkaLedger, ARevokedPartitionIsForgottenAndCommittedAlone) {
  kafka_ledger l("g");
  l.assigned(kBoth, {});
  l.handled("orders", 0, 3, true);
  l.handled("orders", 1, 5, true);
  std::vector<kafka_partition> one{{"orders", 1}};
  auto c = l.due({{"kafka:g:orders:0", 3}, {"kafka:g:orders:1", 5}}, &one);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(next_of(c, 1), 6);
  l.revoked(one);
  EXPECT_EQ(l.held(), 1u);
  EXPECT_TRUE(l.position("orders", 1, 6).empty());
  l.handled("orders", 1, 6, true);  // a late message of a partition no longer held: ignored
  EXPECT_EQ(l.due({{"kafka:g:orders:1", 6}}).size(), 0u);
}

TEST(KafkaLedger, PendingUntilEverythingHandledIsCommitted) {
  kafka_ledger l("g");
  l.assigned(kBoth, {});
  EXPECT_FALSE(l.pending());  // nothing handled: an idle consumer reads no positions
  l.handled("orders", 0, 0, true);
  EXPECT_TRUE(l.pending());
  EXPECT_TRUE(l.due({}).empty());
  EXPECT_TRUE(l.pending());  // not published for good yet: still to commit
  EXPECT_EQ(l.due({{"kafka:g:orders:0", 0}}).size(), 1u);
  EXPECT_FALSE(l.pending());
}

}  // namespace
}  // namespace tributary
