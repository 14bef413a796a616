#include "plugin/frame_io.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tributary::wire {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {

// Waits until `fd` is writable or the deadline passes.
bool wait_writable(int fd, int64_t deadline_ms) {
  for (;;) {
    int timeout = deadline_ms < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline_ms - steady_ms()));
    pollfd p{fd, POLLOUT, 0};
    int n = poll(&p, 1, timeout);
    if (n > 0) return true;
    if (n == 0) return errno = ETIMEDOUT, false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

bool send_frame(int fd, std::string_view payload, int64_t deadline_ms) {
  if (payload.size() > max_frame) return errno = EMSGSIZE, false;
  uint32_t n = static_cast<uint32_t>(payload.size());
  unsigned char head[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                           static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  iovec parts[2] = {{head, 4}, {const_cast<char*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = parts;
  msg.msg_iovlen = 2;
  size_t left = 4 + payload.size();
  while (left > 0) {
    ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable(fd, deadline_ms)) continue;
      return false;
    }
    left -= static_cast<size_t>(w);
    while (w > 0 && msg.msg_iovlen > 0) {  // drop what was sent from the front of the parts
      size_t take = std::min(static_cast<size_t>(w), msg.msg_iov->iov_len);
      msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + take;
      msg.msg_iov->iov_len -= take;
      w -= static_cast<ssize_t>(take);
      if (msg.msg_iov->iov_len == 0) ++msg.msg_iov, --msg.msg_iovlen;
    }
  }
  return true;
}

frame_reader::fill_result frame_reader::fill(int fd) {
  constexpr size_t chunk = 65536;
  if (start_ == end_) start_ = end_ = 0;
  if (buf_.size() - end_ < chunk && start_ > 0) {  // move the partial frame to the front
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buf_.size() - end_ < chunk) buf_.resize(end_ + chunk);  // only ever grows: no zeroing per read
  for (;;) {
    ssize_t r = recv(fd, buf_.data() + end_, buf_.size() - end_, 0);
    if (r > 0) {
      end_ += static_cast<size_t>(r);
      return fill_result::data;
    }
    if (r == 0) return fill_result::closed;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return fill_result::again;
    if (errno != EINTR) return fill_result::error;
  }
}

std::optional<std::string_view> frame_reader::next(bool& too_large) {
  too_large = false;
  if (end_ - start_ < 4) return std::nullopt;
  auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + start_);
  size_t n = (size_t{h[0]} << 24) | (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | size_t{h[3]};
  if (n > max_frame) return too_large = true, std::nullopt;
  if (end_ - start_ - 4 < n) return std::nullopt;
  std::string_view frame(buf_.data() + start_ + 4, n);
  start_ += 4 + n;
  return frame;
}

}  // namespace tributary::wire
