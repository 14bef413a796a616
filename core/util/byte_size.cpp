#include "util/byte_size.hpp"

#include <charconv>

namespace tributary {

namespace {
struct unit {
  std::string_view name;
  uint64_t size;
};
constexpr unit units[] = {{"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"G", 1ull << 30},
                          {"M", 1ull << 20},   {"K", 1ull << 10},   {"B", 1},           {"", 1}};
}  // namespace

std::optional<uint64_t> parse_bytes(std::string_view text) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view suffix(end, text.data() + text.size() - end);
  if (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  for (auto& u : units)
    if (suffix == u.name) {
      if (n > UINT64_MAX / u.size) return std::nullopt;
      return n * u.size;
    }
  return std::nullopt;
}

std::string format_bytes(uint64_t bytes) {
  for (int i = 0; i < 3; ++i)
    if (bytes >= units[i].size && bytes % units[i].size == 0) return std::to_string(bytes / units[i].size) + std::string(units[i].name);
  return std::to_string(bytes) + "B";
}

}  // namespace tributary
