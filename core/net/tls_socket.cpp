#include "net/tls_socket.hpp"

#include "net/fd_wait.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

namespace tributary {

namespace {

std::string openssl_error(const char* stage) {
  unsigned long e = ERR_get_error();
  char text[256] = "connection closed";
  if (e != 0) ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return std::string(stage) + ": " + text;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL writes an alert to a peer that has gone,
// and the plain socket BIO's write() would raise SIGPIPE and end the process.
int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(fd_of(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && would_block()) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(fd_of(b), data, static_cast<size_t>(len), 0);
  if (n < 0 && would_block()) BIO_set_retry_read(b);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO* socket_bio(int fd) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "socket without SIGPIPE");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  BIO* b = BIO_new(method);
  if (b) BIO_set_data(b, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  return b;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Verification of the chain and of the name, and SNI for a name.
std::optional<std::string> configure(ssl_ctx_st* ctx, ssl_st* ssl, const std::string& host) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) return openssl_error("TLS trusted certificates");  // honours SSL_CERT_FILE
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip_address(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return openssl_error("TLS peer address");
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0) != 1) return openssl_error("TLS peer name");
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return openssl_error("TLS SNI");
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::unique_ptr<tls_socket>, std::string> tls_socket::handshake(int fd, const std::string& host, deadline by) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return openssl_error("TLS context");
  SSL* ssl = SSL_new(ctx);
  if (!ssl) {
    SSL_CTX_free(ctx);
    return openssl_error("TLS session");
  }
  std::unique_ptr<tls_socket> s(new tls_socket(fd, ctx, ssl));
  if (auto e = configure(ctx, ssl, host)) return *e;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  BIO* bio = socket_bio(fd);
  if (!bio) return openssl_error("TLS socket");
  SSL_set_bio(ssl, bio, bio);  // the session owns it now
  for (;;) {
    int rc = SSL_connect(ssl);
    if (rc == 1) return s;
    long verify = SSL_get_verify_result(ssl);
    tls_read w = s->wait_for(rc, by);
    if (w.st == tls_read::status::data) continue;
    if (w.st == tls_read::status::timeout) w.why = "timed out";
    if (verify != X509_V_OK) w.why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    return "TLS handshake: " + w.why;
  }
}

tls_socket::~tls_socket() {
  SSL_free(ssl_);  // the socket is its owner's to close
  SSL_CTX_free(ctx_);
}

tls_read tls_socket::wait_for(int rc, deadline by) {
  using st = tls_read::status;
  int err = SSL_get_error(ssl_, rc);
  short events = 0;
  if (err == SSL_ERROR_WANT_READ) events = POLLIN;
  else if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
  else if (err == SSL_ERROR_ZERO_RETURN) return {st::closed, 0, "connection closed"};
  else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
    return errno != 0 && rc != 0 ? tls_read{st::failed, 0, std::strerror(errno)} : tls_read{st::closed, 0, "connection closed"};
  else return {st::failed, 0, openssl_error("TLS").substr(5)};
  switch (wait_fd(fd_, events, by)) {
    case fd_ready::ready: return {st::data, 0, {}};
    case fd_ready::timeout: return {st::timeout, 0, {}};
    case fd_ready::failed: break;
  }
  return {st::failed, 0, std::strerror(errno)};
}

std::optional<std::string> tls_socket::write_all(std::string_view data, deadline by) {
  while (!data.empty()) {
    ERR_clear_error();
    int rc = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (rc > 0) {
      data.remove_prefix(static_cast<size_t>(rc));
      continue;
    }
    tls_read w = wait_for(rc, by);
    if (w.st == tls_read::status::timeout) return std::string("timed out");
    if (w.st != tls_read::status::data) return w.why;
  }
  return std::nullopt;
}

tls_read tls_socket::read_some(char* buf, size_t n, deadline by) {
  for (;;) {
    ERR_clear_error();
    int rc = SSL_read(ssl_, buf, static_cast<int>(n));
    if (rc > 0) return {tls_read::status::data, static_cast<size_t>(rc), {}};
    tls_read w = wait_for(rc, by);
    if (w.st != tls_read::status::data) return w;
  }
}

}  // namespace tributary
