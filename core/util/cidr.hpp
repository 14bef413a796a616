#pragma once
// Address ranges (CIDR, "10.0.0.0/8", "fd00::/8", or one address) and which one a client's
// address is in: for [server.limits] trusted_proxies. No I/O.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tributary {

struct cidr {
  std::array<uint8_t, 16> addr{};  // IPv4 as its IPv4-mapped IPv6 form
  int bits = 128;
};

// nullopt when `text` is not an address or an address/prefix-length.
std::optional<cidr> parse_cidr(std::string_view text);
bool in_any(const std::vector<cidr>& ranges, std::string_view address);

// The client's address behind trusted proxies: `peer` when it is not trusted; else the last
// address of X-Forwarded-For (or of Forwarded's for=) that is not trusted, read from the right.
// `peer` when the headers name none.
std::string client_address(const std::vector<cidr>& trusted, std::string_view peer, std::string_view x_forwarded_for,
                           std::string_view forwarded);

}  // namespace tributary
