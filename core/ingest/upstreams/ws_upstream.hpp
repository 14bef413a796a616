#pragma once
// The host's WebSocket client for streaming sources (`ws://` and `wss://`). One connection,
// driven by one thread: connect() and next() block for at most the time they are given.
// wss verifies the peer against the system's CA store (or $SSL_CERT_FILE) and sends SNI.
// Pings from the upstream are answered; when the upstream is quiet the client sends its own
// and counts the connection lost when nothing comes back within `idle_timeout`.
// Beast and Asio stay in the .cpp.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/duration.hpp"

namespace tributary {

// The path and query of a ws[s]:// URL as the upgrade request sends it ("/" when it has no
// path), or nullopt when it is not such a URL.
std::optional<std::string> upgrade_target(const std::string& url);

struct ws_read {
  enum class status { message, idle, closed } st = status::idle;
  std::string text;  // the message, or why the connection closed
};

class ws_upstream {
 public:
  struct options {
    millis connect_timeout{10000};  // resolve, TCP, TLS and the upgrade together
    millis idle_timeout{30000};     // ping after half of it in silence; closed after all of it
    size_t max_message = 1 << 20;   // a larger message ends the connection
  };
  explicit ws_upstream(options opt);
  ~ws_upstream();
  ws_upstream(const ws_upstream&) = delete;
  ws_upstream& operator=(const ws_upstream&) = delete;

  // Why `url` cannot be connected to (never the URL's query, which may hold a key), or nullopt.
  std::optional<std::string> connect(const std::string& url);
  std::optional<std::string> send(std::string_view text);
  // The next message, `idle` when none came within `wait`, or `closed` with the reason.
  ws_read next(millis wait);
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace tributary
