#pragma once
// Internal to server/: what a WebSocket session's messages mean, by the client protocol spoken
// at the path it connected to: ours (docs/protocol.md) or Centrifugo's (docs/clients.md). The
// transport (ws_connection) reads frames, queues and writes, applies limits and closes; the
// session's protocol reads the client's text messages, answers them, and names the frame each
// record is sent as. Lives on the session's I/O thread.
#include <cstdint>
#include <memory>
#include <string_view>

#include "config/dialect.hpp"
#include "config/modes.hpp"
#include "publish/published.hpp"
#include "server/frame_ref.hpp"

namespace tributary {

class ws_connection;

// The frame a live record is sent to one session as: `sent`, plain or compressed on its own; and
// for a session that may share a compression context, `plain`, the uncompressed frame every
// session of the protocol shares, which its deflate chain compresses (else empty, as when the
// frame is this session's own).
struct record_frames {
  frame_ref sent, plain;
};

class session_protocol {
 public:
  virtual ~session_protocol() = default;
  // The session is open; `token` came with the upgrade request (empty: none).
  virtual void opened(std::string_view token) = 0;
  // One text message from the client, within the rate limits.
  virtual void on_text(std::string_view message) = 0;
  // The frame a live record this session's subscriptions matched is sent as; `sent` empty: none.
  virtual record_frames live_frame(const std::shared_ptr<const published_record>& r) = 0;
  // A message was dropped over a rate limit (`why`): say so, the session stays open.
  virtual void rate_limited(std::string_view message, std::string_view why) = 0;
  // The session's token expired before it was renewed: say so and close.
  virtual void token_expired() = 0;
  // Once per heartbeat period: a protocol with pings of its own sends one.
  virtual void heartbeat() {}
};

std::unique_ptr<session_protocol> make_tributary_protocol(ws_connection& c);
std::unique_ptr<session_protocol> make_centrifugo_protocol(ws_connection& c);
// `first_slot`: the record frame slot of the dialect's first channel rule (see dialect_protocol.cpp).
std::unique_ptr<session_protocol> make_dialect_protocol(ws_connection& c, const dialect_spec& d, size_t first_slot);

}  // namespace tributary
