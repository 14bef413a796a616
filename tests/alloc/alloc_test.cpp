// No heap allocation per record at steady state, proven with a counting operator new.
// The follower path: a stream entry's bytes read into a pooled record (simdjson, no DOM), the
// cluster broker's apply (numbering check, the server's frame), delivery (cache, history, hub),
// the I/O threads' inboxes, the subscription index, each session's queue and its writev — with
// real sessions over real sockets. Warm-up first (pools fill, buffers reach their size); then
// every allocation anywhere in the process while records flow fails the test.
#include <gtest/gtest.h>

#include <execinfo.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "../support/publish_path.hpp"
#include "../support/raw_ws.hpp"
#include "cluster/leadership.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "plugin/plugin.hpp"
#include "publish/cache.hpp"
#include "publish/delivery.hpp"
#include "publish/fanout_hub.hpp"
#include "publish/memory_broker.hpp"
#include "ingest/intake.hpp"
#include "publish/redis_broker.hpp"
#include "record/record_bytes.hpp"
#include "server/frames.hpp"
#include "server/server.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

// TRIBUTARY_ALLOC_TRACE=N prints the stacks of the first N allocations counted (addresses:
// resolve them with addr2line -f -C -e alloc_tests).
void trace() {
  static const long limit = [] {
    const char* v = std::getenv("TRIBUTARY_ALLOC_TRACE");
    return v ? std::atol(v) : 0;
  }();
  static std::atomic<long> shown{0};
  if (shown.fetch_add(1) >= limit) return;
  void* frames[24];
  int n = backtrace(frames, 24);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  (void)!write(STDERR_FILENO, "--\n", 3);
}

