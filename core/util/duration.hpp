#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tributary {

using millis = std::chrono::milliseconds;

// "250ms", "5s", "2m", "1h", "1.5s" -> milliseconds; nullopt when malformed or negative.
std::optional<millis> parse_duration(std::string_view text);
std::string format_duration(millis d);

}  // namespace tributary
