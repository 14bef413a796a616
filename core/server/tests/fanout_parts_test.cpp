// The fan-out's parts without sockets: the subscription index, the send queue and the history.
#include <array>
#include <gtest/gtest.h>

#include <algorithm>

#include "server/control_path.hpp"
#include "server/frames.hpp"
#include "server/request_target.hpp"
#include "server/send_queue.hpp"
#include "server/subscription_index.hpp"
#include "publish/topic_history.hpp"
#include "util/clock.hpp"
#include "wire/ws_frame.hpp"

#include <nlohmann/json.hpp>

using namespace tributary;

namespace {

// Sessions that take nothing: the index only reads their write hint (to prefetch).
struct idle_subscriber final : subscriber {
  void offer(const std::shared_ptr<const published_record>&, uint64_t) override {}
  void stage(write_batch&) override {}
  void written(ssize_t) override {}
  void heartbeat(int64_t) override {}
  void shut_down() override {}
  bool finished() const override { return false; }
};
subscriber* conn(size_t n) {
  static std::array<idle_subscriber, 16> all;
  return &all.at(n);
}

std::vector<subscriber*> matches(const subscription_index& ix, std::string_view topic) {
  std::vector<subscriber*> out;
  ix.for_each_match(topic, [&](subscriber* c) { out.push_back(c); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<subscriber*> matches(const subscription_index& ix, std::string_view topic, uint32_t id) {
  std::vector<subscriber*> out;
  ix.for_each_match(topic, id, [&](subscriber* c) { out.push_back(c); });
  std::sort(out.begin(), out.end());
  return out;
}

out_frame frame(uint32_t topic, size_t size, char fill = 'x', frame_type t = frame_type::update) {
  return {frame_ref::own(std::string(size, fill)), topic, t};
}

std::string drain(send_queue& q) {
  std::string out;
  iovec iov[8];
  while (size_t n = q.gather(iov, 8)) {
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
      total += iov[i].iov_len;
    }
    q.consume(total, [](frame_type) {});
  }
  return out;
}

std::shared_ptr<const published_record> rec(const std::string& subject, uint64_t seq) {
  record r;
  r.kind = "price";
  r.subject = subject;
  r.seq = seq;
  r.data = {{"price", double(seq)}};
  return published_record::make(r, 0, &update_frame);
}

}  // namespace

TEST(SubscriptionIndex, ExactPrefixAndStarPatterns) {
  subscription_index ix;
  ix.add("price.BTC-USDT", conn(1));
  ix.add("price.*", conn(2));
  ix.add("*", conn(3));
  ix.add("indicator.BTC-USDT.*", conn(4));
  EXPECT_EQ(matches(ix, "price.BTC-USDT"), (std::vector{conn(1), conn(2), conn(3)}));
  EXPECT_EQ(matches(ix, "price.ETH-USDT"), (std::vector{conn(2), conn(3)}));
  EXPECT_EQ(matches(ix, "prices.BTC"), (std::vector{conn(3)}));
  EXPECT_EQ(matches(ix, "indicator.BTC-USDT.rsi.1d"), (std::vector{conn(3), conn(4)}));
  EXPECT_EQ(matches(ix, "indicator.ETH-USDT.rsi.1d"), (std::vector{conn(3)}));
}

TEST(SubscriptionIndex, RemoveTakesOnlyThatSubscription) {
  subscription_index ix;
  ix.add("price.*", conn(1));
  ix.add("price.*", conn(2));
  ix.add("price.BTC-USDT", conn(1));
  ix.add("*", conn(3));
  ix.remove("price.*", conn(1));
  EXPECT_EQ(matches(ix, "price.BTC-USDT"), (std::vector{conn(1), conn(2), conn(3)}));
  ix.remove("price.BTC-USDT", conn(1));
  ix.remove("*", conn(3));
  EXPECT_EQ(matches(ix, "price.BTC-USDT"), (std::vector{conn(2)}));
  ix.remove("price.*", conn(2));
  EXPECT_TRUE(matches(ix, "price.BTC-USDT").empty());
  EXPECT_EQ(ix.patterns(), 0u);  // nothing left behind for topics nobody wants
  ix.remove("price.*", conn(9));  // removing what is not there is harmless
}

TEST(SubscriptionIndex, WhatItRemembersByTopicIdFollowsEveryChange) {
  subscription_index ix;
  EXPECT_TRUE(matches(ix, "user.7.orders", 5).empty());  // nobody yet: remembered as nobody
  ix.add("user.7.orders", conn(1));
  EXPECT_EQ(matches(ix, "user.7.orders", 5), (std::vector{conn(1)}));
  for (size_t i = 2; i <= 6; ++i) ix.add("user.7.orders", conn(i));  // more than the prefetch distance
  ix.add("user.*", conn(7));
  EXPECT_EQ(matches(ix, "user.7.orders", 5), (std::vector{conn(1), conn(2), conn(3), conn(4), conn(5), conn(6), conn(7)}));
  ix.remove("user.7.orders", conn(1));
  ix.remove("user.7.orders", conn(4));
  EXPECT_EQ(matches(ix, "user.7.orders", 5), (std::vector{conn(2), conn(3), conn(5), conn(6), conn(7)}));
  ix.add("user.8.orders", conn(8));  // another topic, another id
  EXPECT_EQ(matches(ix, "user.8.orders", 9000), (std::vector{conn(7), conn(8)}));
  for (size_t i : {2, 3, 5, 6}) ix.remove("user.7.orders", conn(i));  // its list is gone
  EXPECT_EQ(matches(ix, "user.7.orders", 5), (std::vector{conn(7)}));
  ix.add("user.7.orders", conn(9));  // and made again
  EXPECT_EQ(matches(ix, "user.7.orders", 5), (std::vector{conn(7), conn(9)}));
  EXPECT_EQ(matches(ix, "user.7.orders", 5), matches(ix, "user.7.orders"));  // by id or not, the same
  EXPECT_EQ(matches(ix, "user.8.orders", (1u << 20) + 3), (std::vector{conn(7), conn(8)}));  // an id too large: looked up
}

TEST(SendQueue, GathersInOrderAndResumesAPartialWrite) {
  send_queue q(1000, slow_policy::conflate);
  q.push_reply(frame(no_topic, 3, 'a', frame_type::hello));
  q.push_update(frame(1, 4, 'b'));
  iovec iov[8];
  ASSERT_EQ(q.gather(iov, 8), 2u);
  std::vector<frame_type> sent;
  q.consume(5, [&](frame_type t) { sent.push_back(t); });  // the hello and 2 bytes of the update
  EXPECT_EQ(sent, std::vector{frame_type::hello});
  EXPECT_TRUE(q.started());
  EXPECT_EQ(drain(q), "bb");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, OverTheBoundOnlyTheNewestUpdatePerTopicIsKept) {
  send_queue q(10, slow_policy::conflate);
  EXPECT_EQ(q.push_update(frame(1, 6, '1')), send_queue::result::queued);
  EXPECT_EQ(q.push_update(frame(2, 6, 'a')), send_queue::result::queued);  // over: held per topic
  EXPECT_EQ(q.push_update(frame(2, 6, 'b')), send_queue::result::conflated);
  EXPECT_EQ(q.push_update(frame(3, 6, 'z')), send_queue::result::queued);
  EXPECT_EQ(q.push_update(frame(2, 6, 'c')), send_queue::result::conflated);
  // A reply for a conflated topic (a snapshot) replaces it too, so the topic stays in order.
  q.push_reply(frame(3, 2, 's', frame_type::snapshot));
  EXPECT_EQ(drain(q), "111111ccccccss");
}

TEST(SendQueue, UnderTheClosePolicyAnUpdateOverTheBoundIsRefusedButRepliesAreNot) {
  send_queue q(10, slow_policy::close);
  EXPECT_EQ(q.push_update(frame(1, 8)), send_queue::result::queued);
  for (int i = 0; i < 100; ++i) q.push_reply(frame(1, 8, 's', frame_type::snapshot));  // snapshots never count
  EXPECT_EQ(q.push_update(frame(2, 8)), send_queue::result::refused);
  q.drop_unstarted();
  EXPECT_TRUE(q.empty());
}

TEST(SendQueue, AFrameLargerThanTheBoundStillGoesWhenNothingElseIsQueued) {
  send_queue q(10, slow_policy::close);
  EXPECT_EQ(q.push_update(frame(1, 100)), send_queue::result::queued);
  EXPECT_EQ(drain(q).size(), 100u);
}

TEST(SendQueue, DropUnstartedKeepsAPartlyWrittenFrame) {
  send_queue q(1000, slow_policy::conflate);
  q.push_update(frame(1, 4, 'a'));
  q.push_update(frame(1, 4, 'b'));
  q.consume(1, [](frame_type) {});
  q.drop_unstarted();
  q.push_reply(frame(no_topic, 2, 'c', frame_type::close));
  EXPECT_EQ(drain(q), "aaacc");  // the frame in flight is finished, never cut
}

TEST(TopicHistory, ServesEverythingAfterASeqOrSaysItCannot) {
  fake_clock clock;
  topic_history h({.per_topic = 4, .max_age = millis(1000), .max_bytes = 1 << 20}, clock);
  for (uint64_t s = 1; s <= 6; ++s) h.add(rec("BTC-USDT", s));
  auto got = h.since("price.BTC-USDT", 3);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0]->rec.seq, 4u);
  EXPECT_EQ((*got)[2]->rec.seq, 6u);
  EXPECT_FALSE(h.since("price.BTC-USDT", 1));  // seq 2 was evicted: cannot vouch
  EXPECT_FALSE(h.since("price.ETH-USDT", 1));  // unknown topic
  EXPECT_FALSE(h.since("price.BTC-USDT", 6));  // nothing after the latest: the caller decides
  clock.advance(1500);
  EXPECT_FALSE(h.since("price.BTC-USDT", 3));  // too old
}

