#include "config/server_settings.hpp"

#include <algorithm>

namespace tributary {

namespace {
using S = server_section;
using A = server_setting::apply;
}  // namespace

const std::vector<server_setting>& server_settings() {
  static const std::vector<server_setting> table = {
      {"listen", +[](S& s) -> std::string& { return s.listen; }, 0, 0, A::at_restart},
      {"ws_path", +[](S& s) -> std::string& { return s.ws_path; }, 0, 0, A::at_restart},
      {"max_connections", +[](S& s) -> size_t& { return s.max_connections; }, 1, 1'000'000},
      {"max_message_bytes", +[](S& s) -> size_t& { return s.max_message_bytes; }, 64, 64 << 20},
      {"heartbeat", +[](S& s) -> millis& { return s.heartbeat; }, 100, 0, A::at_once, "must be at least 100ms"},
      {"queue_limit", +[](S& s) -> size_t& { return s.queue_limit; }, 1, 1'000'000},
      {"queue_limit_bytes", +[](S& s) -> size_t& { return s.queue_limit_bytes; }, 1024, double(1LL << 30)},
      {"slow_consumer", +[](S& s) -> slow_policy& { return s.slow_consumer; }},
      {"io_threads", +[](S& s) -> size_t& { return s.io_threads; }, 0, 256, A::at_restart},
      {"history", +[](S& s) -> size_t& { return s.history; }, 0, 100'000, A::at_restart},
      {"history_age", +[](S& s) -> millis& { return s.history_age; }, 1, 0, A::at_restart, "must be positive"},
      {"dashboard", +[](S& s) -> bool& { return s.dashboard; }},
      {"require_origin", +[](S& s) -> bool& { return s.require_origin; }},
      {"compression", +[](S& s) -> compression_mode& { return s.compression; }},
      {"compression_min_bytes", +[](S& s) -> size_t& { return s.compression_min_bytes; }, 0, 64 << 20},
      {"compression_context_takeover", +[](S& s) -> bool& { return s.compression_context_takeover; }},
      {"limits.connections_per_ip", +[](S& s) -> size_t& { return s.limits.connections_per_ip; }, 0, 1'000'000},
      {"limits.messages_per_second", +[](S& s) -> double& { return s.limits.messages_per_second; }, 0, 1e9, A::at_once,
       "must be 0 (no limit) or more"},
      {"limits.messages_burst", +[](S& s) -> double& { return s.limits.messages_burst; }, 1, 1e9, A::at_once, "must be at least 1"},
      {"limits.connections_per_user", +[](S& s) -> size_t& { return s.limits.connections_per_user; }, 0, 1'000'000, A::at_restart},
      {"limits.messages_per_minute_per_user", +[](S& s) -> size_t& { return s.limits.messages_per_minute_per_user; }, 0, 1'000'000'000,
       A::at_restart},
      {"auth.mode", +[](S& s) -> auth_mode& { return s.auth.mode; }, 0, 0, A::at_restart},
      {"auth.auth_timeout", +[](S& s) -> millis& { return s.auth.auth_timeout; }, 1},
  };
  return table;
}

std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
  auto dot = key.find('.');
  if (dot == std::string_view::npos) return {{}, key};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

std::vector<std::string> restart_changes(const server_section& running, const server_section& next) {
  std::vector<std::string> out;
  auto& a = const_cast<S&>(running);
  auto& b = const_cast<S&>(next);
  for (const auto& s : server_settings()) {
    if (s.when != A::at_restart) continue;
    bool differs = std::visit([&](auto at) { return at(a) != at(b); }, s.at);
    if (differs) out.emplace_back(s.key);
  }
  if (running.history_rules != next.history_rules && std::find(out.begin(), out.end(), "history") == out.end()) out.emplace_back("history");
  return out;
}

void keep_restart_settings(const server_section& running, server_section& next) {
  // What goes with them: the whole [server.auth] of another mode, where the listener binds.
  if (next.auth.mode != running.auth.mode) next.auth = running.auth;
  next.address = running.address;
  next.port = running.port;
  next.history_rules = running.history_rules;
  auto& a = const_cast<S&>(running);
  for (const auto& s : server_settings())
    if (s.when == A::at_restart) std::visit([&](auto at) { at(next) = at(a); }, s.at);
}

}  // namespace tributary
