#pragma once
// A real redis-server for one test, on a free loopback port, in a temp directory.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/redis.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace tributary::test_support {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// TLS only, with this certificate and key (PEM files); clients need not present one.
struct redis_tls {
  std::string cert_file, key_file;
};

class redis_server {
 public:
  // `persistent`: append-only file with fsync on every write, so data survives a kill.
  explicit redis_server(bool persistent = false) : port_(free_port()), persistent_(persistent) { start(); }
  // Started with TLS only; the caller makes the certificate trusted ($SSL_CERT_FILE) first.
  explicit redis_server(redis_tls tls) : port_(free_port()), persistent_(false), tls_(std::move(tls)) { start(); }
  void start() {
    std::vector<std::string> argv{"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "-::1",
                                  "--save", "", "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always",
                                  "--dir", dir_.path().string()};
    if (!tls_.cert_file.empty())
      argv.insert(argv.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file", tls_.cert_file,
                               "--tls-key-file", tls_.key_file, "--tls-auth-clients", "no"});
    proc_ = std::make_unique<child>(argv, dir_.path());
    redis_client c(endpoint(), millis(200));
    for (int i = 0; i < 200; ++i) {
      auto r = c.command({"PING"});
      if (std::holds_alternative<redis_reply>(r)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not start: " + proc_->err() + proc_->out());
  }
  void stop() { proc_.reset(); }  // SIGKILL, like a crash
  redis_endpoint endpoint() const {
    if (!tls_.cert_file.empty()) return redis_endpoint{"localhost", port_, "", "", 0, true};
    return redis_endpoint{"127.0.0.1", port_, "", "", 0};
  }
  int port() const { return port_; }
  // One command on a fresh connection: its reply, or an empty reply when Redis did not answer.
  redis_reply command(const std::vector<std::string>& argv) const {
    redis_client c(endpoint(), millis(2000));
    auto r = c.command(argv);
    return std::holds_alternative<redis_reply>(r) ? std::get<redis_reply>(r) : redis_reply{};
  }

 private:
  temp_dir dir_;
  int port_;
  bool persistent_;
  redis_tls tls_;
  std::unique_ptr<child> proc_;
};

}  // namespace tributary::test_support