// [[server.history]]: the first rule matching a topic sets its size and age; others keep the
// defaults; a size of 0 keeps nothing.
TEST(TopicHistory, EachTopicKeepsWhatItsFirstMatchingRuleSays) {
  fake_clock clock;
  history_options o{.per_topic = 2, .max_age = millis(1000)};
  o.rules = {{{"price.BTC-USDT"}, 5, millis(60000)}, {{"price.*"}, 0, millis(1000)}, {{"price.BTC-USDT"}, 100, millis(1)}};
  topic_history h(o, clock);
  EXPECT_EQ(h.rules().rule_for("price.BTC-USDT").size, 5u);  // the first match wins
  EXPECT_EQ(h.rules().rule_for("market.global").size, 2u);   // no rule: the defaults
  for (uint64_t s = 1; s <= 8; ++s) {
    h.add(rec("BTC-USDT", s));
    h.add(rec("ETH-USDT", s));
  }
  ASSERT_TRUE(h.since("price.BTC-USDT", 3));
  EXPECT_EQ(h.since("price.BTC-USDT", 3)->size(), 5u);  // 4..8
  EXPECT_FALSE(h.since("price.BTC-USDT", 2));           // 3 is past the rule's 5
  EXPECT_FALSE(h.since("price.ETH-USDT", 7));           // kept none
  clock.advance(30000);
  EXPECT_TRUE(h.since("price.BTC-USDT", 6));  // within its rule's minute, past the default second
  clock.advance(31000);
  EXPECT_FALSE(h.since("price.BTC-USDT", 6));
}

