#pragma once
// The frames the server sends for a publication (docs/protocol.md, Server messages): the
// record's canonical bytes with a prefix and a suffix around them, one encoding for every
// session (server frames are unmasked). No Asio here: the host hands `update_frame` to the
// broker, which calls it once per record.
#include <memory>
#include <string>

#include "publish/published.hpp"

namespace tributary {

// The WebSocket text frame of {"type":"update","topic":...,"record":...}, into r.frame (a
// frame_maker: the buffer of a recycled record is reused).
void update_frame(published_record& r);
// The WebSocket text frame of {"type":"snapshot","topic":...,"record":...}.
std::string snapshot_frame(const published_record& r);
// A JSON string of `s` (as is when it needs no escaping, as topics do not).
std::string json_string(std::string_view s);

// Centrifugo's client protocol (docs/clients.md): the publication {"data":record,"offset":seq}
// (with "channel" when `channel` is set: a pattern subscription's topic).
void append_centrifugo_publication(std::string& out, const published_record& r, std::string_view channel = {});
// The WebSocket text frame of the push of `r` to subscription `channel`, one line.
std::string centrifugo_push_frame(const published_record& r, std::string_view channel);

}  // namespace tributary
