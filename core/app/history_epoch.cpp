#include "app/history_epoch.hpp"

#include <spdlog/spdlog.h>

#include "net/redis.hpp"

namespace tributary {

// In cluster mode the history is in Redis, and so is its epoch, made by the first node to start
// (SET NX): a Redis that lost its data has lost the epoch too, and the next node to start makes
// a new one.
std::string cluster_history_epoch(const config& cfg, const std::string& own, spdlog::logger& log) {
  auto ep = parse_redis_url(cfg.cluster.redis_url);
  redis_client r(*ep, millis(2000));
  auto key = "tributary:" + cfg.cluster.name + ":history_epoch";
  auto set = r.command({"SET", key, own, "NX"});
  auto got = r.command({"GET", key});
  auto* rep = std::get_if<redis_reply>(&got);
  if (std::holds_alternative<std::string>(set) || !rep || rep->type != redis_reply::kind::string) {
    log.warn("cluster: cannot read the history epoch from Redis; this node uses its own ({}), so clients recovering here start over", own);
    return own;
  }
  return rep->str;
}

}  // namespace tributary
