#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tributary {

using millis = std::chrono::milliseconds;

// The longest duration any setting takes (a monthly rate window fits).
constexpr millis max_duration{366LL * 24 * 3600 * 1000};

// "250ms", "5s", "2m", "1h", "30d", "1.5s" -> milliseconds; nullopt when malformed, negative or
// longer than max_duration. Zero is a valid duration here; settings that need more say so.
std::optional<millis> parse_duration(std::string_view text);
std::string format_duration(millis d);

}  // namespace tributary
