#include "publish/published.hpp"

#include <mutex>
#include <vector>

namespace tributary {

namespace {

// Free blocks of one size, shared by every thread (a record is made on one thread and freed on
// another). Keeps at most `kKeep` blocks; the rest go back to the heap.
constexpr size_t kKeep = 1 << 16;

template <size_t Size, size_t Align>
struct block_list {
  std::mutex mu;
  std::vector<void*> free;
  static block_list& get() {
    static auto* l = new block_list;  // never destroyed: blocks may be freed during static destruction
    return *l;
  }
  void* take() {
    {
      std::lock_guard lk(mu);
      if (!free.empty()) {
        void* p = free.back();
        free.pop_back();
        return p;
      }
    }
    return ::operator new(Size, std::align_val_t(Align));
  }
  void give(void* p) {
    {
      std::lock_guard lk(mu);
      if (free.size() < kKeep) return free.push_back(p);
    }
    ::operator delete(p, std::align_val_t(Align));
  }
};

// For shared_ptr's control blocks: recycled like the records.
template <class T>
struct recycling_allocator {
  using value_type = T;
  recycling_allocator() = default;
  template <class U>
  recycling_allocator(const recycling_allocator<U>&) {}
  T* allocate(size_t n) {
    if (n != 1) return std::allocator<T>().allocate(n);
    return static_cast<T*>(block_list<sizeof(T), alignof(T)>::get().take());
  }
  void deallocate(T* p, size_t n) {
    if (n != 1) return std::allocator<T>().deallocate(p, n);
    block_list<sizeof(T), alignof(T)>::get().give(p);
  }
  template <class U>
  bool operator==(const recycling_allocator<U>&) const { return true; }
};

// Empties a DOM bottom-up. nlohmann destroys a non-empty object or array through a heap-allocated
// stack (to avoid recursion); emptied first, nothing is allocated. Deeper than a free-form
// event nests in practice, it leaves the rest to nlohmann.
void empty_out(nlohmann::json& j, int depth = 0) {
  if (!j.is_structured() || depth > 32) return;
  for (auto& child : j) empty_out(child, depth + 1);
  j.clear();
}

class record_pool {
 public:
  static record_pool& get() {
    static auto* p = new record_pool;  // never destroyed, like the block lists
    return *p;
  }
  published_record* take() {
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        auto* p = free_.back();
        free_.pop_back();
        return p;
      }
    }
    // Room for a usual record from the start, so recycled buffers settle at their size soon.
    auto* p = new published_record;
    p->json.reserve(384);
    p->frame.reserve(448);
    p->rec.subject.reserve(32);  // past the short-string size: personal subjects (user.<id>.orders)
    p->topic.reserve(48);
    return p;
  }
  // Cleared, with the strings' capacity kept (up to a bound: one huge record must not pin its
  // size in the pool forever).
  void give(published_record* p) {
    constexpr size_t kMaxKept = 16 * 1024;
    bool huge = p->json.capacity() > kMaxKept || p->frame.capacity() > kMaxKept;
    auto* dialects = p->dialect_frames.load(std::memory_order_acquire);
    for (auto& v : p->variants) huge = huge || v.bytes.capacity() > kMaxKept;
    for (size_t i = 0; dialects && i < dialects->slots.size(); ++i) huge = huge || dialects->slots[i].bytes.capacity() > kMaxKept;
    if (huge) {
      delete p;
      return;
    }
    empty_out(p->rec.data);
    p->rec.data = nullptr;
    p->rec.data_text.clear();
    p->rec.seq = 0;
    p->rec.stale = false;
    p->json.clear();
    p->frame.clear();
    auto clear = [](published_record::variant_slot& v) {
      v.bytes.clear();
      v.state.store(0, std::memory_order_relaxed);
    };
    for (auto& v : p->variants) clear(v);
    for (size_t i = 0; dialects && i < dialects->slots.size(); ++i) clear(dialects->slots[i]);
    p->topic_id = 0;
    p->table = 0;
    p->epoch = 0;
    p->position_key.clear();
    p->position = -1;
    {
      std::lock_guard lk(mu_);
      if (free_.size() < kKeep) return free_.push_back(p);
    }
    delete p;
  }

 private:
  std::mutex mu_;
  std::vector<published_record*> free_;
};

struct recycle {
  void operator()(published_record* p) const { record_pool::get().give(p); }
};

}  // namespace

std::shared_ptr<published_record> published_record::acquire() {
  return std::shared_ptr<published_record>(record_pool::get().take(), recycle{}, recycling_allocator<published_record>{});
}

void published_record::set_topic() { topic.assign(rec.kind).append(1, '.').append(rec.subject); }

std::shared_ptr<published_record> published_record::wrap(const record& r) {
  auto p = acquire();
  p->rec = r;
  p->set_topic();
  return p;
}

std::shared_ptr<published_record> published_record::wrap(record&& r) {
  auto data = std::move(r.data);  // null once moved from: the copy below does not copy the DOM
  auto p = wrap(static_cast<const record&>(r));
  p->rec.data = std::move(data);
  return p;
}

void published_record::seal(frame_maker frames) {
  rec.write_json(json);
  if (frames) frames(*this);
}

std::shared_ptr<const published_record> published_record::make(record r, uint32_t topic_id, frame_maker frames, uint64_t epoch) {
  auto p = wrap(std::move(r));
  p->topic_id = topic_id;
  p->epoch = epoch;
  p->seal(frames);
  return p;
}

}  // namespace tributary
