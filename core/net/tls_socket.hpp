#pragma once
// TLS over a connected socket that someone else opened and will close (hiredis's, for rediss://).
// OpenSSL directly: Redis replies are read by hiredis's reader, only the bytes travel here.
// The peer is verified against the system's trusted certificates (or $SSL_CERT_FILE) and the
// host name (or IP address); SNI is sent for names. The socket is put in non-blocking mode and
// every wait is a poll() bounded by a deadline, so a quiet connection never blocks past it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

struct ssl_st;
struct ssl_ctx_st;

namespace tributary {

struct tls_read {
  enum class status { data, timeout, closed, failed };
  status st = status::timeout;
  size_t bytes = 0;
  std::string why;  // for failed
};

class tls_socket {
 public:
  using deadline = std::chrono::steady_clock::time_point;
  // The handshake on `fd`, finished by `by`; why not, e.g. "certificate verify failed (...)".
  static std::variant<std::unique_ptr<tls_socket>, std::string> handshake(int fd, const std::string& host, deadline by);
  ~tls_socket();
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;

  // Everything written by `by`, or why not.
  std::optional<std::string> write_all(std::string_view data, deadline by);
  // Some bytes into buf, or timeout when none came by `by`.
  tls_read read_some(char* buf, size_t n, deadline by);

 private:
  tls_socket(int fd, ssl_ctx_st* ctx, ssl_st* ssl) : fd_(fd), ctx_(ctx), ssl_(ssl) {}
  // After an OpenSSL call returned `rc`: waits for what it wants. `data` means "ready, call again".
  tls_read wait_for(int rc, deadline by);
  int fd_;
  ssl_ctx_st* ctx_;
  ssl_st* ssl_;
};

}  // namespace tributary
