#pragma once
// Internal to server/: a reference to a frame's bytes as the sessions of one I/O thread hold it.
//
// A broadcast queues the same record frame once per session. Counting those references with an
// atomic (a std::shared_ptr copy per delivery) was the largest user-space cost at broadcast
// saturation: a locked instruction per delivery, which also waits for every store before it
// (docs/benchmarks.md). A frame_block instead holds one reference to whatever keeps the bytes
// alive (a record: one atomic operation per record per thread) and counts the thread's
// references to itself with a plain integer. Every frame_ref to a block lives on the block's
// thread; a frame_ref never crosses threads.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tributary {

struct frame_block {
  using last_fn = void (*)(frame_block*);
  explicit frame_block(last_fn on_last = nullptr) : on_last(on_last) {}
  uint32_t refs = 0;
  last_fn on_last;  // called when refs drops to 0 (nullptr: nothing to do, the owner recycles it)
};

class frame_ref {
 public:
  frame_ref() = default;
  // `bytes` must stay valid while `b` has references. With no bytes, the reference only keeps
  // the block (see frame_blocks::hold).
  frame_ref(frame_block* b, const std::string* bytes) noexcept : b_(b), bytes_(bytes) {
    if (b_) ++b_->refs;
  }
  frame_ref(const frame_ref& o) noexcept : frame_ref(o.b_, o.bytes_) {}
  frame_ref(frame_ref&& o) noexcept : b_(std::exchange(o.b_, nullptr)), bytes_(std::exchange(o.bytes_, nullptr)) {}
  frame_ref& operator=(frame_ref o) noexcept {
    std::swap(b_, o.b_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~frame_ref() { reset(); }
  void reset() noexcept {
    if (b_ && --b_->refs == 0 && b_->on_last) b_->on_last(b_);
    b_ = nullptr;
    bytes_ = nullptr;
  }

  // Other bytes kept alive by the same block (another encoding of the same record); empty when
  // `bytes` is null.
  frame_ref with(const std::string* bytes) const { return bytes ? frame_ref(b_, bytes) : frame_ref(); }
  // A frame of its own (a reply, an event): block and bytes in one allocation.
  static frame_ref own(std::string bytes);

  explicit operator bool() const { return bytes_ != nullptr; }
  const std::string& operator*() const { return *bytes_; }
  const std::string* operator->() const { return bytes_; }
  const std::string* get() const { return bytes_; }
  frame_block* block() const { return b_; }
  bool operator==(const frame_ref& o) const { return bytes_ == o.bytes_; }

 private:
  frame_block* b_ = nullptr;
  const std::string* bytes_ = nullptr;
};

// The blocks of one I/O thread for things shared with other threads (records): recycled, so a
// steady stream of records allocates none. Must outlive every frame_ref to its blocks.
class frame_blocks {
 public:
  frame_blocks() = default;
  frame_blocks(const frame_blocks&) = delete;
  frame_blocks& operator=(const frame_blocks&) = delete;
  // A reference (to no bytes yet: see frame_ref::with) to a block holding `owner`.
  frame_ref hold(std::shared_ptr<const void> owner);
  size_t in_use() const { return made_ - free_count_; }

 private:
  struct block : frame_block {
    block() : frame_block(&back) {}
    static void back(frame_block* b);
    std::shared_ptr<const void> owner;
    frame_blocks* home = nullptr;
    block* next_free = nullptr;
  };
  void give_back(block* b);

  std::vector<std::unique_ptr<block[]>> chunks_;
  block* free_ = nullptr;
  size_t made_ = 0, free_count_ = 0;
};

}  // namespace tributary
