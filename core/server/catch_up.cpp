#include "server/catch_up.hpp"

namespace tributary {

catch_up plan_catch_up(const topic_history& history, const published_record& latest, std::optional<uint64_t> since) {
  if (!since || *since > latest.rec.seq) return {};  // none, or a seq from another life of the topic
  if (*since == latest.rec.seq) return {true, {}};   // up to date
  auto held = history.since(latest.topic, *since);
  if (!held) return {};
  return {true, std::move(*held)};
}

}  // namespace tributary
