#include "util/duration.hpp"

#include <charconv>
#include <cmath>

namespace tributary {

std::optional<millis> parse_duration(std::string_view s) {
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p == s.data() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  double factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60000;
  else if (unit == "h") factor = 3600000;
  else if (unit == "d") factor = 86400000;
  else return std::nullopt;
  double ms = value * factor;
  if (ms > static_cast<double>(max_duration.count())) return std::nullopt;  // also keeps llround defined
  return millis(static_cast<long long>(std::llround(ms)));
}

std::string format_duration(millis d) {
  auto ms = d.count();
  if (ms != 0 && ms % 86400000 == 0) return std::to_string(ms / 86400000) + "d";
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace tributary
