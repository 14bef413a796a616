// Deflate chains without sockets: sessions that share one compression context, each fed through
// its own send queue and read back by a client decompressor that keeps its window, as a
// browser's does. Whatever a session misses (conflation, a compressed reply), every message it
// is sent must inflate to the record's JSON, and it must be back in the chain after a reset.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>

#include "../../../tests/support/context_inflater.hpp"
#include "../../../tests/support/raw_ws.hpp"
#include "server/deflate_chain.hpp"
#include "wire/ws_deflate.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {
namespace {

// A record as the server frames it: the record, its plain frame and its self-contained
// compressed frame.
struct framed {
  std::shared_ptr<const published_record> rec;
  frame_ref plain, alone;
  std::string payload;
  uint32_t topic;
};

framed make_record(int i) {
  record r;
  r.kind = "price";
  r.subject = "B" + std::to_string(i % 5) + "-USDT";
  r.seq = static_cast<uint64_t>(i / 5 + 1);
  framed f;
  f.topic = static_cast<uint32_t>(i % 5);
  f.rec = published_record::make(r, f.topic);
  f.payload = R"({"type":"update","topic":"price.)" + r.subject + R"(","record":{"seq":)" + std::to_string(r.seq) +
              R"(,"data":{"price":)" + std::to_string(60000 + i * 7 % 1000) + R"(.25,"change_24h_pct":1.615,"volume":12345.678}}})";
  f.plain = frame_ref::own(ws::make_frame(ws::opcode::text, f.payload));
  f.alone = frame_ref::own(*ws::make_deflated_frame(f.payload));
  return f;
}

const chained_frame& meta(const frame_ref& f) { return *static_cast<const chained_frame*>(f.block()); }

// One session: its chain, its queue, what it settled, and its client at the other end of a
// socket pair.
struct session {
  session() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~session() {
    close(fd[0]);
    close(fd[1]);
  }
  int fd[2] = {-1, -1};
  std::shared_ptr<deflate_chain> chain;
  send_queue queue{1 << 20, slow_policy::conflate};
  chain_sync sync;
  test_support::context_inflater client;
  std::vector<std::string> read;  // every message the client read, in order
  size_t chained = 0, bytes = 0;

  void offer(const framed& f) {
    queue.push_update({f.alone, f.topic, frame_type::update, chain ? chain->frame_for(f.rec, f.plain) : frame_ref()});
  }
  void reply(const std::string& json) { queue.push_reply({frame_ref::own(*ws::make_deflated_frame(json))}); }
  // Writes everything queued as ws_connection::flush() does; the client reads it.
  void write() {
    auto settle = [&](out_frame& f) {
      bool had_chain = static_cast<bool>(f.chained);
      auto before = f.bytes;
      bool now = sync.settle(f, chain.get());
      EXPECT_EQ(now, had_chain && !(f.bytes == before));
      if (now) ++chained;
    };
    ASSERT_EQ(send_queued(fd[0], queue, settle, [](frame_type) {}), send_status::drained);
    std::string wire;
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd[1], buf, sizeof buf, 0)) > 0;) wire.append(buf, static_cast<size_t>(n));
    bytes += wire.size();
    for (auto& m : test_support::parse_server_frames(wire)) {
      auto text = m.compressed ? client.inflate(m.payload) : std::optional<std::string>(m.payload);
      ASSERT_TRUE(text) << "message " << read.size() << " does not inflate";
      read.push_back(*text);
    }
  }
};

