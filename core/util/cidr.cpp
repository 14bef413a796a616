#include "util/cidr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace tributary {

namespace {

std::optional<std::array<uint8_t, 16>> parse_address(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::array<uint8_t, 16> a{};
  in_addr v4;
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    a[10] = a[11] = 0xFF;
    std::memcpy(a.data() + 12, &v4, 4);
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.data()) == 1) return a;
  return std::nullopt;
}

bool is_v4(std::string_view text) { return text.find(':') == std::string_view::npos; }

bool contains(const cidr& r, const std::array<uint8_t, 16>& a) {
  int bits = r.bits;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((a[i] & mask) != (r.addr[i] & mask)) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The for= addresses of a Forwarded header, in order: `for=1.2.3.4`, `for="[2001:db8::1]:80"`.
std::vector<std::string> forwarded_for(std::string_view h) {
  std::vector<std::string> out;
  for (size_t at = 0; at < h.size();) {
    auto end = h.find_first_of(",;", at);
    auto pair = trim(h.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (pair.size() > 4 && (pair.substr(0, 4) == "for=" || pair.substr(0, 4) == "For=" || pair.substr(0, 4) == "FOR=")) {
      auto v = pair.substr(4);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      if (!v.empty() && v.front() == '[') v = v.substr(0, v.find(']') + 1);     // [v6]:port
      else if (std::count(v.begin(), v.end(), ':') == 1) v = v.substr(0, v.find(':'));  // v4:port
      out.emplace_back(v);
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return out;
}

}  // namespace

std::optional<cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto a = parse_address(text.substr(0, slash));
  if (!a) return std::nullopt;
  cidr c{*a, 128};
  if (slash == std::string_view::npos) return c;
  auto digits = text.substr(slash + 1);
  int bits = 0;
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    bits = bits * 10 + (ch - '0');
  }
  int max = is_v4(text.substr(0, slash)) ? 32 : 128;
  if (bits > max) return std::nullopt;
  c.bits = is_v4(text.substr(0, slash)) ? bits + 96 : bits;
  return c;
}

bool in_any(const std::vector<cidr>& ranges, std::string_view address) {
  auto a = parse_address(address);
  if (!a) return false;
  for (const auto& r : ranges)
    if (contains(r, *a)) return true;
  return false;
}

std::string client_address(const std::vector<cidr>& trusted, std::string_view peer, std::string_view x_forwarded_for,
                           std::string_view forwarded) {
  if (trusted.empty() || !in_any(trusted, peer)) return std::string(peer);
  std::vector<std::string> hops;
  if (!x_forwarded_for.empty()) {
    for (size_t at = 0; at <= x_forwarded_for.size();) {
      auto comma = x_forwarded_for.find(',', at);
      hops.emplace_back(trim(x_forwarded_for.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at)));
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
  } else {
    hops = forwarded_for(forwarded);
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!parse_address(*it)) return std::string(peer);  // a hop that is not an address: believe nothing past it
    if (!in_any(trusted, *it)) {
      auto s = *it;
      if (s.size() > 2 && s.front() == '[') s = s.substr(1, s.size() - 2);
      return s;
    }
  }
  return std::string(peer);
}

}  // namespace tributary
