#include <gtest/gtest.h>

#include "util/cidr.hpp"

namespace tributary {
namespace {

std::vector<cidr> ranges(std::initializer_list<const char*> l) {
  std::vector<cidr> out;
  for (auto* s : l) out.push_back(*parse_cidr(s));
  return out;
}

TEST(Cidr, ParsesRangesAndMatchesAddresses) {
  auto r = ranges({"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
  EXPECT_TRUE(in_any(r, "10.200.3.4"));
  EXPECT_TRUE(in_any(r, "192.168.1.7"));
  EXPECT_FALSE(in_any(r, "192.168.1.8"));
  EXPECT_TRUE(in_any(r, "fd12::1"));
  EXPECT_FALSE(in_any(r, "2001:db8::1"));
  EXPECT_FALSE(in_any(r, "not an address"));
  for (const char* bad : {"", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0/8", "x/8", "10.0.0.0/8x"})
    EXPECT_FALSE(parse_cidr(bad)) << bad;
}

// The last untrusted hop, read from the right; nothing believed from an untrusted peer.
TEST(Cidr, TheClientIsTheLastUntrustedHop) {
  auto trusted = ranges({"10.0.0.0/8", "127.0.0.1"});
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "203.0.113.9, 10.1.1.1", ""), "203.0.113.9");
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "198.51.100.1, 203.0.113.9", ""), "203.0.113.9");  // a spoofed first hop is not believed
  EXPECT_EQ(client_address(trusted, "198.51.100.5", "203.0.113.9", ""), "198.51.100.5");             // the peer is not trusted
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "", R"(for=192.0.2.60;proto=http, for="[2001:db8::17]:4711")"), "2001:db8::17");
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "", "for=192.0.2.60:8080"), "192.0.2.60");
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "garbage, 10.0.0.1", ""), "127.0.0.1");  // not an address: the peer
  EXPECT_EQ(client_address(trusted, "127.0.0.1", "", ""), "127.0.0.1");
  EXPECT_EQ(client_address({}, "127.0.0.1", "203.0.113.9", ""), "127.0.0.1");  // none trusted
}

}  // namespace
}  // namespace tributary
