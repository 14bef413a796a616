#include "cluster/lease_keeper.hpp"

#include "util/clock.hpp"

namespace tributary {

namespace {

// Extends the lease only if we still hold it.
constexpr const char* kRenew = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0)";

// Drops the lease only if we hold it.
constexpr const char* kRelease = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0)";

}  // namespace

lease_keeper::lease_keeper(redis_client& redis, std::string name, std::string node_id, millis lease, const clock_source& clock)
    : redis_(redis), prefix_("tributary:" + name + ":"), node_(std::move(node_id)), lease_(lease), clock_(clock) {}

lease_keeper::role lease_keeper::step() {
  int64_t start = clock_.now_ms();
  if (role_ == role::leader) {
    auto r = redis_.command({"EVAL", kRenew, "1", leader_key(), node_, std::to_string(lease_.count())});
    if (auto* e = std::get_if<std::string>(&r)) {
      last_error_ = *e;
      // Transient trouble: keep leading while the lease we last renewed is surely still ours.
      if (start >= valid_until_) role_ = role::follower;
      return role_;
    }
    auto& rep = std::get<redis_reply>(r);
    if (rep.is_error() || rep.integer != 1) {
      last_error_ = rep.is_error() ? rep.str : "lease lost to another node";
      role_ = role::follower;
      return role_;
    }
    last_error_.clear();
    valid_until_ = start + lease_.count();
    return role_;
  }
  auto r = redis_.command({"SET", leader_key(), node_, "NX", "PX", std::to_string(lease_.count())});
  if (auto* e = std::get_if<std::string>(&r)) {
    last_error_ = *e;
    return role_;
  }
  auto& rep = std::get<redis_reply>(r);
  if (rep.type != redis_reply::kind::status) {  // nil: someone else holds it
    last_error_.clear();
    return role_;
  }
  auto inc = redis_.command({"INCR", epoch_key()});
  if (auto* e = std::get_if<std::string>(&inc); e || std::get<redis_reply>(inc).is_error()) {
    // Without an epoch we cannot fence our writes: give the lease back and try again later.
    last_error_ = e ? *e : std::get<redis_reply>(inc).str;
    redis_.command({"EVAL", kRelease, "1", leader_key(), node_});
    return role_;
  }
  epoch_ = static_cast<uint64_t>(std::get<redis_reply>(inc).integer);
  valid_until_ = start + lease_.count();
  role_ = role::leader;
  last_error_.clear();
  return role_;
}

void lease_keeper::release() {
  if (role_ != role::leader) return;
  redis_.command({"EVAL", kRelease, "1", leader_key(), node_});
  role_ = role::follower;
}

void lease_keeper::step_down() { role_ = role::follower; }

}  // namespace tributary
