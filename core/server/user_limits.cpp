#include "server/user_limits.hpp"

#include <chrono>
#include <mutex>
#include <unordered_map>

namespace tributary {

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class memory_limits final : public user_limits {
 public:
  memory_limits(const user_limit_options& o, user_limit_counters& c) : o_(o), c_(c) {}
  bool open(std::string_view user, std::string_view) override {
    std::lock_guard lk(mu_);
    auto& n = sessions_[std::string(user)];
    if (o_.connections_per_user && n >= o_.connections_per_user) {
      c_.refused_connections++;
      if (n == 0) sessions_.erase(std::string(user));
      return false;
    }
    ++n;
    return true;
  }
  void close(std::string_view user, std::string_view) override {
    std::lock_guard lk(mu_);
    auto it = sessions_.find(std::string(user));
    if (it != sessions_.end() && --it->second == 0) sessions_.erase(it);
  }
  void refresh(std::string_view, std::string_view) override {}
  bool message(std::string_view user) override {
    if (!o_.messages_per_minute_per_user) return true;
    int64_t minute = wall_ms() / 60000;
    std::lock_guard lk(mu_);
    if (minute != minute_) {  // a new window: last minute's counts go
      minute_ = minute;
      messages_.clear();
    }
    auto& n = messages_[std::string(user)];
    if (n >= o_.messages_per_minute_per_user) {
      c_.refused_messages++;
      return false;
    }
    ++n;
    return true;
  }

 private:
  user_limit_options o_;
  user_limit_counters& c_;
  std::mutex mu_;
  std::unordered_map<std::string, size_t> sessions_, messages_;
  int64_t minute_ = 0;
};

// KEYS: the user's sessions (a sorted set: member session, score its expiry). ARGV: now, limit,
// session, expiry. Drops expired entries, then adds the session unless the user is at the limit.
constexpr const char* kOpen = R"(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1)";

// KEYS: the user's message count for this minute. ARGV: limit. Counts the message unless over.
constexpr const char* kMessage = R"(
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], 61000) end
if n > tonumber(ARGV[1]) then return 0 end
return 1)";

class redis_limits final : public user_limits {
 public:
  redis_limits(const user_limit_options& o, user_limit_counters& c) : o_(o), c_(c), redis_(*o.redis, o.wait) {}
  bool open(std::string_view user, std::string_view session) override {
    if (!o_.connections_per_user) return true;
    int64_t now = wall_ms();
    auto r = run({"EVAL", kOpen, "1", sessions_key(user), std::to_string(now), std::to_string(o_.connections_per_user),
                  std::string(session), std::to_string(now + session_ttl_ms), std::to_string(session_ttl_ms)});
    if (r == 0) c_.refused_connections++;
    return r != 0;
  }
  void close(std::string_view user, std::string_view session) override {
    if (o_.connections_per_user) run({"ZREM", sessions_key(user), std::string(session)});
  }
  void refresh(std::string_view user, std::string_view session) override {
    if (o_.connections_per_user)
      run({"ZADD", sessions_key(user), "XX", std::to_string(wall_ms() + session_ttl_ms), std::string(session)});
  }
  bool message(std::string_view user) override {
    if (!o_.messages_per_minute_per_user) return true;
    auto key = o_.prefix + "user_messages:" + std::string(user) + ":" + std::to_string(wall_ms() / 60000);
    auto r = run({"EVAL", kMessage, "1", key, std::to_string(o_.messages_per_minute_per_user)});
    if (r == 0) c_.refused_messages++;
    return r != 0;
  }

 private:
  std::string sessions_key(std::string_view user) const { return o_.prefix + "user_sessions:" + std::string(user); }
  // The script's integer answer; -1 (let through, counted) when Redis does not answer in time.
  // After a failure Redis is not asked for a second: one slow Redis must not hold the thread.
  int64_t run(const std::vector<std::string>& argv) {
    if (wall_ms() < down_until_) {
      c_.unavailable++;
      return -1;
    }
    auto reply = redis_.command(argv);
    auto* rep = std::get_if<redis_reply>(&reply);
    if (!rep || rep->is_error()) {
      c_.unavailable++;
      down_until_ = wall_ms() + 1000;
      return -1;
    }
    return rep->integer;
  }

  user_limit_options o_;
  user_limit_counters& c_;
  redis_client redis_;
  int64_t down_until_ = 0;
};

}  // namespace

std::shared_ptr<user_limits> make_memory_user_limits(const user_limit_options& o, user_limit_counters& c) {
  return std::make_shared<memory_limits>(o, c);
}

std::unique_ptr<user_limits> make_redis_user_limits(const user_limit_options& o, user_limit_counters& c) {
  return std::make_unique<redis_limits>(o, c);
}

}  // namespace tributary
