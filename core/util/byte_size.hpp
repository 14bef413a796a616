#pragma once
// Sizes in config: "256MiB", "1GiB", "64KiB", "1048576B" (binary units; K, M, G alone mean the
// same), or a number of bytes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tributary {

std::optional<uint64_t> parse_bytes(std::string_view text);
std::string format_bytes(uint64_t bytes);  // the largest unit that divides it: "256MiB"

}  // namespace tributary
