#include "server/deflate_chain.hpp"

#include "wire/ws_frame.hpp"

namespace tributary {

namespace {
void delete_chained(frame_block* b) { delete static_cast<chained_frame*>(b); }
}  // namespace

deflate_chain::deflate_chain(uint64_t serial, std::string key) : z_(kWindowBits, kMemLevel), serial_(serial), key_(std::move(key)) {}

deflate_chain::~deflate_chain() {
  last_.reset();
  for (auto& p : pool_)
    if (p && p->refs > 0) p.release()->on_last = &delete_chained;  // still queued: the last session frees it
}

frame_ref deflate_chain::frame_for(const std::shared_ptr<const published_record>& r, const frame_ref& plain) {
  if (sessions() < 2) {
    paused_ = true;  // the records it skips are missing from its window: start afresh
    return {};
  }
  if (r == last_record_) return plain == last_plain_ ? last_ : frame_ref();
  bool reset = next_ == 0 || paused_ || (reset_wanted_ && since_reset_ >= kMinResetGap);
  last_.reset();  // before spare(): the frame compressed last may be the one recycled
  auto* f = spare();
  last_record_ = r;
  last_plain_ = plain;
  if (!z_.compress(ws::frame_payload(*plain), reset, f->bytes)) {
    paused_ = true;  // the stream is in an unknown state: the next frame resets
    frame_ref(f, &f->bytes).reset();  // nobody took it: a spare one goes back, an extra one is freed
    return {};
  }
  if (reset) {
    reset_wanted_ = paused_ = false;
    since_reset_ = 0;
  }
  ++since_reset_;
  f->chain = serial_;
  f->index = next_++;
  f->reset = reset;
  last_ = frame_ref(f, &f->bytes);
  return last_;
}

chained_frame* deflate_chain::spare() {
  for (size_t i = 0; i < pool_.size(); ++i) {
    auto& p = pool_[(pool_next_ + i) % pool_.size()];
    if (!p) p = std::make_unique<chained_frame>();
    if (p->refs == 0) {  // no session has it queued
      pool_next_ = (pool_next_ + i + 1) % pool_.size();
      if (p->bytes.capacity() > kKeepBytes) std::string().swap(p->bytes);  // one big record does not stay resident
      return p.get();
    }
  }
  return new chained_frame(&delete_chained);  // every pooled frame is still queued somewhere
}

std::shared_ptr<deflate_chain> deflate_chains::join(const std::string& key) {
  if (auto it = by_key_.find(key); it != by_key_.end())
    if (auto c = it->second.lock()) return c;
  if (by_key_.size() >= kMaxChains) prune();
  if (by_key_.size() >= kMaxChains) return nullptr;
  auto c = std::make_shared<deflate_chain>(++serial_, key);
  by_key_[key] = c;
  return c;
}

void deflate_chains::prune() { std::erase_if(by_key_, [](const auto& kv) { return kv.second.expired(); }); }

bool chain_sync::settle(out_frame& f, deflate_chain* current) {
  bool b = f.chained && choose(*static_cast<const chained_frame*>(f.chained.block()), current);
  if (b) f.bytes = f.chained;
  else if (!f.bytes->empty() && ((*f.bytes)[0] & 0x40) != 0) following_ = false;  // RSV1: it enters the client's window
  f.chained.reset();
  return b;
}

bool chain_sync::choose(const chained_frame& f, deflate_chain* current) {
  if (f.reset || (following_ && f.chain == chain_ && f.index == next_)) {
    chain_ = f.chain;
    next_ = f.index + 1;
    following_ = true;
    return true;
  }
  following_ = false;
  if (current) current->want_reset();
  return false;
}

}  // namespace tributary