TEST(TopicHistory, AGapInSeqsIsAMiss) {
  fake_clock clock;
  topic_history h({}, clock);
  h.add(rec("BTC-USDT", 1));
  h.add(rec("BTC-USDT", 2));
  h.add(rec("BTC-USDT", 5));  // a follower that missed 3 and 4
  h.add(rec("BTC-USDT", 6));
  EXPECT_FALSE(h.since("price.BTC-USDT", 1));
  EXPECT_FALSE(h.since("price.BTC-USDT", 2));
  ASSERT_TRUE(h.since("price.BTC-USDT", 5));
  EXPECT_EQ(h.since("price.BTC-USDT", 5)->size(), 1u);
}

TEST(TopicHistory, TheByteBoundEvictsTheOldestAcrossTopics) {
  fake_clock clock;
  size_t one = rec("A-USDT", 1)->footprint();
  topic_history h({.per_topic = 100, .max_age = millis(600000), .max_bytes = one * 10 + one / 2}, clock);
  for (uint64_t s = 1; s <= 5; ++s) h.add(rec("A-USDT", s));
  for (uint64_t s = 1; s <= 10; ++s) h.add(rec("B-USDT", s));
  EXPECT_LE(h.bytes(), one * 10 + one / 2);
  EXPECT_FALSE(h.since("price.A-USDT", 0));  // A's oldest went first
  EXPECT_TRUE(h.since("price.B-USDT", 0));
  for (uint64_t s = 11; s <= 5000; ++s) h.add(rec("B-USDT", s));  // order bookkeeping stays bounded
  EXPECT_TRUE(h.since("price.B-USDT", 4991));
}