TEST(DeflateChain, SessionsThatFollowReadEveryRecordAndOneThatMissesRejoinsAtTheNextReset) {
  deflate_chains chains;
  std::array<session, 3> s;
  for (auto& x : s) x.chain = chains.join("0/0\n\nprice.*");
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(s[0].chain->sessions(), 3u);
  std::vector<std::string> sent;
  for (int i = 0; i < 120; ++i) {
    auto f = make_record(i);
    sent.push_back(f.payload);
    for (size_t k = 0; k < s.size(); ++k) {
      if (k == 2 && i == 40) continue;  // session 2 never got record 40 (as if filtered out)
      s[k].offer(f);
      if (k == 1 && i == 70) s[k].reply(R"({"type":"subscribed","id":7,"topics":["price.*"],"pad":")" + std::string(300, 'x') + "\"}");
      s[k].write();
    }
  }
  for (size_t k = 0; k < s.size(); ++k) EXPECT_TRUE(s[k].sync.following()) << k;
  // Session 0 followed throughout: every update came from the chain and read back.
  EXPECT_EQ(s[0].read, sent);
  EXPECT_EQ(s[0].chained, 120u);
  // Session 2 missed one: self-contained frames until the chain reset, then the chain again.
  auto missed = sent;
  missed.erase(missed.begin() + 40);
  EXPECT_EQ(s[2].read, missed);
  EXPECT_GE(s[2].chained, 120u - 1 - 2 * deflate_chain::kMinResetGap);
  EXPECT_LT(s[2].chained, 119u);
  // Session 1's compressed reply entered its client's window: it fell out, then rejoined.
  ASSERT_EQ(s[1].read.size(), 121u);
  EXPECT_EQ(s[1].read[71].rfind(R"({"type":"subscribed")", 0), 0u);
  s[1].read.erase(s[1].read.begin() + 71);
  EXPECT_EQ(s[1].read, sent);
  EXPECT_LT(s[1].chained, 120u);
  EXPECT_GE(s[1].chained, 120u - 2 * deflate_chain::kMinResetGap);
  // The chain's frames are a fraction of compressing each record alone.
  size_t alone = 0;
  for (auto& p : sent) alone += ws::make_deflated_frame(p)->size();
  EXPECT_LT(s[0].bytes * 2, alone) << s[0].bytes << " vs " << alone;
}

// A session whose queue conflates loses updates between two writes: what it is sent still
// inflates, and it rejoins the chain once the backlog is gone.
TEST(DeflateChain, ASessionWhoseQueueConflatesStillReadsEveryMessageItIsSent) {
  deflate_chains chains;
  session fast, slow;
  slow.queue = send_queue(2048, slow_policy::conflate);  // about six plain frames
  fast.chain = slow.chain = chains.join("k");
  for (int i = 0; i < 200; ++i) {
    auto f = make_record(i);
    fast.offer(f);
    slow.offer(f);
    fast.write();
    if (i % 25 == 24) slow.write();  // stalls, then drains
  }
  slow.write();
  EXPECT_EQ(fast.read.size(), 200u);
  EXPECT_LT(slow.read.size(), 200u);  // conflated
  EXPECT_GT(slow.chained, 0u);
  // Each message it read is one that was sent, in order per topic (conflated updates go after
  // the queue drains, so topics interleave differently than they were published).
  std::map<std::string, int> index;
  for (int i = 0; i < 200; ++i) index[make_record(i).payload] = i;
  std::map<int, int> last;  // topic -> index read last
  for (auto& m : slow.read) {
    auto it = index.find(m);
    ASSERT_NE(it, index.end()) << "never sent: " << m;
    int topic = it->second % 5;
    EXPECT_GT(it->second, last.count(topic) ? last[topic] : -1) << m;
    last[topic] = it->second;
  }
}

TEST(DeflateChain, ALoneSessionGetsNoChainFramesAndTheChainRestartsWhenASecondJoins) {
  deflate_chains chains;
  auto a = chains.join("k");
  auto f1 = make_record(1), f2 = make_record(2), f3 = make_record(3);
  EXPECT_FALSE(a->frame_for(f1.rec, f1.plain));
  auto b = chains.join("k");
  ASSERT_EQ(a, b);
  auto c2 = a->frame_for(f2.rec, f2.plain);
  ASSERT_TRUE(c2);
  EXPECT_TRUE(meta(c2).reset);
  EXPECT_EQ(a->frame_for(f2.rec, f2.plain), c2);  // the same record: the same frame
  auto other = frame_ref::own(*f2.plain);
  EXPECT_FALSE(a->frame_for(f2.rec, other));  // another protocol's frame of it: not this chain's
  auto c3 = a->frame_for(f3.rec, f3.plain);
  ASSERT_TRUE(c3);
  EXPECT_FALSE(meta(c3).reset);
  EXPECT_EQ(meta(c3).index, meta(c2).index + 1);
  b.reset();
  auto f4 = make_record(4), f5 = make_record(5);
  EXPECT_FALSE(a->frame_for(f4.rec, f4.plain));  // alone again
  b = chains.join("k");
  EXPECT_TRUE(meta(a->frame_for(f5.rec, f5.plain)).reset);  // it skipped a record: start afresh
}

