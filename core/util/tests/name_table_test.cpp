#include "util/name_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>

namespace tributary {
namespace {

TEST(NameTable, IdsAreDenseInFirstSeenOrderAndSurviveGrowth) {
  name_table t;
  EXPECT_EQ(t.find("event.user.1.x"), name_table::none);  // empty: no slots yet
  std::unordered_map<std::string, uint32_t> want;
  for (uint32_t i = 0; i < 50000; ++i) {
    std::string n = "event.user." + std::to_string(i) + ".x";
    ASSERT_EQ(t.add(n), i);
    want[n] = i;
  }
  EXPECT_EQ(t.size(), 50000u);
  for (auto& [n, id] : want) {
    ASSERT_EQ(t.find(n), id) << n;
    ASSERT_EQ(t.add(n), id) << n;  // adding again gives the same id
    ASSERT_EQ(t.name(id), n);
  }
  EXPECT_EQ(t.size(), 50000u);
  EXPECT_EQ(t.find("event.user.50000.x"), name_table::none);
  EXPECT_EQ(t.find("event.user.1"), name_table::none);  // a prefix of a name is another name
}

TEST(NameTable, EmptyAndPrefixNamesAreTheirOwn) {
  name_table t;
  EXPECT_EQ(t.add("price.BTC-USDT"), 0u);
  EXPECT_EQ(t.add(""), 1u);
  EXPECT_EQ(t.add("price.BTC"), 2u);
  EXPECT_EQ(t.add(std::string("a\0b", 3)), 3u);
  EXPECT_EQ(t.find(""), 1u);
  EXPECT_EQ(t.name(1), "");
  EXPECT_EQ(t.find("price.BTC"), 2u);
  EXPECT_EQ(t.find(std::string("a\0b", 3)), 3u);
  EXPECT_EQ(t.find("a"), name_table::none);
  EXPECT_EQ(t.name(0), "price.BTC-USDT");
}

}  // namespace
}  // namespace tributary
