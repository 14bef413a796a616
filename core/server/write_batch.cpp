#include "server/write_batch.hpp"

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <cstring>

namespace tributary {

namespace {
constexpr int kFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
constexpr ssize_t kPending = std::numeric_limits<ssize_t>::min();  // no result yet
}  // namespace

struct write_batch::ring {
  io_uring uring{};
  int error = 0;  // of io_uring_queue_init; 0: live

  ring() {
    // Completions are run only when this thread asks, and it asks at once (send_ring).
    error = io_uring_queue_init(kMaxWrites, &uring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (error == -EINVAL) error = io_uring_queue_init(kMaxWrites, &uring, 0);  // a kernel before 6.1
  }
  ~ring() {
    if (error == 0) io_uring_queue_exit(&uring);
  }
};

write_batch::write_batch(engine wanted) {
  entries_.reserve(kMaxWrites);
  done_.reserve(kMaxWrites);
  if (wanted != engine::io_uring) return;
  ring_ = std::make_unique<ring>();
  if (ring_->error == 0) return;
  why_not_ = std::string("io_uring_setup: ") + std::strerror(-ring_->error);
  ring_.reset();
}

write_batch::~write_batch() = default;

std::span<iovec> write_batch::room(size_t wanted) {
  size_t need = std::clamp<size_t>(wanted, 1, kMaxBuffersPerWrite);
  if (entries_.size() == kMaxWrites || kMaxBuffers - used_ < need) send();
  return {buffers_.data() + used_, std::min(kMaxBuffersPerWrite, kMaxBuffers - used_)};
}

void write_batch::add(int fd, size_t count, writer* to) {
  entry e{};
  e.header.msg_iov = buffers_.data() + used_;
  e.header.msg_iovlen = count;
  e.to = to;
  e.result = kPending;
  e.fd = fd;
  used_ += count;
  entries_.push_back(e);
}

void write_batch::send() {
  if (entries_.empty()) return;
  // One write gains nothing from the ring: its system call is paid either way.
  if (ring_ && entries_.size() > 1) send_ring();
  else send_each();
  done_.swap(entries_);
  used_ = 0;
  for (auto& e : done_) e.to->written(e.result);
  done_.clear();
}

void write_batch::send_each() {
  for (auto& e : entries_) {
    ssize_t w;
    do w = ::sendmsg(e.fd, &e.header, kFlags);
    while (w < 0 && errno == EINTR);
    e.result = w < 0 ? -errno : w;
  }
}

// Every write as one submission, waited for at once: MSG_DONTWAIT makes each complete inline
// (written, or -EAGAIN when its socket is full). If the ring itself fails, the writes it did
// not report are failed (their sessions close: sending them again could send twice), and the
// ring is given up for sendmsg.
void write_batch::send_ring() {
  io_uring* u = &ring_->uring;
  for (size_t i = 0; i < entries_.size(); ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(u);  // never null: the ring has room for kMaxWrites
    io_uring_prep_sendmsg(sqe, entries_[i].fd, &entries_[i].header, kFlags);
    io_uring_sqe_set_data64(sqe, i);
  }
  size_t left = entries_.size();
  while (left > 0) {
    int r = io_uring_submit_and_wait(u, static_cast<unsigned>(left));
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      why_not_ = std::string("io_uring_enter: ") + std::strerror(-r);
      for (auto& e : entries_)
        if (e.result == kPending) e.result = -EIO;
      ring_.reset();
      return;
    }
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(u, head, cqe) {
      ++seen;
      if (cqe->user_data < entries_.size()) entries_[cqe->user_data].result = cqe->res;
    }
    io_uring_cq_advance(u, seen);
    left -= std::min<size_t>(left, seen);
  }
}

}  // namespace tributary
