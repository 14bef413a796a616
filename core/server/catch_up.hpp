#pragma once
// Internal to server/: what a subscriber is sent for one topic when it (re)subscribes, over any
// transport: the missed updates when the history holds all of them after `since`, else the
// latest record as a snapshot (docs/protocol.md, Recovery). No I/O.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "publish/published.hpp"
#include "publish/topic_history.hpp"

namespace tributary {

struct catch_up {
  bool recovered = false;  // false: a snapshot of `latest`
  std::vector<std::shared_ptr<const published_record>> updates;  // when recovered: after `since`, in order
};

// `since`: the last seq the client has of the topic; nullopt: it has none (a snapshot).
catch_up plan_catch_up(const topic_history& history, const published_record& latest, std::optional<uint64_t> since);

}  // namespace tributary
