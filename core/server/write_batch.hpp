#pragma once
// Internal to server/: the socket writes of one flush, made together. Each session that has
// frames queued stages one gathered write (its buffers, its socket); send() then makes them
// all with a single system call through io_uring where the kernel allows it, else one
// non-blocking sendmsg each, and hands every session its result in the order they were staged.
//
// Why: on personal topics nearly every delivery is a write of its own, and a system call's
// entry and exit cost about 1.6 µs on the machines measured (docs/benchmarks.md), as much as
// the TCP work. One io_uring_enter for a batch of writes pays that once.
//
// Writes are non-blocking (MSG_DONTWAIT): one that finds its socket full completes at once
// with -EAGAIN, so send() never waits on a client. Runs on one I/O thread; not thread-safe.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tributary {

class write_batch {
 public:
  enum class engine : uint8_t { io_uring, sendmsg };

  // What a staged write reports to: `result` is the bytes written, or -errno.
  class writer {
   public:
    virtual void written(ssize_t result) = 0;

   protected:
    ~writer() = default;
  };

  // io_uring when `wanted` and the kernel allows it (it may be refused: an old kernel,
  // kernel.io_uring_disabled, a seccomp filter); else sendmsg. Make it on the thread that uses
  // it: the ring is single-issuer.
  explicit write_batch(engine wanted = engine::io_uring);
  ~write_batch();
  write_batch(const write_batch&) = delete;
  write_batch& operator=(const write_batch&) = delete;

  engine used() const { return ring_ ? engine::io_uring : engine::sendmsg; }
  // Why io_uring is not used (empty when it is, or was not wanted).
  const std::string& fallback_reason() const { return why_not_; }

  // Room for the buffers of one more write, `wanted` of them if it can (up to
  // kMaxBuffersPerWrite): when the batch has no room for that, what it holds is sent first.
  // Never empty.
  std::span<iovec> room(size_t wanted);
  // Stages a write of room()'s first `count` buffers to `fd`: `to->written()` is called from
  // send(). `count` > 0.
  void add(int fd, size_t count, writer* to);
  // Makes every staged write, then reports each, in the order staged. A writer's written()
  // may write on its own (flush) but must not stage into this batch while it reports.
  void send();
  size_t staged() const { return entries_.size(); }

  static constexpr size_t kMaxWrites = 256;        // staged writes per system call
  static constexpr size_t kMaxBuffers = 4096;      // their buffers, in all
  static constexpr size_t kMaxBuffersPerWrite = 1024;  // IOV_MAX

 private:
  struct entry {
    msghdr header;
    writer* to;
    ssize_t result;
    int fd;
  };
  struct ring;

  void send_each();  // one sendmsg per write
  void send_ring();  // one io_uring_enter for them all

  std::unique_ptr<ring> ring_;
  std::string why_not_;
  std::vector<iovec> buffers_ = std::vector<iovec>(kMaxBuffers);
  size_t used_ = 0;  // buffers_[0, used_) are staged
  std::vector<entry> entries_, done_;
};

}  // namespace tributary