TEST(ControlPath, NamesTheActionAndItsTarget) {
  using act = control_request::action;
  auto run = parse_control_path("/api/v1/feeds/spot/run");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->what, act::run_feed);
  EXPECT_EQ(run->target, "spot");
  EXPECT_EQ(parse_control_path("/api/v1/feeds/spot/pause")->what, act::pause_feed);
  EXPECT_EQ(parse_control_path("/api/v1/feeds/spot/resume")->what, act::resume_feed);
  auto reset = parse_control_path("/api/v1/sources/binance_us/reset");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->what, act::reset_source);
  EXPECT_EQ(reset->target, "binance_us");
  for (auto bad : {"/api/v1/feeds//run", "/api/v1/feeds/spot/explode", "/api/v1/sources/x/run", "/api/v1/feeds/run", "reset"})
    EXPECT_FALSE(parse_control_path(bad)) << bad;
  auto t = parse_request_target("/api/v1/sources/binance%5Fus/reset?x=1&token=a%2Bb.c");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/api/v1/sources/binance_us/reset");
  EXPECT_EQ(t->token, "a+b.c");
  EXPECT_FALSE(parse_request_target("/bad%zz"));
  EXPECT_FALSE(parse_request_target("no-slash"));
  EXPECT_EQ(parse_request_target("/x?token")->token, "");
}

// A subject that is not UTF-8 (a plugin's bytes) still makes a text frame that is: the topic
// and the record are escaped, with U+FFFD for the bad bytes.
TEST(Frames, ATopicThatIsNotUtf8StillMakesAValidTextFrame) {
  record r;
  r.kind = "sentiment";
  r.subject = "bad\xff\xfe";
  r.data = {{"value", 1}};
  auto p = published_record::make(r, 0, &update_frame);
  auto header = [](const std::string& f) { return static_cast<unsigned char>(f[1]) == 126 ? 4u : 2u; };  // under 64 KiB
  auto payload = p->frame.substr(header(p->frame));
  EXPECT_TRUE(ws::valid_utf8(payload));
  auto msg = nlohmann::json::parse(payload);
  EXPECT_EQ(msg["topic"], "sentiment.bad\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(msg["record"]["topic"], msg["topic"]);
  auto snap = snapshot_frame(*p);
  EXPECT_TRUE(ws::valid_utf8(snap.substr(header(snap))));
}
