#pragma once
// Cluster mode: one instance leads (fetches and publishes), every instance serves. This is the
// election half: a lease thread runs lease_keeper::step() every renew_every, keeps the role and
// epoch the redis_broker reads (leadership), and shares control API requests through Redis so
// they apply to whichever node leads. The stream itself is the broker's (publish/redis_broker).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cluster/control.hpp"
#include "cluster/demand_share.hpp"
#include "cluster/leadership.hpp"
#include "cluster/lease_keeper.hpp"

namespace spdlog { class logger; }

namespace tributary {

class clock_source;
class metrics;

struct cluster_options {
  redis_endpoint redis;
  std::string name = "default";
  std::string node_id;
  millis lease{3000};
  millis renew_every{1000};
};

// Control API requests shared through Redis (tributary:{name}:control), so they apply to
// whichever node leads: the feeds paused now, and runs and resets asked for since the last look.
struct cluster_control {
  std::set<std::string> paused_feeds;
  std::vector<std::string> run_feeds, reset_sources;
};

class cluster_node final : public leadership {
 public:
  cluster_node(cluster_options opts, metrics& m, const clock_source& clock, std::shared_ptr<spdlog::logger> log);
  ~cluster_node() override;

  void start();  // the lease thread
  void stop();   // releases the lease if held, stops the thread (resign)

  // leadership
  bool is_leader() const override { return leader_.load(); }
  uint64_t epoch() const override { return epoch_.load(); }
  bool redis_up() const override { return redis_up_.load(); }
  void fenced() override;
  void resign() override { stop(); }

  const std::string& node_id() const { return opts_.node_id; }
  nlohmann::json status() const;  // redis, last_error
  // Shares a control request with every node (written to Redis by the lease thread within
  // renew_every, never on the caller's thread); `cb` gets what the others asked for (called on
  // the lease thread every renew_every). Set before start().
  void share_control(const control_request& r);
  void on_control(std::function<void(const cluster_control&)> cb) { on_control_ = std::move(cb); }
  // Shares which topics this node's clients want, and (leading) reads everyone's, every
  // renew_every. Set before start().
  void share_demand(std::unique_ptr<demand_share> d) { demand_ = std::move(d); }
  // This node's demand changed: the lease thread writes it now rather than at its next turn.
  void demand_changed();

 private:
  void lease_loop();
  void write_control(redis_client& r);
  void poll_control(redis_client& r);
  void set_role(bool leader, uint64_t epoch);

  cluster_options opts_;
  metrics& m_;
  const clock_source& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> leader_{false}, redis_up_{false}, stop_{false}, fenced_{false};
  std::atomic<uint64_t> epoch_{0};
  std::string last_error_;  // guarded by mu_
  std::function<void(const cluster_control&)> on_control_;
  std::unique_ptr<demand_share> demand_;  // the lease thread's
  bool demand_dirty_ = false;             // guarded by mu_
  std::vector<control_request> control_out_;       // to write to Redis; guarded by mu_
  std::map<std::string, long long> control_seen_;  // run:/reset: counters already acted on; guarded by mu_
  bool control_primed_ = false;                    // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread lease_thread_;
  std::unique_ptr<redis_client> lease_redis_;
  std::unique_ptr<lease_keeper> keeper_;
};

}  // namespace tributary
