#pragma once
// The plugin protocol's JSON shapes (docs/plugins.md, "Exec plugins"): what the host sends a
// plugin in another process and what comes back, to and from the C ABI's structs (the
// plugin-host side) and the host's own types (the host side).
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

// ABI structs as JSON: what the host sends (feed, request, response, message) and what a
// plugin-host answers (requests, records, errors, stream plan).
nlohmann::json feed_json(const trib_feed_request& f);
nlohmann::json request_json(const trib_http_request& r);
nlohmann::json response_json(const trib_http_response& r);
nlohmann::json message_json(const trib_stream_message& m);
nlohmann::json record_json(const trib_record& r);
nlohmann::json error_json(const trib_error& e);
nlohmann::json stream_json(const trib_stream_plan& p);

// JSON back into ABI structs for a plugin's call. The structs point into `src` (which must
// outlive them) and into the vectors here; a shape error is a message saying where.
struct abi_call {
  std::vector<trib_subject> subjects;
  std::vector<trib_kv> query, headers, response_headers;
  trib_feed_request feed{};
  trib_http_request request{};
  trib_http_response response{};
  trib_stream_message message{};
  std::optional<std::string> read_feed(const nlohmann::json& src);
  std::optional<std::string> read_request(const nlohmann::json& src);
  std::optional<std::string> read_response(const nlohmann::json& src);
  std::optional<std::string> read_message(const nlohmann::json& src);
};

// A plugin's answer into the host's call_output; returns the call's status, or why the answer
// is malformed (then nothing of it is kept).
struct answer {
  int32_t status = TRIB_OK;
  std::string native;  // map_subject
};
std::variant<answer, std::string> read_answer(const nlohmann::json& j, call_output& out);

}  // namespace wire
}  // namespace tributary
