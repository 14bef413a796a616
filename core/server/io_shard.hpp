#pragma once
// Internal to server/: one I/O thread with its event loop, its sessions and their
// subscription index. Everything here runs on that thread except push() (any thread) and the
// counters (read at scrape time). Includes Asio; never include from outside server/.
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth/access.hpp"
#include "server/deflate_chain.hpp"
#include "server/frame_ref.hpp"
#include "server/server_state.hpp"
#include "server/subscriber.hpp"
#include "server/subscription_index.hpp"
#include "server/write_batch.hpp"
#include "publish/fanout_hub.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {

enum class drop_reason : uint8_t { slow_consumer, too_big, binary, protocol_error, invalid_payload, heartbeat, message_flood, count_ };
const char* name_of(drop_reason r);

// Written by the shard's thread only (a plain load and store, no locked instruction), read
// when /metrics is scraped.
struct shard_counters {
  std::array<std::atomic<uint64_t>, static_cast<size_t>(frame_type::count_)> sent{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(drop_reason::count_)> drops{};
  std::atomic<uint64_t> conflated{0};
  std::atomic<uint64_t> chained{0};       // updates sent as their deflate chain's frame
  std::atomic<uint64_t> rate_limited{0};  // client messages over messages_per_second
  std::atomic<uint64_t> auth_failed{0};   // tokens refused
  std::atomic<uint64_t> queue_depth_max{0};
  std::array<std::atomic<uint64_t>, client_protocol_names.size()> sessions{};  // open, by protocol
  void opened(client_protocol p) { bump(sessions[static_cast<size_t>(p)]); }
  void closed(client_protocol p) {
    auto& c = sessions[static_cast<size_t>(p)];
    c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  static void bump(std::atomic<uint64_t>& a, uint64_t n = 1) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sent_one(frame_type t) { bump(sent[static_cast<size_t>(t)]); }
  void dropped(drop_reason r) { bump(drops[static_cast<size_t>(r)]); }
  void depth(uint64_t d) {
    if (d > queue_depth_max.load(std::memory_order_relaxed)) queue_depth_max.store(d, std::memory_order_relaxed);
  }
};

class io_shard final : public record_inbox {
 public:
  io_shard(server::state& st, size_t index);
  ~io_shard() override;
  net::io_context& ioc() { return ioc_; }
  void start();
  void join();

  // From the publishing thread: queue the record and wake this thread (at the end of the
  // publishing thread's wake_batch when it holds one).
  void push(const std::shared_ptr<const published_record>& r) override;

  void add(std::shared_ptr<subscriber> c);
  // `c` has something to write: it stages it at the thread's next flush_dirty(), once.
  void mark_dirty(subscriber* c) {  // per delivery: inline
    if (c->marked_) return;
    c->marked_ = true;
    dirty_.push_back(c);
  }
  // Ends every session (shutdown): WebSocket sessions are sent close 1001.
  void close_all();
  size_t live_sessions() const { return live_.load(); }
  void session_finished() { live_--; }

  subscription_index& index() { return index_; }
  // The index of one user's personal topics (auth on); released when it holds nothing.
  subscription_index& personal_index(std::string_view user);
  void release_personal_index(std::string_view user);
  shard_counters& counters() { return counters_; }
  // Per-user limits as this thread checks them (cluster-wide ones through its own Redis client).
  user_limits& limits();
  std::span<char> read_buffer() { return read_buf_; }
  deflate_chains& chains() { return chains_; }
  // A reference to `r` counted by this thread (server/frame_ref.hpp): the sessions offered one
  // record share one block, so a delivery costs no atomic operation. Kept until the batch ends.
  const frame_ref& record_ref(const std::shared_ptr<const published_record>& r) {
    if (held_record_ != r.get()) {
      held_ = blocks_.hold(r);
      held_record_ = r.get();
    }
    return held_;
  }
  uint64_t random64() { return rng_(); }
  int64_t now_ms() const;  // steady clock
  server::state& st;

 private:
  void post_drain();  // posts drain(): the wake-up push() asks for
  void drain();
  void deliver(const std::shared_ptr<const published_record>& r);
  void conflate_batch();
  void flush_dirty();  // one batch of writes per round (server/write_batch.hpp)
  void arm_sweep();
  void sweep();

  // The memory of the one wake-up handler posted at a time (push() posts only when the inbox
  // was empty, and Asio frees a handler's memory before running it): no allocation per wake.
  struct wake_slot {
    alignas(std::max_align_t) unsigned char mem[256];
    std::atomic<bool> used{false};
  };
  template <class T>
  struct wake_allocator;

  // First: destroyed last, after every frame_ref the sessions, chains and handlers below hold.
  frame_blocks blocks_;
  frame_ref held_;  // the block of the record being delivered
  const published_record* held_record_ = nullptr;
  net::io_context ioc_{1};  // destroyed after the sessions its handlers hold
  std::thread thread_;
  size_t index_no_;
  wake_slot wake_mem_;
  std::mutex inbox_mu_;
  std::vector<std::shared_ptr<const published_record>> inbox_, batch_;
  std::unordered_map<uint32_t, size_t> newest_;  // conflate_batch's scratch
  uint64_t stamp_ = 0;
  subscription_index index_;
  std::unordered_map<std::string, subscription_index, text_hash, std::equal_to<>> personal_;
  std::vector<std::shared_ptr<subscriber>> sessions_;
  std::vector<subscriber*> dirty_, flushing_;
  std::unique_ptr<write_batch> writes_;  // made when the thread starts, on it
  std::atomic<size_t> live_{0};
  shard_counters counters_;
  std::unique_ptr<user_limits> redis_limits_;  // made on first use
  std::vector<char> read_buf_ = std::vector<char>(64 * 1024);
  deflate_chains chains_;
  std::mt19937_64 rng_;
  net::steady_timer sweep_timer_;
};

}  // namespace tributary
