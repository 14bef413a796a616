#pragma once
// RFC 6455 framing for the server side, without I/O: encoding server frames (unmasked, so one
// encoded update frame is shared by every session) and an incremental reader of client frames
// that enforces the protocol's rules (masking, control frame limits, fragmentation, UTF-8) and
// our size limit. Hostile input yields a close code and a reason, never an exception.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tributary::ws {

enum class opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

enum class close_code : uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  invalid_payload = 1007,
  policy_violation = 1008,
  too_big = 1009,
  internal_error = 1011,
};

// A complete server frame: header and payload.
std::string make_frame(opcode op, std::string_view payload);
// Appends the header of a server frame whose payload is `size` bytes (the payload follows).
void put_header(std::string& out, opcode op, size_t size);
// The payload of a complete, unmasked server frame made by make_frame or put_header.
std::string_view frame_payload(std::string_view frame);
std::string make_close_frame(close_code code, std::string_view reason);
// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);
// True when the key is the base64 form of 16 bytes, as RFC 6455 requires.
bool valid_client_key(std::string_view key);
bool valid_utf8(std::string_view s);

// What a client sent, one complete message or control frame at a time.
class frame_handler {
 public:
  virtual ~frame_handler() = default;
  virtual void on_text(std::string_view message) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  virtual void on_peer_close(close_code code) = 0;
  // The client broke the protocol or a limit: close with `code`.
  virtual void on_violation(close_code code, std::string_view why) = 0;
};

class frame_reader {
 public:
  explicit frame_reader(size_t max_message) : max_message_(max_message) {}
  // Parses what `data` completes; unmasks in place. Keeps an incomplete tail for the next call.
  // Stops at the first violation or close (then returns false and ignores later calls).
  bool feed(char* data, size_t n, frame_handler& h);
  // Ignore everything after this (the session is closing).
  void stop() { done_ = true; }
  // permessage-deflate was agreed: a text message may come compressed (RSV1 on its first frame).
  void accept_deflate() { deflate_ = true; }
  // Bytes held between calls (an incomplete frame, a fragmented message).
  size_t buffered() const { return pending_.capacity() + message_.capacity(); }

 private:
  // Returns bytes used from `p` (0 = need more), or -1 after a violation or close.
  long parse_one(char* p, size_t n, frame_handler& h);
  bool deliver(opcode op, bool fin, char* payload, size_t len, frame_handler& h);
  bool deliver_text(std::string_view message, frame_handler& h);

  size_t max_message_;
  std::string pending_;  // an incomplete frame
  std::string message_;  // fragments of a text message so far
  bool in_message_ = false;
  bool done_ = false;
  bool deflate_ = false;     // RSV1 allowed on a message's first frame
  bool compressed_ = false;  // the message being read is compressed
};

}  // namespace tributary::ws
