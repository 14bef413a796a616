#include "ingest/limits/redis_limits.hpp"

#include <chrono>

#include <fmt/format.h>

namespace tributary {

namespace {

// KEYS: budget hash, pause key. ARGV: now_ms, cost, n, then rate_per_ms and burst per window.
// Returns {1, 0} taken, {0, wait_ms} a window is spent, {-1, pttl} paused.
constexpr const char* kTake = R"(
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return {-1, pttl} end
local now, cost, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, wait, longest = {}, 0, 0
for i = 1, n do
  local rate, burst = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local t = tonumber(redis.call('HGET', KEYS[1], 't' .. i) or burst)
  local ts = tonumber(redis.call('HGET', KEYS[1], 'ts' .. i) or now)
  if now > ts then t = math.min(burst, t + (now - ts) * rate) end
  tokens[i] = t
  local need = math.min(cost, burst) - t
  if need > 1e-9 then wait = math.max(wait, rate > 0 and math.floor(need / rate) + 1 or 86400000) end
  if rate > 0 then longest = math.max(longest, burst / rate) end
end
if wait > 0 then return {0, wait} end
for i = 1, n do
  redis.call('HSET', KEYS[1], 't' .. i, tostring(tokens[i] - cost), 'ts' .. i, tostring(now))
end
redis.call('PEXPIRE', KEYS[1], math.floor(longest * 2) + 60000)
return {1, 0})";

// KEYS: pause key. ARGV: pause_ms. Keeps a longer pause already set.
constexpr const char* kPause = R"(
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1)";

// KEYS: budget hash. ARGV: now_ms, window number (1-based), rate_per_ms, burst, remaining.
constexpr const char* kCap = R"(
local now, i = tonumber(ARGV[1]), ARGV[2]
local rate, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = tonumber(redis.call('HGET', KEYS[1], 't' .. i) or burst)
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts' .. i) or now)
if now > ts then t = math.min(burst, t + (now - ts) * rate) end
t = math.min(t, math.max(0, tonumber(ARGV[5])))
redis.call('HSET', KEYS[1], 't' .. i, tostring(t), 'ts' .. i, tostring(now))
return 1)";

constexpr int64_t kQuietMs = 5000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

redis_limits::redis_limits(redis_endpoint ep, std::string name)
    : redis_(std::make_unique<redis_client>(std::move(ep), millis(250))), prefix_("tributary:" + name + ":") {}

std::variant<redis_reply, std::string> redis_limits::call(const std::vector<std::string>& argv) {
  if (steady_ms() < quiet_until_) return std::string("redis unavailable (not asked again yet)");
  auto r = redis_->command(argv);
  auto* rep = std::get_if<redis_reply>(&r);
  if (!rep || rep->is_error()) quiet_until_ = steady_ms() + kQuietMs;
  return r;
}

shared_limits::verdict redis_limits::take(const std::string& source, const std::vector<rate_limit_config>& windows,
                                          double cost, int64_t now_ms) {
  std::vector<std::string> argv{"EVAL", kTake, "2", prefix_ + "budget:" + source, prefix_ + "pause:" + source,
                                std::to_string(now_ms), fmt::format("{}", cost), std::to_string(windows.size())};
  for (const auto& w : windows) {
    argv.push_back(fmt::format("{}", w.per.count() > 0 ? w.requests / static_cast<double>(w.per.count()) : 0.0));
    argv.push_back(fmt::format("{}", std::max(1.0, w.burst)));
  }
  std::lock_guard lk(mu_);
  auto r = call(argv);
  auto* rep = std::get_if<redis_reply>(&r);
  if (!rep || rep->is_error() || rep->elements.size() != 2) return {verdict::kind::unavailable, 0};
  auto code = rep->elements[0].integer, ms = rep->elements[1].integer;
  if (code == 1) return {verdict::kind::ok, 0};
  if (code == 0) return {verdict::kind::budget_spent, ms};
  return {verdict::kind::paused, ms};
}

void redis_limits::correct(const std::string& source, const std::vector<rate_limit_config>& windows, size_t i,
                           double remaining, int64_t now_ms) {
  if (i >= windows.size()) return;
  const auto& w = windows[i];
  std::lock_guard lk(mu_);
  call({"EVAL", kCap, "1", prefix_ + "budget:" + source, std::to_string(now_ms), std::to_string(i + 1),
        fmt::format("{}", w.per.count() > 0 ? w.requests / static_cast<double>(w.per.count()) : 0.0),
        fmt::format("{}", std::max(1.0, w.burst)), fmt::format("{}", remaining)});
}

void redis_limits::clear_pause(const std::string& source) {
  std::lock_guard lk(mu_);
  call({"DEL", prefix_ + "pause:" + source});
}

void redis_limits::pause(const std::string& source, int64_t pause_ms) {
  std::lock_guard lk(mu_);
  call({"EVAL", kPause, "1", prefix_ + "pause:" + source, std::to_string(std::max<int64_t>(1, pause_ms))});
}

}  // namespace tributary
