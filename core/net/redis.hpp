#pragma once
// A small synchronous Redis client over hiredis (the RESP protocol is hiredis's job, not ours).
// One connection; not thread-safe: each part that talks to Redis owns one and drives it from
// its own thread. Reconnects lazily after a failure.
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "util/duration.hpp"

struct redisContext;

namespace tributary {

class tls_socket;
struct tls_read;

struct redis_reply {
  enum class kind { nil, integer, string, status, error, array };
  kind type = kind::nil;
  long long integer = 0;
  std::string str;  // string, status or error text
  std::vector<redis_reply> elements;
  bool is_error() const { return type == kind::error; }
};

struct redis_endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;
  int db = 0;
  bool tls = false;  // rediss://: verified against the system's certificates or $SSL_CERT_FILE
};

// redis[s]://[user:password@]host[:port][/db], host a name, an IPv4 or a bracketed IPv6
// address; rediss:// is TLS. Why not, when malformed; parse_redis_url: nullopt then.
std::variant<redis_endpoint, std::string> parse_redis_url_or_why(const std::string& url);
std::optional<redis_endpoint> parse_redis_url(const std::string& url);

class redis_client {
 public:
  redis_client(redis_endpoint ep, millis timeout);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // A reply (possibly a Redis error reply), or a string saying why Redis could not be reached.
  std::variant<redis_reply, std::string> command(const std::vector<std::string>& argv);
  // The same into `out`, which keeps its room when used again (a reader's loop allocates
  // nothing per reply once it has seen its largest): why not, or nullopt.
  std::optional<std::string> command_into(const std::vector<std::string>& argv, redis_reply& out);
  // `cmds` sent at once, then their replies read into `out`, in order (possibly Redis error
  // replies): why not, or nullopt. On failure `out` holds the replies read before it.
  std::optional<std::string> pipeline(std::span<const std::vector<std::string>> cmds, std::vector<redis_reply>& out);
  // Why Redis does not answer PING (connecting first when not connected), or nullopt.
  std::optional<std::string> ping();
  bool connected() const { return ctx_ != nullptr; }
  // Pub/sub, after a SUBSCRIBE or PSUBSCRIBE through command(): the next message Redis pushes,
  // nullopt when none came within `wait`, or a string saying why the connection failed.
  std::variant<std::optional<redis_reply>, std::string> next_push(millis wait);
  // The same into `out`, which keeps its room when used again: true when a message came.
  std::variant<bool, std::string> next_push_into(millis wait, redis_reply& out);
  // Whether bytes already read are waiting to be made into replies (more pushes may be ready
  // without waiting).
  bool buffered() const;

 private:
  using deadline = std::chrono::steady_clock::time_point;
  std::optional<std::string> connect();
  std::optional<std::string> start_tls();
  std::optional<std::string> send(std::span<const std::vector<std::string>> cmds, deadline by);
  // The next reply: one already buffered, else read until one is complete; nullopt at `by`.
  // `reply_due` (a command's answer): a plain socket is read at once, blocking up to its
  // receive timeout, with no poll() first; a push may never come, so it is polled for.
  // True when a reply was read into `out`, false at `by`.
  std::variant<bool, std::string> read_reply(deadline by, bool reply_due, redis_reply& out);
  tls_read read_more(deadline by, bool reply_due);
  std::string failed(const std::string& why);  // drops the connection; says where
  void drop();
  redis_endpoint ep_;
  millis timeout_;
  redisContext* ctx_ = nullptr;
  std::unique_ptr<tls_socket> tls_;  // rediss://: the bytes go through it, hiredis only parses
  redis_reply building_;  // the reply being read (see redis.cpp, in_place)
};

}  // namespace tributary
