#include "server/history_route.hpp"

#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "auth/access.hpp"
#include "publish/cache.hpp"
#include "publish/fanout_hub.hpp"
#include "server/request_target.hpp"

namespace tributary {

namespace {

std::optional<uint64_t> whole_number(const std::string& s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string json_string(std::string_view s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

history_answer history_of(std::string_view topic, const request_target& t, const grant& g, const fanout_hub& hub,
                          const record_cache& cache) {
  std::optional<uint64_t> since;
  size_t limit = history_limit_max;
  if (t.since) {
    since = whole_number(*t.since);
    if (!since) return {400, "bad_request", "since must be a seq, a whole number (got '" + t.since->substr(0, 40) + "')"};
  }
  if (t.limit) {
    auto n = whole_number(*t.limit);
    if (!n || *n == 0) return {400, "bad_request", "limit must be a whole number from 1 (got '" + t.limit->substr(0, 40) + "')"};
    limit = static_cast<size_t>(std::min<uint64_t>(*n, history_limit_max));
  }
  std::string name(topic);
  if (!may_see(g, name)) return {403, "forbidden", "not allowed to read '" + name + "'"};
  if (!cache.latest(name)) return {404, "not_found", "unknown topic '" + name + "'"};
  auto records = hub.history().window(name, since, limit);
  std::string body = "{\"topic\":" + json_string(name) + ",\"epoch\":" + json_string(hub.epoch()) + ",\"records\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) body += ',';
    body += records[i]->json;
  }
  body += "]}";
  return {200, "", std::move(body)};
}

}  // namespace tributary
