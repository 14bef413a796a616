#pragma once
// permessage-deflate (RFC 7692) for the server. The server always answers with
// server_no_context_takeover, so each message it sends is compressed on its own, and one
// compressed frame per record serves every compressing session; and with
// client_no_context_takeover, so each client message inflates on its own too. No I/O.
#include <optional>
#include <string>
#include <string_view>

namespace tributary::ws {

// The Sec-WebSocket-Extensions answer to a client's offers, or nullopt when no offer of
// permessage-deflate can be accepted (then the session is plain).
std::optional<std::string> negotiate_deflate(std::string_view offers);

// A complete server text frame (RSV1 set) holding `payload` compressed; nullopt when
// compression fails (then send it plain). Uses a compressor of the calling thread.
std::optional<std::string> make_deflated_frame(std::string_view payload);

enum class inflate_result { ok, too_big, corrupt };
// Inflates one client message (without the 00 00 ff ff tail the sender dropped) into `out`,
// refusing more than `max` bytes. Uses a decompressor of the calling thread.
inflate_result inflate_message(std::string_view in, size_t max, std::string& out);

}  // namespace tributary::ws
