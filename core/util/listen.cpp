#include "util/listen.hpp"

#include <charconv>

namespace tributary {

std::variant<listen_address, std::string> parse_listen(std::string_view text) {
  auto bad = [&](const std::string& why) { return "'" + std::string(text) + "' is not HOST:PORT: " + why; };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("expected HOST:PORT, as 127.0.0.1:8081 or [::1]:8081");
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("an IPv6 address goes in brackets, as [::1]:8081");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address goes in brackets, as [::1]:8081");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("the port must be a number from 0 to 65535 (0 picks a free one)");
  return listen_address{std::string(host), static_cast<unsigned short>(value)};
}

}  // namespace tributary
