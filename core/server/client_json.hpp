#pragma once
// Internal to server/: reading and writing a client's JSON messages safely, for every client
// protocol: nothing a client sends can exhaust the stack, and nothing it sent is echoed at
// length.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace tributary {

// The patterns one session may hold, whatever its protocol.
constexpr size_t max_session_patterns = 256;

// nlohmann parses iteratively but serializes recursively: refuse nesting deeper than 32 before
// parsing, whatever max_message_bytes is.
bool too_deep(std::string_view text);
// The first 64 bytes of a client's string, for an error message.
std::string clip(std::string_view s);
// Compact JSON; invalid UTF-8 replaced.
inline std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace tributary
