#pragma once
// shared_limits in Redis: per source, a hash of token counts per window and a pause key.
//   tributary:{name}:budget:{source}   hash t<i>, ts<i> (tokens and last refill of window i)
//   tributary:{name}:pause:{source}    exists while the source is paused (PX = the pause)
// One Lua script checks the pause and takes from every window as one step. Thread-safe; a
// Redis that does not answer makes it say `unavailable` for a few seconds without asking, so a
// Redis outage never stalls the HTTP thread that calls it.
#include <atomic>
#include <memory>
#include <mutex>

#include "net/redis.hpp"
#include "ingest/limits/shared_limits.hpp"

namespace tributary {

class redis_limits final : public shared_limits {
 public:
  redis_limits(redis_endpoint ep, std::string name);
  verdict take(const std::string& source, const std::vector<rate_limit_config>& windows, double cost,
               int64_t now_ms) override;
  void pause(const std::string& source, int64_t pause_ms) override;
  void clear_pause(const std::string& source) override;
  void correct(const std::string& source, const std::vector<rate_limit_config>& windows, size_t i, double remaining,
               int64_t now_ms) override;

 private:
  std::variant<redis_reply, std::string> call(const std::vector<std::string>& argv);
  std::mutex mu_;
  std::unique_ptr<redis_client> redis_;
  std::string prefix_;
  int64_t quiet_until_ = 0;  // steady ms: do not ask Redis before this after a failure
};

}  // namespace tributary
