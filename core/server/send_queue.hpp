#pragma once
// A session's outgoing frames, bounded in bytes. Frames are shared, pre-encoded WebSocket
// frames; a session only holds references. Over the bound, an update either conflates (only
// the newest pending update per topic is kept) or is refused, so the caller can close the
// session. Frames sent in answer to the client (replies, snapshots, recovery) are never
// refused: they are bounded by what the client asked for, not by the publish rate.
// Not thread-safe: a session's queue lives on its I/O thread.
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "config/modes.hpp"
#include "server/frame_ref.hpp"
#include "server/write_batch.hpp"

namespace tributary {

enum class frame_type : uint8_t { hello, subscribed, unsubscribed, snapshot, update, pong, error, ping, close, authenticated, count_ };
const char* name_of(frame_type t);

constexpr uint32_t no_topic = UINT32_MAX;

struct out_frame {
  frame_ref bytes;
  uint32_t topic = no_topic;  // the topic an update or snapshot belongs to
  frame_type type = frame_type::update;
  // The update compressed in the session's deflate chain: sent instead of `bytes` when it
  // follows what the client has inflated so far, decided when the frame is about to be written.
  // Its block is the chained_frame (server/deflate_chain.hpp).
  frame_ref chained = {};
};

class send_queue {
 public:
  enum class result { queued, conflated, refused };

  send_queue(size_t limit_bytes, slow_policy policy) : limit_(limit_bytes), policy_(policy) {}
  // A live update: subject to the bound.
  result push_update(out_frame&& f) { return push(std::move(f), true); }
  // Anything sent in answer to the client: never refused, still ordered with updates per topic.
  void push_reply(out_frame&& f) { push(std::move(f), false); }

  // Settles the bytes of each frame not settled before, in the order they will be written:
  // `settle(frame)` may replace frame.bytes (the bound counts the new size).
  template <class F>
  void settle(F&& settle);
  // Fills `iov` with up to `max` unsent buffers, in order; returns how many.
  size_t gather(iovec* iov, size_t max) const;
  // `n` bytes were written; calls on_sent(type) for each frame completed.
  template <class F>
  void consume(size_t n, F&& on_sent);
  // Drops everything not yet started, keeping a partly written front frame (it must finish,
  // or the stream is corrupt). Used before a close frame; `keep_replies` keeps queued replies
  // (an error that says why the session closes), dropping only updates and snapshots.
  void drop_unstarted(bool keep_replies = false);
  void release_memory();  // gives back storage when empty
  size_t capacity() const { return ring_.capacity() + conflated_.capacity(); }

  bool empty() const { return head_ == ring_.size() && conflated_.empty(); }
  size_t bytes() const { return bytes_; }
  size_t depth() const { return (ring_.size() - head_) + conflated_.size(); }
  bool started() const { return offset_ > 0; }
  const void* next_slot() const { return ring_.data() + ring_.size(); }  // where the next frame goes

 private:
  result push(out_frame&& f, bool limited);
  void refill_from_conflated();

  size_t limit_;
  slow_policy policy_;
  // Frames in order; [head_, size) are pending. A vector reused as a queue: it is compacted
  // when drained, so a steady session makes no allocation.
  std::vector<out_frame> ring_;
  size_t head_ = 0;
  size_t offset_ = 0;  // bytes of ring_[head_] already written
  size_t settled_ = 0; // ring_[head_, settled_) are settled
  size_t bytes_ = 0;   // pending bytes in ring_
  // While over the bound: the newest pending update per topic, sent after ring_ drains.
  std::vector<out_frame> conflated_;
};

template <class F>
void send_queue::settle(F&& settle) {
  for (size_t i = std::max(settled_, head_); i < ring_.size(); ++i) {
    size_t before = ring_[i].bytes->size();
    settle(ring_[i]);
    bytes_ = bytes_ - before + ring_[i].bytes->size();
  }
  settled_ = ring_.size();
}

template <class F>
void send_queue::consume(size_t n, F&& on_sent) {
  while (n > 0 && head_ < ring_.size()) {
    auto& f = ring_[head_];
    size_t left = f.bytes->size() - offset_;
    if (n < left) {
      offset_ += n;
      bytes_ -= n;
      return;
    }
    n -= left;
    bytes_ -= left;
    on_sent(f.type);
    f.bytes.reset();
    offset_ = 0;
    ++head_;
  }
  if (head_ == ring_.size()) {
    ring_.clear();
    head_ = settled_ = 0;
    refill_from_conflated();
  }
}

enum class send_status { drained, would_block, failed };

// For a queue whose frames are final as queued: send_queued does not look at them.
inline constexpr auto settle_nothing = [](out_frame&) {};

// Writes what `q` holds to the non-blocking socket `fd`, gathered, until it is drained or the
// socket is full; on_sent(type) for each frame completed. Each frame is settled (see
// send_queue::settle) before it is first gathered, conflated ones included.
// The batched form of send_queued: stages what `q` holds (settled already) as one write of `b`
// to `fd`, whose result comes to `to->written()`. False when there was nothing to stage.
inline bool stage_queued(int fd, send_queue& q, write_batch& b, write_batch::writer* to) {
  auto room = b.room(q.depth());
  size_t n = q.gather(room.data(), room.size());
  if (n == 0) return false;
  b.add(fd, n, to);
  return true;
}

template <class S, class F>
send_status send_queued(int fd, send_queue& q, S&& settle, F&& on_sent) {
  constexpr size_t kMaxIov = 1024;  // IOV_MAX
  iovec iov[kMaxIov];
  for (;;) {
    if constexpr (!std::is_same_v<std::decay_t<S>, std::decay_t<decltype(settle_nothing)>>) q.settle(settle);
    size_t n = q.gather(iov, kMaxIov);
    if (n == 0) return send_status::drained;
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    ssize_t w = ::sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? send_status::would_block : send_status::failed;
    }
    q.consume(static_cast<size_t>(w), on_sent);
  }
}

}  // namespace tributary
