#pragma once
// Cluster mode, demand = "subscribed": which topics each node's clients want, shared through one
// small Redis sorted set, tributary:{name}:demand. A member is "<topic> <node id>", its score
// when it expires (ms): every node adds what it wants (at once when it changes, and again
// every ttl/3), removes what it no longer wants, and a killed node's members expire by
// themselves. The leader, which alone fetches, reads every live member.
#include <cstdint>
#include <functional>
#include <set>
#include <string>

namespace tributary {

class redis_client;

class demand_share {
 public:
  using topics = std::set<std::string>;
  // `watching`: whether any feed polls by demand now (none: a leader reads nothing).
  demand_share(std::string key, std::string node_id, std::function<topics()> local, std::function<void(const topics&)> all,
               std::function<bool()> watching, int64_t ttl_ms = 30000)
      : key_(std::move(key)), node_(std::move(node_id)), local_(std::move(local)), all_(std::move(all)),
        watching_(std::move(watching)), ttl_(ttl_ms) {}
  // Writes this node's demand; a leader also reads everyone's and hands it to `all`. A write
  // Redis did not answer ends the step: the lease thread that runs it has a lease to renew.
  void step(redis_client& r, bool leader, int64_t now);

 private:
  bool write(redis_client& r, int64_t now);
  void read(redis_client& r, int64_t now);
  std::string member(const std::string& topic) const { return topic + " " + node_; }

  std::string key_, node_;
  std::function<topics()> local_;
  std::function<void(const topics&)> all_;
  std::function<bool()> watching_;
  int64_t ttl_;
  topics written_;          // in Redis as of the last write
  int64_t refreshed_at_ = 0;  // when every member was last given a new expiry; 0: rewrite all
};

}  // namespace tributary
