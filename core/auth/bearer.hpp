#pragma once
// `Authorization: Bearer <token>` (RFC 6750): the scheme is case-insensitive (RFC 7235), and one
// or more spaces separate it from the token.
#include <cctype>
#include <optional>
#include <string_view>

namespace tributary {

inline std::optional<std::string_view> bearer_token(std::string_view header) {
  static constexpr std::string_view scheme = "bearer";
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return std::nullopt;
  auto token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace tributary
