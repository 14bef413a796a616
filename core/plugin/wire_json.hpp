#pragma once
// The exec protocol's JSON shapes (docs/plugins.md, "Exec plugins"): what the host sends an
// exec plugin, and its answers read into the host's own types.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tributary/abi.h>

#include "plugin/plugin.hpp"

namespace tributary {

class call_output;

namespace wire {

std::string_view status_name(int32_t status);           // "ok", "retryable", ... "internal"
std::optional<int32_t> status_of(std::string_view name);

// What the host sends an exec plugin: ABI structs as JSON.
nlohmann::json feed_json(const trib_feed_request& f);
nlohmann::json request_json(const trib_http_request& r);
nlohmann::json response_json(const trib_http_response& r);
nlohmann::json message_json(const trib_stream_message& m);

// A plugin's answer into the host's call_output; returns the call's status, or why the answer
// is malformed (then nothing of it is kept).
struct answer {
  int32_t status = TRIB_OK;
  std::string native;  // map_subject
};
std::variant<answer, std::string> read_answer(const nlohmann::json& j, call_output& out);

}  // namespace wire
}  // namespace tributary
