#pragma once
// Waits until a descriptor is ready for `events` (POLLIN, POLLOUT) or a deadline passes; EINTR
// is waited through. For the blocking clients that read with a deadline (Redis, TLS).
#include <poll.h>

#include <cerrno>
#include <chrono>

namespace tributary {

enum class fd_ready { ready, timeout, failed };  // failed: errno says why

inline fd_ready wait_fd(int fd, short events, std::chrono::steady_clock::time_point by) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(by - std::chrono::steady_clock::now()).count();
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left > 0 ? left : 0));
    if (n > 0) return fd_ready::ready;
    if (n == 0) return fd_ready::timeout;
    if (errno != EINTR) return fd_ready::failed;
  }
}

}  // namespace tributary
