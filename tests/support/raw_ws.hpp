#pragma once
// Client-side WebSocket frames and a raw TCP socket, for tests that must send what no
// well-behaved client library would: unmasked or malformed frames, pongs without reading.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tributary::test_support {

// A client frame (masked unless told otherwise).
inline std::string client_frame(uint8_t opcode, const std::string& payload, bool fin = true, bool mask = true,
                                uint8_t rsv = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((uint64_t(payload.size()) >> (8 * i)) & 0xFF));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(mask ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

class raw_socket {
 public:
  explicit raw_socket(unsigned short port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
  }
  ~raw_socket() { ::close(fd_); }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()); }
  // Reads what arrives within `ms`; stops at EOF (sets eof()).
  std::string read_for(int ms) {
    std::string out;
    char buf[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, ms) <= 0) return out;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // Completes a WebSocket upgrade; returns the server's answer head.
  std::string upgrade(const std::string& path = "/ws", const std::string& extra_headers = "") {
    send("GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n");
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) head.push_back(c);
    return head;
  }
  bool eof() const { return eof_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
};

struct server_frame {
  int op;
  bool compressed;  // RSV1: permessage-deflate
  std::string payload;
};

// The complete server frames in `bytes`.
inline std::vector<server_frame> parse_server_frames(const std::string& bytes) {
  std::vector<server_frame> out;
  size_t i = 0;
  while (i + 2 <= bytes.size()) {
    int op = bytes[i] & 0x0F;
    uint64_t len = static_cast<uint8_t>(bytes[i + 1]) & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (i + 4 > bytes.size()) break;
      len = (uint8_t(bytes[i + 2]) << 8) | uint8_t(bytes[i + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (i + 10 > bytes.size()) break;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | uint8_t(bytes[i + 2 + k]);
      hdr = 10;
    }
    if (i + hdr + len > bytes.size()) break;
    out.push_back({op, (bytes[i] & 0x40) != 0, bytes.substr(i + hdr, len)});
    i += hdr + len;
  }
  return out;
}

// The complete server frames in `bytes`, as (opcode, payload).
inline std::vector<std::pair<int, std::string>> server_frames(const std::string& bytes) {
  std::vector<std::pair<int, std::string>> out;
  for (auto& f : parse_server_frames(bytes)) out.emplace_back(f.op, std::move(f.payload));
  return out;
}

// The close code in the first close frame within `bytes` (server frames are unmasked), or 0.
inline int close_code_in(const std::string& bytes) {
  for (auto& [op, payload] : server_frames(bytes))
    if (op == 8 && payload.size() >= 2) return (uint8_t(payload[0]) << 8) | uint8_t(payload[1]);
  return 0;
}

}  // namespace tributary::test_support
