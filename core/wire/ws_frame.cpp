#include "wire/ws_frame.hpp"

#include "wire/ws_deflate.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace tributary::ws {

namespace {

bool is_control(opcode op) { return static_cast<uint8_t>(op) >= 8; }

bool known_opcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

// Codes a peer may send in a close frame (RFC 6455 7.4).
bool valid_close_code(uint16_t c) {
  if (c >= 3000 && c <= 4999) return true;
  return c >= 1000 && c <= 1014 && c != 1004 && c != 1005 && c != 1006;
}

}  // namespace

void put_header(std::string& out, opcode op, size_t len) {
  out.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(op)));
  if (len < 126) {
    out.push_back(static_cast<char>(len));
  } else if (len <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(127);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<uint64_t>(len) >> (8 * i)) & 0xFF));
  }
}

std::string make_frame(opcode op, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  put_header(out, op, payload.size());
  out.append(payload);
  return out;
}

std::string_view frame_payload(std::string_view frame) {
  if (frame.size() < 2) return {};
  size_t len = static_cast<unsigned char>(frame[1]) & 0x7F;
  size_t header = len == 126 ? 4 : len == 127 ? 10 : 2;
  return frame.size() < header ? std::string_view{} : frame.substr(header);
}

std::string make_close_frame(close_code code, std::string_view reason) {
  if (reason.size() > 123) reason = reason.substr(0, 123);
  while (!reason.empty() && !valid_utf8(reason)) reason.remove_suffix(1);  // never cut a character in half
  std::string payload;
  auto c = static_cast<uint16_t>(code);
  payload.push_back(static_cast<char>(c >> 8));
  payload.push_back(static_cast<char>(c & 0xFF));
  payload.append(reason);
  return make_frame(opcode::close, payload);
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string in(client_key);
  in.append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

bool valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  return true;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) { ++p; continue; }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    static constexpr uint32_t min_for[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

bool frame_reader::feed(char* data, size_t n, frame_handler& h) {
  if (done_) return false;
  if (!pending_.empty()) {
    pending_.append(data, n);
    size_t off = 0;
    for (;;) {
      long used = parse_one(pending_.data() + off, pending_.size() - off, h);
      if (used < 0) return false;
      if (used == 0) break;
      off += static_cast<size_t>(used);
    }
    pending_.erase(0, off);
    if (pending_.empty()) std::string().swap(pending_);  // an idle session holds no buffer
    return true;
  }
  size_t off = 0;
  for (;;) {
    long used = parse_one(data + off, n - off, h);
    if (used < 0) return false;
    if (used == 0) break;
    off += static_cast<size_t>(used);
  }
  if (off < n) pending_.assign(data + off, n - off);
  return true;
}

long frame_reader::parse_one(char* p, size_t n, frame_handler& h) {
  if (n < 2) return 0;
  auto b0 = static_cast<uint8_t>(p[0]), b1 = static_cast<uint8_t>(p[1]);
  bool fin = b0 & 0x80;
  uint8_t op = b0 & 0x0F;
  auto violation = [&](close_code c, std::string_view why) {
    done_ = true;
    h.on_violation(c, why);
    return -1L;
  };
  bool rsv1 = b0 & 0x40;
  if (b0 & 0x30) return violation(close_code::protocol_error, "reserved bits set without an extension");
  if (rsv1 && !(deflate_ && op == static_cast<uint8_t>(opcode::text)))
    return violation(close_code::protocol_error, deflate_ ? "RSV1 is only for the first frame of a message" : "reserved bits set without an extension");
  if (!known_opcode(op)) return violation(close_code::protocol_error, "unknown opcode");
  if (!(b1 & 0x80)) return violation(close_code::protocol_error, "client frames must be masked");
  uint64_t len = b1 & 0x7F;
  size_t hdr = 2;
  if (is_control(static_cast<opcode>(op)) && (len > 125 || !fin))
    return violation(close_code::protocol_error, "control frames must be whole and at most 125 bytes");
  if (len == 126) {
    if (n < 4) return 0;
    len = (static_cast<uint8_t>(p[2]) << 8) | static_cast<uint8_t>(p[3]);
    hdr = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(p[2 + i]);
    hdr = 10;
  }
  if (op == static_cast<uint8_t>(opcode::binary))
    return violation(close_code::unsupported_data, "binary frames are not accepted");
  if (!is_control(static_cast<opcode>(op)) && len + message_.size() > max_message_)
    return violation(close_code::too_big, "message over max_message_bytes (" + std::to_string(max_message_) + ")");
  if (n < hdr + 4 + len) return 0;
  char* mask = p + hdr;
  char* payload = mask + 4;
  for (size_t i = 0; i < len; ++i) payload[i] ^= mask[i & 3];
  if (op == static_cast<uint8_t>(opcode::text)) compressed_ = rsv1;
  if (!deliver(static_cast<opcode>(op), fin, payload, static_cast<size_t>(len), h)) return -1;
  return static_cast<long>(hdr + 4 + len);
}

bool frame_reader::deliver(opcode op, bool fin, char* payload, size_t len, frame_handler& h) {
  std::string_view body(payload, len);
  auto violation = [&](close_code c, std::string_view why) {
    done_ = true;
    h.on_violation(c, why);
    return false;
  };
  switch (op) {
    case opcode::ping: h.on_ping(body); return true;
    case opcode::pong: h.on_pong(body); return true;
    case opcode::close: {
      if (len == 1) return violation(close_code::protocol_error, "close frame with a one-byte payload");
      auto code = close_code::normal;
      if (len >= 2) {
        auto c = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
        if (!valid_close_code(c)) return violation(close_code::protocol_error, "invalid close code");
        if (!valid_utf8(body.substr(2))) return violation(close_code::invalid_payload, "close reason is not UTF-8");
        code = static_cast<close_code>(c);
      }
      done_ = true;
      h.on_peer_close(code);
      return false;
    }
    case opcode::continuation:
      if (!in_message_) return violation(close_code::protocol_error, "continuation frame without a message");
      message_.append(body);
      break;
    default:  // text
      if (in_message_) return violation(close_code::protocol_error, "new message inside a fragmented one");
      if (fin) return deliver_text(body, h);
      in_message_ = true;
      message_.assign(body);
      break;
  }
  if (!fin) return true;
  in_message_ = false;
  std::string msg;
  msg.swap(message_);
  return deliver_text(msg, h);
}

bool frame_reader::deliver_text(std::string_view message, frame_handler& h) {
  auto violation = [&](close_code c, std::string_view why) {
    done_ = true;
    h.on_violation(c, why);
    return false;
  };
  std::string inflated;
  if (compressed_) {
    auto r = inflate_message(message, max_message_, inflated);
    if (r == inflate_result::too_big) return violation(close_code::too_big, "message over max_message_bytes once inflated");
    if (r == inflate_result::corrupt) return violation(close_code::invalid_payload, "compressed message does not inflate");
    message = inflated;
  }
  if (!valid_utf8(message)) return violation(close_code::invalid_payload, "text message is not valid UTF-8");
  h.on_text(message);
  return !done_;
}

}  // namespace tributary::ws
