#include "cluster/cluster_node.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"

namespace tributary {

using json = nlohmann::json;

cluster_node::cluster_node(cluster_options opts, metrics& m, const clock_source& clock, std::shared_ptr<spdlog::logger> log)
    : opts_(std::move(opts)), m_(m), clock_(clock), log_(std::move(log)) {
  m_.describe("tributary_leader", "gauge", "1 while this node is the leader");
  m_.describe("tributary_epoch", "gauge", "Fencing epoch of this node's last acquisition");
  m_.describe("tributary_redis_up", "gauge", "1 while Redis answers");
  m_.set("tributary_leader", {}, 0);
  lease_redis_ = std::make_unique<redis_client>(opts_.redis, millis(std::max<int64_t>(200, opts_.renew_every.count() / 2)));
  keeper_ = std::make_unique<lease_keeper>(*lease_redis_, opts_.name, opts_.node_id, opts_.lease, clock_);
}

cluster_node::~cluster_node() { stop(); }

void cluster_node::start() {
  lease_thread_ = std::thread([this] { lease_loop(); });
  name_thread(lease_thread_, "lease");
}

void cluster_node::stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (keeper_->current() == lease_keeper::role::leader) {
    keeper_->release();
    log_->info("cluster: lease released");
  }
  set_role(false, epoch_);
}

void cluster_node::fenced() {
  fenced_ = true;  // the lease thread steps down on its next turn; stop publishing now
  set_role(false, epoch_);
}

void cluster_node::set_role(bool leader, uint64_t epoch) {
  bool was = leader_.exchange(leader);
  epoch_ = epoch;
  m_.set("tributary_leader", {}, leader ? 1 : 0);
  m_.set("tributary_epoch", {}, static_cast<double>(epoch));
  if (was != leader) log_->info("cluster: node {} is now {} (epoch {})", opts_.node_id, leader ? "leader" : "follower", epoch);
}

void cluster_node::lease_loop() {
  while (!stop_) {
    if (fenced_.exchange(false)) keeper_->step_down();
    auto role = keeper_->step();
    bool up = keeper_->last_error().empty() || keeper_->last_error().find("lease lost") != std::string::npos;
    redis_up_ = up;
    {
      std::lock_guard lk(mu_);
      last_error_ = keeper_->last_error();
    }
    m_.set("tributary_redis_up", {}, up ? 1 : 0);
    set_role(role == lease_keeper::role::leader, keeper_->epoch());
    if (up) write_control(*lease_redis_);  // before looking, so this node's own requests are in
    if (on_control_ && up) poll_control(*lease_redis_);
    if (demand_ && up) demand_->step(*lease_redis_, leader_.load(), clock_.now_ms());
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, opts_.renew_every, [this] { return stop_.load() || demand_dirty_; });
    demand_dirty_ = false;
  }
}

void cluster_node::demand_changed() {
  {
    std::lock_guard lk(mu_);
    demand_dirty_ = true;
  }
  cv_.notify_all();
}

void cluster_node::share_control(const control_request& r) {
  std::lock_guard lk(mu_);
  control_out_.push_back(r);  // written by the lease thread: no Redis I/O on the caller's thread
}

void cluster_node::write_control(redis_client& redis) {
  std::vector<control_request> out;
  {
    std::lock_guard lk(mu_);
    out.swap(control_out_);
  }
  using act = control_request::action;
  const std::string key = "tributary:" + opts_.name + ":control";
  for (const auto& r : out) {
    if (r.what == act::pause_feed) {
      redis.command({"HSET", key, "paused:" + r.target, "1"});
    } else if (r.what == act::resume_feed) {
      redis.command({"HDEL", key, "paused:" + r.target});
    } else {
      std::string field = (r.what == act::run_feed ? "run:" : "reset:") + r.target;
      auto n = redis.command({"HINCRBY", key, field, "1"});
      if (auto* rep = std::get_if<redis_reply>(&n); rep && rep->type == redis_reply::kind::integer) {
        std::lock_guard lk(mu_);
        control_seen_[field] = rep->integer;  // already applied here
      }
    }
  }
}

void cluster_node::poll_control(redis_client& r) {
  auto all = r.command({"HGETALL", "tributary:" + opts_.name + ":control"});
  auto* rep = std::get_if<redis_reply>(&all);
  if (!rep || rep->type != redis_reply::kind::array) return;
  cluster_control c;
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i + 1 < rep->elements.size(); i += 2) {
      const auto& field = rep->elements[i].str;
      auto value = std::atoll(rep->elements[i + 1].str.c_str());
      auto colon = field.find(':');
      if (colon == std::string::npos) continue;
      auto kind = field.substr(0, colon), target = field.substr(colon + 1);
      if (kind == "paused") {
        c.paused_feeds.insert(target);
        continue;
      }
      auto& seen = control_seen_[field];
      if (control_primed_ && value > seen) (kind == "run" ? c.run_feeds : c.reset_sources).push_back(target);
      seen = std::max(seen, value);
    }
    control_primed_ = true;  // requests older than this node are not replayed
  }
  on_control_(c);
}

json cluster_node::status() const {
  std::lock_guard lk(mu_);
  return {{"redis", redis_up_.load() ? "up" : "down"}, {"last_error", last_error_.empty() ? json(nullptr) : json(last_error_)}};
}

}  // namespace tributary
