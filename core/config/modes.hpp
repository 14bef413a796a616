#pragma once
// The settings that choose between a few behaviours, as enums once the config is read: parsed
// and named from one table each, so nothing after validation compares text.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tributary {

enum class auth_mode : uint8_t { none, jwt };
enum class log_format : uint8_t { text, json };
enum class slow_policy : uint8_t { conflate, close };
enum class cluster_mode : uint8_t { standalone, redis };
enum class redis_down_policy : uint8_t { stop, fetch };
enum class sink_type : uint8_t { kafka, redis_stream };
enum class sink_format : uint8_t { record, flat };
enum class compression_mode : uint8_t { automatic, off };
// The WebSocket client protocols the server speaks: ours at ws_path, Centrifugo's (v2, JSON) at
// /connection/websocket.
enum class client_wire : uint8_t { tributary, centrifugo };
enum class dialect_action : uint8_t { subscribe, unsubscribe, auth, reply };
// Where a plugin runs: in the host's process, or in a child process of its own.
enum class plugin_isolation : uint8_t { none, process };

template <class E>
struct mode_table;  // names (in order of the enum) and what one is called in an error
template <>
struct mode_table<auth_mode> {
  static constexpr std::array names{"none", "jwt"};
  static constexpr const char* noun = "mode";
};
template <>
struct mode_table<log_format> {
  static constexpr std::array names{"text", "json"};
  static constexpr const char* noun = "log format";
};
template <>
struct mode_table<slow_policy> {
  static constexpr std::array names{"conflate", "close"};
  static constexpr const char* noun = "policy";
};
template <>
struct mode_table<cluster_mode> {
  static constexpr std::array names{"standalone", "redis"};
  static constexpr const char* noun = "mode";
};
template <>
struct mode_table<redis_down_policy> {
  static constexpr std::array names{"stop", "fetch"};
  static constexpr const char* noun = "policy";
};

template <>
struct mode_table<sink_type> {
  static constexpr std::array names{"kafka", "redis_stream"};
  static constexpr const char* noun = "sink type";
};
template <>
struct mode_table<compression_mode> {
  static constexpr std::array names{"auto", "off"};
  static constexpr const char* noun = "compression";
};
template <>
struct mode_table<client_wire> {
  static constexpr std::array names{"tributary", "centrifugo"};
  static constexpr const char* noun = "client protocol";
};
template <>
struct mode_table<dialect_action> {
  static constexpr std::array names{"subscribe", "unsubscribe", "auth", "reply"};
  static constexpr const char* noun = "dialect action";
};
template <>
struct mode_table<sink_format> {
  static constexpr std::array names{"record", "flat"};
  static constexpr const char* noun = "format";
};

template <>
struct mode_table<plugin_isolation> {
  static constexpr std::array names{"none", "process"};
  static constexpr const char* noun = "plugin isolation";
};

template <class E>
constexpr const char* name_of(E e) {
  return mode_table<E>::names[static_cast<size_t>(e)];
}

template <class E>
std::optional<E> parse_mode(std::string_view text) {
  const auto& names = mode_table<E>::names;
  for (size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return static_cast<E>(i);
  return std::nullopt;
}

// "'x' is not a policy (conflate, close)"
template <class E>
std::string not_a_mode(std::string_view text) {
  std::string list;
  for (auto* n : mode_table<E>::names) list += (list.empty() ? "" : ", ") + std::string(n);
  return "'" + std::string(text) + "' is not a " + mode_table<E>::noun + " (" + list + ")";
}

}  // namespace tributary
