#pragma once
// The history's epoch, announced in `hello` and `subscribed` (docs/protocol.md, Recovery).
#include <string>

#include "config/config.hpp"

namespace spdlog { class logger; }

namespace tributary {

// The cluster's epoch in Redis (tributary:{name}:history_epoch), set to `own` by the first node
// to ask; `own` when Redis cannot say. (Standalone, the hub's own random epoch serves.)
std::string cluster_history_epoch(const config& cfg, const std::string& own, spdlog::logger& log);

}  // namespace tributary
