#include "server/send_queue.hpp"

#include <algorithm>

namespace tributary {

const char* name_of(frame_type t) {
  static constexpr const char* names[] = {"hello", "subscribed", "unsubscribed", "snapshot", "update",
                                          "pong",  "error",      "ping",         "close",        "authenticated"};
  return names[static_cast<size_t>(t)];
}

send_queue::result send_queue::push(out_frame&& f, bool limited) {
  if (f.topic != no_topic) {
    // Once a topic has a conflated update, anything newer of it replaces that one, so the
    // topic's frames stay in seq order.
    auto it = std::find_if(conflated_.begin(), conflated_.end(), [&](const out_frame& c) { return c.topic == f.topic; });
    if (it != conflated_.end()) {
      *it = std::move(f);
      return result::conflated;
    }
  }
  size_t size = f.bytes->size();
  if (!limited || head_ == ring_.size() || bytes_ + size <= limit_) {
    bytes_ += size;
    ring_.push_back(std::move(f));
    return result::queued;
  }
  if (policy_ == slow_policy::close) return result::refused;
  conflated_.push_back(std::move(f));
  return result::queued;
}

void send_queue::refill_from_conflated() {
  if (conflated_.empty()) return;
  // Moved, not swapped: each vector keeps the room it grew to, so a session that conflates
  // again and again does not reallocate either one.
  for (auto& f : conflated_) {
    bytes_ += f.bytes->size();
    ring_.push_back(std::move(f));
  }
  conflated_.clear();
}

size_t send_queue::gather(iovec* iov, size_t max) const {
  size_t n = 0;
  for (size_t i = head_; i < ring_.size() && n < max; ++i, ++n) {
    const auto& b = *ring_[i].bytes;
    size_t skip = i == head_ ? offset_ : 0;
    iov[n].iov_base = const_cast<char*>(b.data() + skip);
    iov[n].iov_len = b.size() - skip;
  }
  return n;
}

void send_queue::drop_unstarted(bool keep_replies) {
  size_t out = head_ + (offset_ > 0 ? 1 : 0);
  for (size_t i = out; i < ring_.size(); ++i) {
    bool data = ring_[i].type == frame_type::update || ring_[i].type == frame_type::snapshot;
    if (keep_replies && !data) ring_[out++] = std::move(ring_[i]);
    else bytes_ -= ring_[i].bytes->size();
  }
  ring_.resize(std::max(out, head_));
  settled_ = std::min(settled_, ring_.size());
  conflated_.clear();
}

void send_queue::release_memory() {
  if (!empty()) return;
  std::vector<out_frame>().swap(ring_);
  std::vector<out_frame>().swap(conflated_);
  head_ = offset_ = settled_ = 0;
}

}  // namespace tributary
