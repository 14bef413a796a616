#include "server/io_shard.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "server/subscriber.hpp"
#include "util/thread_name.hpp"
#include "util/wake_batch.hpp"

namespace tributary {

namespace {
// A batch longer than this means the thread is behind the publish rate: it then delivers only
// the newest record per topic of the batch (clients see seq jump forward, as for a slow reader)
// instead of falling further behind.
constexpr size_t kConflateBatch = 16384;
// Records delivered between two flushes: enough that a session's write carries many frames, few
// enough that the queues filled between two writes stay in cache (a thousand sessions queueing a
// whole backlog each before writing any made the thread slower the further behind it was).
constexpr size_t kSlice = 128;
}  // namespace

const char* name_of(drop_reason r) {
  static constexpr const char* names[] = {"slow_consumer", "too_big", "binary", "protocol_error", "invalid_payload", "heartbeat", "message_flood"};
  return names[static_cast<size_t>(r)];
}

template <class T>
struct io_shard::wake_allocator {
  using value_type = T;
  wake_slot* slot;
  explicit wake_allocator(wake_slot* s) : slot(s) {}
  template <class U>
  wake_allocator(const wake_allocator<U>& o) : slot(o.slot) {}
  T* allocate(size_t n) {
    if (n * sizeof(T) <= sizeof(slot->mem) && !slot->used.exchange(true, std::memory_order_acquire))
      return reinterpret_cast<T*>(slot->mem);
    return static_cast<T*>(::operator new(n * sizeof(T)));  // a second wake-up in flight: the heap
  }
  void deallocate(T* p, size_t) {
    if (reinterpret_cast<unsigned char*>(p) == slot->mem) slot->used.store(false, std::memory_order_release);
    else ::operator delete(p);
  }
  template <class U>
  bool operator==(const wake_allocator<U>& o) const { return slot == o.slot; }
  template <class U>
  bool operator!=(const wake_allocator<U>& o) const { return slot != o.slot; }
};

io_shard::io_shard(server::state& s, size_t index)
    : st(s), index_no_(index), rng_(std::random_device{}()), sweep_timer_(ioc_) {}

io_shard::~io_shard() { join(); }

int64_t io_shard::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void io_shard::start() {
  arm_sweep();
  thread_ = std::thread([this] {
    writes_ = std::make_unique<write_batch>();  // here: its ring belongs to this thread
    if (writes_->used() == write_batch::engine::sendmsg && index_no_ == 0)
      st.log->info("io_uring unavailable ({}): the I/O threads write with one sendmsg per session", writes_->fallback_reason());
    auto work = net::make_work_guard(ioc_);
    ioc_.run();
  });
  name_thread(thread_, "io-" + std::to_string(index_no_));
}

void io_shard::join() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
}

void io_shard::push(const std::shared_ptr<const published_record>& r) {
  bool wake;
  {
    std::lock_guard lk(inbox_mu_);
    wake = inbox_.empty();
    inbox_.push_back(r);
  }
  if (wake) wake_batch::wake([](void* self) { static_cast<io_shard*>(self)->post_drain(); }, this);
}

void io_shard::post_drain() {
  net::post(ioc_, net::bind_allocator(wake_allocator<void>(&wake_mem_), [this] { drain(); }));
}

void io_shard::drain() {
  {
    std::lock_guard lk(inbox_mu_);
    batch_.swap(inbox_);
  }
  if (batch_.size() > kConflateBatch) conflate_batch();
  // A slice at a time, each followed by one flush per session: its frames of the slice go out in
  // one write, and what the sessions have queued stays small enough to stay in the CPU's cache.
  for (size_t from = 0; from < batch_.size(); from += kSlice) {
    for (size_t i = from; i < std::min(batch_.size(), from + kSlice); ++i)
      if (batch_[i]) deliver(batch_[i]);
    flush_dirty();
  }
  batch_.clear();
  held_.reset();  // the last record is not kept for the next batch
  held_record_ = nullptr;
}

// Each dirty session stages its write, and the batch makes them all with one system call. A
// session that becomes dirty again meanwhile (a close frame queued by a failed write) is
// written in the next round: one write per session in a batch keeps its bytes in order.
void io_shard::flush_dirty() {
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    for (auto* s : flushing_) {
      s->marked_ = false;  // from here, a new mark is for the next round
      s->stage(*writes_);
    }
    writes_->send();
    flushing_.clear();
  }
}

void io_shard::deliver(const std::shared_ptr<const published_record>& r) {
  ++stamp_;
  auto offer = [&](subscriber* c) { c->offer(r, stamp_); };
  if (!st.auth) return index_.for_each_match(r->topic, r->topic_id, offer);
  // A personal topic goes to its owner's sessions only, never through the shared index.
  auto owner = personal_owner(r->topic);
  if (owner.empty()) return index_.for_each_match(r->topic, r->topic_id, offer);
  if (auto it = personal_.find(owner); it != personal_.end()) it->second.for_each_match(r->topic, offer);
}

subscription_index& io_shard::personal_index(std::string_view user) {
  auto it = personal_.find(user);
  if (it == personal_.end()) it = personal_.emplace(std::string(user), subscription_index{}).first;
  return it->second;
}

void io_shard::release_personal_index(std::string_view user) {
  if (auto it = personal_.find(user); it != personal_.end() && it->second.patterns() == 0) personal_.erase(it);
}

void io_shard::conflate_batch() {
  newest_.clear();
  for (size_t i = 0; i < batch_.size(); ++i) newest_[batch_[i]->topic_id] = i;
  for (size_t i = 0; i < batch_.size(); ++i)
    if (newest_[batch_[i]->topic_id] != i) {
      batch_[i].reset();
      counters_.bump(counters_.conflated);
    }
}

user_limits& io_shard::limits() {
  if (st.memory_user_limits) return *st.memory_user_limits;
  if (!redis_limits_) {
    const auto& o = st.settings()->opts;
    user_limit_options lo{o.connections_per_user, o.messages_per_minute_per_user, parse_redis_url(o.user_limits_redis),
                          o.user_limits_prefix};
    redis_limits_ = make_redis_user_limits(lo, st.user_limit_counts);
  }
  return *redis_limits_;
}

void io_shard::add(std::shared_ptr<subscriber> c) {
  live_++;
  sessions_.push_back(std::move(c));
}

void io_shard::close_all() {
  for (auto& s : sessions_) s->shut_down();
}

void io_shard::arm_sweep() {
  auto period = std::clamp<int64_t>(st.settings()->opts.heartbeat.count() / 8, 5, 1000);
  sweep_timer_.expires_after(std::chrono::milliseconds(period));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    sweep();
    arm_sweep();
  });
}

void io_shard::sweep() {
  int64_t now = now_ms();
  for (size_t i = 0; i < sessions_.size(); ++i) sessions_[i]->heartbeat(now);
  flush_dirty();  // the pings, in batches; before a finished session leaves (dirty_ holds pointers)
  std::erase_if(sessions_, [](const auto& s) { return s->finished(); });
}

}  // namespace tributary
