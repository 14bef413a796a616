#pragma once
// The plugin protocol's framing: each message is a 4-byte big-endian length, then that many
// bytes of UTF-8 JSON. Used by the host (non-blocking socket, deadlines) and by plugin-host.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tributary::wire {

constexpr size_t max_frame = 64u << 20;  // a longer frame is a protocol error

// Milliseconds of a monotonic clock, for deadlines.
int64_t steady_ms();

// Sends `payload` as one frame (header and body in one write where the socket takes it).
// deadline_ms: a steady_ms() time, or -1 to wait as long as it takes. False on error or at
// the deadline (errno ETIMEDOUT).
bool send_frame(int fd, std::string_view payload, int64_t deadline_ms);

class frame_reader {
 public:
  enum class fill_result { data, closed, again, error };  // again: a non-blocking socket had nothing
  // One read of what the socket has (blocking unless the socket is not).
  fill_result fill(int fd);
  // The next complete frame in the buffer, valid until the next fill or next; nullopt when
  // none is complete. Sets `too_large` when the next frame announces more than max_frame.
  std::optional<std::string_view> next(bool& too_large);
  void reset() { start_ = end_ = 0; }

 private:
  std::string buf_;
  size_t start_ = 0, end_ = 0;
};

}  // namespace tributary::wire