void* counted(size_t n, size_t align) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    trace();
  }
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return counted(n, 0); }
void* operator new[](size_t n) { return counted(n, 0); }
void* operator new(size_t n, std::align_val_t a) { return counted(n, static_cast<size_t>(a)); }
void* operator new[](size_t n, std::align_val_t a) { return counted(n, static_cast<size_t>(a)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

using namespace tributary;
using namespace tributary::test_support;

namespace {

struct follower_only final : leadership {
  bool is_leader() const override { return false; }
  uint64_t epoch() const override { return 3; }
  bool redis_up() const override { return true; }
  void fenced() override {}
  void resign() override {}
};

// The canonical bytes of a record as a leader writes them into the stream.
std::string entry(const std::string& kind, const std::string& subject, uint64_t seq) {
  record r;
  r.kind = kind;
  r.subject = subject;
  r.source = "bench";
  r.feed = "f";
  r.ts = r.received = 1796312489596 + static_cast<int64_t>(seq);
  r.seq = seq;
  r.data = kind == "price" ? nlohmann::json{{"price", 84250.5 + seq}} : nlohmann::json{{"status", "filled"}, {"qty", seq}};
  return r.to_json().dump();
}

size_t updates_in(const std::string& bytes) {
  size_t n = 0;
  for (auto& [op, payload] : server_frames(bytes)) n += payload.find(R"("type":"update")") != std::string::npos;
  return n;
}

}  // namespace

TEST(NoAllocation, FollowerPathFromStreamEntryToSessions) {
  void* warm[1];
  backtrace(warm, 1);  // loads what backtrace needs before anything is counted
  // kBurst rounds are published as fast as the test can: the I/O threads fall behind, so their
  // inboxes and the sessions' rings grow to a backlog of that size; kWarm paced rounds fill the
  // pools. The measured rounds are paced, and however late a loaded machine runs the I/O
  // threads, their backlog cannot exceed the burst's: capacity growth is warm-up, not a record.
  constexpr int kPersonal = 48, kPrices = 4, kBroadcast = 6, kBurst = 80, kWarm = 60, kMeasured = 25;
  auto log = make_logger("alloc", "off", nullptr);
  metrics m;
  record_cache cache;
  fanout_hub hub(history_options{16, millis(600000), 64u << 20});
  delivery deliver(cache, &hub);
  follower_only lead;
  redis_broker broker({{{"127.0.0.1", 1, "", "", 0}, "alloc"}}, lead, &update_frame, m, log);  // never started: no Redis needed
  broker.on_publication([&](const std::shared_ptr<const published_record>& p) { deliver.on_publication(p); });
  server_options o;
  o.port = 0;
  o.io_threads = 2;
  o.heartbeat = millis(600000);
  server_hooks hooks;
  hooks.status_json = [] { return std::string("{}"); };
  hooks.metrics_text = [] { return std::string(); };
  hooks.ready = [] { return std::make_pair(true, std::string("ok")); };
  server srv(o, cache, hub, m, hooks, log);
  auto port = srv.start();

  std::vector<std::string> topics;
  for (int i = 0; i < kPersonal; ++i) topics.push_back("user." + std::to_string(1000 + i) + ".orders");
  std::vector<std::unique_ptr<raw_socket>> personal, broadcast;
  auto subscribe = [&](const std::string& pattern) {
    auto s = std::make_unique<raw_socket>(port);
    s->upgrade();
    s->send(client_frame(1, R"({"type":"subscribe","topics":[")" + pattern + R"("]})"));
    std::string reply;
    for (int i = 0; i < 100 && reply.find("subscribed") == std::string::npos; ++i) reply += s->read_for(10);
    EXPECT_NE(reply.find("subscribed"), std::string::npos);
    return s;
  };
  for (auto& t : topics) personal.push_back(subscribe("event." + t));
  for (int i = 0; i < kBroadcast; ++i) broadcast.push_back(subscribe("price.*"));

  // Every entry of every round, made before anything is counted.
  std::vector<std::vector<std::string>> rounds;
  for (int r = 1; r <= kBurst + kWarm + kMeasured; ++r) {
    auto& round = rounds.emplace_back();
    for (auto& t : topics) round.push_back(entry("event", t, r));
    for (int p = 0; p < kPrices; ++p) round.push_back(entry("price", "COIN" + std::to_string(p) + "-USDT", r));
  }
  auto play = [&](int from, int to, bool pace) {  // paced as a steady stream: small batches
    for (int r = from; r < to; ++r) {
      for (auto& bytes : rounds[r]) {
        auto p = published_record::acquire();  // as the stream reader does
        ASSERT_TRUE(read_record_header(bytes, p->rec));
        p->json.assign(bytes);
        p->epoch = 3;
        ASSERT_TRUE(broker.apply(std::move(p)));
      }
      if (pace) std::this_thread::sleep_for(std::chrono::milliseconds(4));
    }
  };
  std::vector<size_t> got(kPersonal + kBroadcast, 0);
  auto drain = [&] {
    for (int i = 0; i < kPersonal; ++i) got[i] += updates_in(personal[i]->read_for(5));
    for (int i = 0; i < kBroadcast; ++i) got[kPersonal + i] += updates_in(broadcast[i]->read_for(5));
  };
  play(0, kBurst, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  drain();
  play(kBurst, kBurst + kWarm, true);  // pools fill; the sessions stay busy, so they keep their rings
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  drain();

  counting = true;
  play(kBurst + kWarm, kBurst + kWarm + kMeasured, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the I/O threads deliver and write
  counting = false;
  long made = allocations.exchange(0);

  drain();
  constexpr size_t kAll = kBurst + kWarm + kMeasured;
  for (int i = 0; i < 50 && got[0] < kAll; ++i) drain();
  for (int i = 0; i < kPersonal; ++i) EXPECT_EQ(got[i], kAll) << "personal client " << i;
  for (int i = 0; i < kBroadcast; ++i) EXPECT_GE(got[kPersonal + i], size_t(kMeasured * kPrices)) << "broadcast client " << i;
  EXPECT_EQ(made, 0) << "allocations while " << kMeasured * (kPersonal + kPrices) << " records were delivered";
  srv.stop();
}

// The intake path of a standalone node: a plugin's record stamped, counted, numbered, written
// as canonical JSON into a recycled buffer, framed, and delivered to the cache and history.
TEST(NoAllocation, IntakeNumbersSerializesFramesAndDelivers) {
  constexpr int kTopics = 64, kWarm = 60, kMeasured = 20;
  publish_path node(history_options{16, millis(600000), 64u << 20});
  auto [cache, m, in] = std::tie(node.cache, node.m, node.out);
  std::vector<std::vector<record>> rounds;  // what the plugin made, before anything is counted
  for (int r = 0; r < kWarm + kMeasured; ++r) {
    auto& round = rounds.emplace_back();
    for (int t = 0; t < kTopics; ++t) {
      record x;
      x.kind = "price";
      x.subject = "C" + std::to_string(t) + "-USDT";
      x.data = {{"price", 100.25 + r}, {"bid", 100.0 + r}, {"ask", 100.5 + r}};
      round.push_back(std::move(x));
    }
  }
  auto play = [&](int from, int to) {
    for (int r = from; r < to; ++r)
      for (auto& x : rounds[r]) ASSERT_TRUE(in.publish(std::move(x), {"binance", "spot", 1796312489596 + r}));
  };
  play(0, kWarm);
  counting = true;
  play(kWarm, kWarm + kMeasured);
  counting = false;
  EXPECT_EQ(allocations.exchange(0), 0) << "allocations while " << kMeasured * kTopics << " records were published";
  auto last = cache.latest("price.C7-USDT");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->rec.seq, uint64_t(kWarm + kMeasured));
  EXPECT_EQ(last->json, last->rec.to_json().dump());
  EXPECT_EQ(m.value("tributary_records_total", {{"kind", "price"}, {"source", "binance"}}), (kWarm + kMeasured) * kTopics);
}

// The push path of a standalone node: a pub/sub message through the real redis_pubsub plugin
// (loaded through the loader; its subject template, the data's canonical text), the host's
// result kept message after message as the stream feed keeps it, and the record copied into
// pooled storage by the intake, numbered, serialized, framed and delivered.
TEST(NoAllocation, PushedMessageThroughThePluginIntoDelivery) {
  constexpr int kUsers = 64, kWarm = 60, kMeasured = 90;
  auto lib = plugin_library::load(std::filesystem::path(TRIBUTARY_PLUGIN_DIR) / "libredis_pubsub.so");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<plugin_library>>(lib));
  nlohmann::json settings{{"redis_url", "redis://127.0.0.1:1"}, {"channel", "task_status_updates"}, {"subject", "user.{user}.orders"}};
  auto made = plugin_instance::create(std::get<std::shared_ptr<plugin_library>>(lib), "tasks", settings, {});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<plugin_instance>>(made));
  auto& plugin = *std::get<std::unique_ptr<plugin_instance>>(made);
  publish_path node(history_options{16, millis(600000), 64u << 20});
  auto [cache, m, in] = std::tie(node.cache, node.m, node.out);
  feed_request feed{"tasks", "event", {}};
  // What the publisher sent, made before anything is counted. Of one length throughout: the
  // pooled records' strings grow to the longest they have held, and that is warm-up.
  std::vector<std::string> messages;
  for (int r = 0; r < kWarm + kMeasured; ++r)
    for (int u = 0; u < kUsers; ++u)
      messages.push_back(R"({"user":)" + std::to_string(10 + u) + R"(,"status":"running","progress":)" + std::to_string(100 + r) +
                         R"(,"detail":{"step":"a long enough name to be on the heap","z":1,"a":[1,2.5,"x"]}})");
  call_result res;  // kept, as the stream feed keeps it
  long published = 0;
  auto play = [&](int from, int to) {
    for (int i = from * kUsers; i < to * kUsers; ++i) {
      upstream_message msg("task_status_updates", messages[i]);
      msg.received_ms = 1796312489596 + i;
      plugin.parse_message(feed, msg, res);
      ASSERT_EQ(res.records.size(), 1u) << (res.errors.empty() ? "" : res.errors[0].str());
      for (auto& r : res.records) published += in.publish(std::move(r), {"tasks", "tasks", msg.received_ms}) != nullptr;  // as the stream feed does
    }
  };
  play(0, kWarm);
  counting = true;
  play(kWarm, kWarm + kMeasured);
  counting = false;
  EXPECT_EQ(allocations.exchange(0), 0) << "allocations while " << kMeasured * kUsers << " messages were published";
  EXPECT_EQ(published, (kWarm + kMeasured) * kUsers);
  auto last = cache.latest("event.user.17.orders");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->rec.seq, uint64_t(kWarm + kMeasured));
  EXPECT_EQ(last->rec.native, "task_status_updates");
  EXPECT_EQ(last->json, last->rec.to_json().dump());
  EXPECT_EQ(last->rec.to_json()["data"], nlohmann::json::parse(messages[(kWarm + kMeasured - 1) * kUsers + 7]));
}
