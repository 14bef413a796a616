#pragma once
// Leader election by a Redis lease with a fencing epoch (docs/operations.md, Cluster mode):
//   tributary:{name}:leader  holds the leader's node id, SET NX PX <lease>;
//   tributary:{name}:epoch   INCR on every acquisition: the leader's fencing token.
// Renewal and release are compare-and-set scripts, so only the holder can extend or drop the
// lease. A Redis error does not demote a leader while its lease is still valid by its own
// clock; it steps down once the lease may have expired, or at once when the key is someone
// else's. step() is the whole logic: a thread calls it every renew_every; tests call it directly.
#include <cstdint>
#include <string>

#include "net/redis.hpp"

namespace tributary {

class clock_source;

class lease_keeper {
 public:
  enum class role { follower, leader };

  lease_keeper(redis_client& redis, std::string name, std::string node_id, millis lease, const clock_source& clock);

  role step();       // acquire or renew; returns the role after this step
  void release();    // give the lease up now (graceful shutdown) if we hold it
  void step_down();  // a fenced write proved a newer leader exists

  role current() const { return role_; }
  uint64_t epoch() const { return epoch_; }  // of our last acquisition (0 before any)
  const std::string& last_error() const { return last_error_; }
  std::string leader_key() const { return prefix_ + "leader"; }
  std::string epoch_key() const { return prefix_ + "epoch"; }

 private:
  redis_client& redis_;
  std::string prefix_;
  std::string node_;
  millis lease_;
  const clock_source& clock_;
  role role_ = role::follower;
  uint64_t epoch_ = 0;
  int64_t valid_until_ = 0;  // our lease is certainly ours until then (by our clock)
  std::string last_error_;
};

}  // namespace tributary
