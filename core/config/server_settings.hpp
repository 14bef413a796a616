#pragma once
// The [server] settings, each declared once: its key, where it lives, its bounds, and whether
// a reload applies it to new requests and sessions at once or leaves it for the next restart.
// This table drives reading the TOML (config.cpp), check --print (render.cpp), and a reload's
// diff and restart list (host.cpp). Defaults are the config struct's initializers.
// `listen`, `ws_path` and the [server.auth] keys and tokens are read by config.cpp itself
// (they need checks of their own) but their reload rule is declared here too.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace tributary {

using server_section = decltype(config::server);

struct server_setting {
  enum class apply : uint8_t { at_once, at_restart };
  using count = size_t& (*)(server_section&);
  using number = double& (*)(server_section&);
  using duration = millis& (*)(server_section&);
  using flag = bool& (*)(server_section&);
  using policy = slow_policy& (*)(server_section&);
  using text = std::string& (*)(server_section&);  // read apart (listen, ws_path)
  using mode = auth_mode& (*)(server_section&);   // read apart (auth.mode)
  using compression = compression_mode& (*)(server_section&);

  std::string_view key;  // under [server]; "limits.x" and "auth.x" live in those tables
  std::variant<count, number, duration, flag, policy, text, mode, compression> at;
  double min = 0, max = 0;  // counts and numbers: the range; durations: the least, in ms
  apply when = apply::at_once;
  std::string_view below_min;  // the error under `min`; empty: "must be between min and max"
};

const std::vector<server_setting>& server_settings();
// The table (like "limits") and the key in it of a setting; the table is empty at the top.
std::pair<std::string_view, std::string_view> split_key(std::string_view key);
// The settings that differ between a running config and a new one but wait for a restart.
std::vector<std::string> restart_changes(const server_section& running, const server_section& next);
// Puts back into `next` what `running` keeps until a restart (a reload applies the rest).
void keep_restart_settings(const server_section& running, server_section& next);

}  // namespace tributary
