#pragma once
// Internal to server/: limits per user (the token's user), server-wide or, in cluster mode,
// cluster-wide in Redis (docs/configuration.md, [server.limits]):
//   connections_per_user           sessions of one user open at once
//   messages_per_minute_per_user   client messages of one user per wall-clock minute
// In Redis each check is one script with a bounded wait; when Redis does not answer in time
// the check lets the session or message through (fail open) and counts it
// (tributary_user_limits_unavailable_total). One instance per I/O thread: no lock but the
// in-memory table's.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "net/redis.hpp"

namespace tributary {

struct user_limit_options {
  size_t connections_per_user = 0;          // 0: no limit
  size_t messages_per_minute_per_user = 0;  // 0: no limit
  std::optional<redis_endpoint> redis;      // set: cluster-wide
  std::string prefix;                       // "tributary:{name}:"
  millis wait{100};                         // how long a check waits for Redis
};

class user_limits {
 public:
  virtual ~user_limits() = default;
  // A session of `user` opens (`session`: unique in the cluster); false when the user has
  // connections_per_user open already. Every true is matched by one close().
  virtual bool open(std::string_view user, std::string_view session) = 0;
  virtual void close(std::string_view user, std::string_view session) = 0;
  // Keeps an open session counted (cluster-wide entries expire unless refreshed).
  virtual void refresh(std::string_view user, std::string_view session) = 0;
  // One client message of `user`: false when over messages_per_minute_per_user.
  virtual bool message(std::string_view user) = 0;

  static constexpr int64_t session_ttl_ms = 90000;  // a node that died stops counting after this
  static constexpr int64_t refresh_every_ms = 30000;
};

struct user_limit_counters {
  std::atomic<uint64_t> refused_connections{0}, refused_messages{0}, unavailable{0};
};

// The in-memory limits shared by a server's threads (standalone).
std::shared_ptr<user_limits> make_memory_user_limits(const user_limit_options& o, user_limit_counters& c);
// Cluster-wide limits for one I/O thread (its own Redis connection).
std::unique_ptr<user_limits> make_redis_user_limits(const user_limit_options& o, user_limit_counters& c);

}  // namespace tributary
