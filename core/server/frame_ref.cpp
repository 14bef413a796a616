#include "server/frame_ref.hpp"

namespace tributary {

namespace {
struct own_block : frame_block {
  explicit own_block(std::string b) : frame_block(&last), bytes(std::move(b)) {}
  static void last(frame_block* b) { delete static_cast<own_block*>(b); }
  std::string bytes;
};
constexpr size_t kChunk = 256;  // blocks made at a time
}  // namespace

frame_ref frame_ref::own(std::string bytes) {
  auto* b = new own_block(std::move(bytes));
  return {b, &b->bytes};
}

frame_ref frame_blocks::hold(std::shared_ptr<const void> owner) {
  if (!free_) {
    auto chunk = std::make_unique<block[]>(kChunk);
    for (size_t i = 0; i < kChunk; ++i) {
      chunk[i].home = this;
      chunk[i].next_free = free_;
      free_ = &chunk[i];
    }
    chunks_.push_back(std::move(chunk));
    made_ += kChunk;
    free_count_ += kChunk;
  }
  block* b = free_;
  free_ = b->next_free;
  --free_count_;
  b->owner = std::move(owner);
  return frame_ref(b, nullptr);
}

void frame_blocks::block::back(frame_block* fb) {
  auto* b = static_cast<block*>(fb);
  b->home->give_back(b);
}

void frame_blocks::give_back(block* b) {
  b->owner.reset();  // the one atomic operation: the record may now be recycled
  b->next_free = free_;
  free_ = b;
  ++free_count_;
}

}  // namespace tributary