TEST(DeflateChain, ChainsAreKeyedBoundedAndRecycleTheirFrames) {
  deflate_chains chains;
  std::vector<std::shared_ptr<deflate_chain>> held;
  for (size_t i = 0; i < deflate_chains::kMaxChains; ++i) held.push_back(chains.join("k" + std::to_string(i)));
  EXPECT_NE(held[0], held[1]);
  EXPECT_EQ(chains.join("another"), nullptr);  // bounded: that session compresses each record alone
  held.pop_back();
  auto again = chains.join("another");  // a released chain's room is taken
  ASSERT_NE(again, nullptr);
  auto second = chains.join("another");
  std::set<const std::string*> seen;
  for (int i = 0; i < 500; ++i) {
    auto f = make_record(i);
    seen.insert(again->frame_for(f.rec, f.plain).get());
  }
  EXPECT_LE(seen.size(), 65u);  // nobody held them: the pool's frames came round again
}

TEST(DeflateChain, AFrameStillQueuedOutlivesItsChain) {
  auto f = make_record(1), g = make_record(2);
  frame_ref kept, spare;
  std::string bytes;
  {
    deflate_chains chains;
    auto a = chains.join("k"), b = chains.join("k");
    kept = a->frame_for(f.rec, f.plain);
    ASSERT_TRUE(kept);
    bytes = *kept;
    spare = a->frame_for(g.rec, g.plain);  // a second one, also still queued
  }  // the chains and their pool are gone; the queued frames are not
  EXPECT_EQ(*kept, bytes);
  EXPECT_TRUE(meta(kept).reset);
  EXPECT_EQ(meta(spare).index, meta(kept).index + 1);
  kept.reset();  // the last holder frees it
  spare.reset();
}

TEST(FrameRef, ABlockCountsItsThreadsReferencesAndLetsTheRecordGoWithTheLast) {
  frame_blocks blocks;
  auto rec = make_record(1).rec;
  long base = rec.use_count();
  auto held = blocks.hold(rec);
  EXPECT_FALSE(held);  // a block, no bytes yet
  EXPECT_EQ(rec.use_count(), base + 1);  // one reference for the thread
  EXPECT_FALSE(held.with(nullptr));
  auto a = held.with(&rec->frame);
  auto b = a, c = held.with(&rec->json);
  EXPECT_EQ(a.get(), &rec->frame);
  EXPECT_EQ(c.get(), &rec->json);
  EXPECT_EQ(held.block()->refs, 4u);
  EXPECT_EQ(rec.use_count(), base + 1);  // however many sessions hold it
  held.reset();
  a.reset();
  c.reset();
  EXPECT_EQ(rec.use_count(), base + 1);
  EXPECT_EQ(blocks.in_use(), 1u);
  b = frame_ref();  // the last one
  EXPECT_EQ(rec.use_count(), base);
  EXPECT_EQ(blocks.in_use(), 0u);
  // Blocks are recycled: a thousand records one after another use the same one.
  std::set<frame_block*> used;
  for (int i = 0; i < 1000; ++i) {
    auto r = blocks.hold(rec).with(&rec->frame);
    used.insert(r.block());
  }
  EXPECT_EQ(used.size(), 1u);
  EXPECT_EQ(blocks.in_use(), 0u);
  EXPECT_EQ(rec.use_count(), base);
}

}  // namespace
}  // namespace tributary
