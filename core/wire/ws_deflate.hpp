#pragma once
// permessage-deflate (RFC 7692) for the server. A message the server sends is either
// compressed on its own (make_deflated_frame: one frame per record serves every compressing
// session) or, when the client allows context takeover, by a deflate_stream that refers back to
// the messages before it (a chain several sessions share, see server/deflate_chain.hpp). The
// server answers with client_no_context_takeover, so each client message inflates on its own.
// No I/O.
#include <zlib.h>

#include <optional>
#include <string>
#include <string_view>

namespace tributary::ws {

struct deflate_agreement {
  std::string answer;     // the Sec-WebSocket-Extensions answer
  bool context_takeover;  // the client did not ask for server_no_context_takeover
};

// The answer to a client's offers, or nullopt when no offer of permessage-deflate can be
// accepted (then the session is plain). `context`: whether the server would keep its context
// (else it answers server_no_context_takeover whatever the client offered).
std::optional<deflate_agreement> negotiate_deflate(std::string_view offers, bool context = true);

// A complete server text frame (RSV1 set) holding `payload` compressed; nullopt when
// compression fails (then send it plain). Uses a compressor of the calling thread.
std::optional<std::string> make_deflated_frame(std::string_view payload);

// A compressor that keeps its window from one message to the next: a message may refer back to
// the ones compressed since the last reset, so it inflates only for a client that received
// exactly those, compressed, in order. Not thread-safe.
class deflate_stream {
 public:
  // `window_bits`: how far back (2^bits bytes) a message may refer; at most 15, the window a
  // client keeps unless it asked for less. zlib's state is allocated at the first message.
  deflate_stream(int window_bits, int mem_level) : window_bits_(window_bits), mem_level_(mem_level) {}
  ~deflate_stream();
  deflate_stream(const deflate_stream&) = delete;
  deflate_stream& operator=(const deflate_stream&) = delete;
  // Replaces `frame` with a complete server text frame (RSV1 set) holding `payload` compressed;
  // `reset` first forgets every earlier message. False when compression fails; the next call
  // must then reset.
  bool compress(std::string_view payload, bool reset, std::string& frame);

 private:
  z_stream z_{};
  int window_bits_, mem_level_;
  bool started_ = false, ok_ = false;
  std::string body_;  // the compressed bytes before they are framed, reused
};

enum class inflate_result { ok, too_big, corrupt };
// Inflates one client message (without the 00 00 ff ff tail the sender dropped) into `out`,
// refusing more than `max` bytes. Uses a decompressor of the calling thread.
inflate_result inflate_message(std::string_view in, size_t max, std::string& out);

}  // namespace tributary::ws
