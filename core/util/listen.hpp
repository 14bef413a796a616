#pragma once
// "HOST:PORT" as the server binds it: an IPv4 address or name, or an IPv6 address in
// brackets ("[::1]:8081"); port 0 picks a free one.
#include <string>
#include <string_view>
#include <variant>

namespace tributary {

struct listen_address {
  std::string host;  // without brackets
  unsigned short port = 0;
};

// The address, or why the text is not one.
std::variant<listen_address, std::string> parse_listen(std::string_view text);

}  // namespace tributary
