#include <gtest/gtest.h>

#include "record/record.hpp"

namespace tributary {
namespace {

TEST(DeclaredKinds, AreCheckedLikeBuiltInOnesAndConflictsAreRefused) {
  auto parsed = vocabulary::parse_declared_kinds(R"({"fill_test": {"fields": {"qty": "number", "side": "string"}, "required": ["qty"]}})", "a");
  ASSERT_TRUE(std::holds_alternative<std::vector<vocabulary::declared_kind>>(parsed));
  auto kinds = std::get<std::vector<vocabulary::declared_kind>>(parsed);
  EXPECT_FALSE(vocabulary::declare(kinds[0]));
  EXPECT_FALSE(vocabulary::declare(kinds[0]));  // the same again: fine
  EXPECT_TRUE(vocabulary::known_kind("fill_test"));
  EXPECT_EQ(vocabulary::field("fill_test", "qty"), vocabulary::field_type::number);
  EXPECT_FALSE(vocabulary::field("fill_test", "price"));
  EXPECT_EQ(vocabulary::required_fields("fill_test"), std::vector<std::string>{"qty"});
  EXPECT_TRUE(vocabulary::check_subject("fill_test", "has space"));
  auto other = kinds[0];
  other.declared_by = "b";
  other.fields.pop_back();
  auto conflict = vocabulary::declare(other);
  ASSERT_TRUE(conflict);
  EXPECT_NE(conflict->find("plugins 'a' and 'b'"), std::string::npos);
  auto builtin = kinds[0];
  builtin.name = "price";
  EXPECT_TRUE(vocabulary::declare(builtin));
  for (auto bad : {R"([1])", R"({"Bad": {"fields": {}}})", R"({"k": {"fields": {"x": "date"}}})", R"({"k": {"fields": {"x": "number"}, "required": ["y"]}})"})
    EXPECT_TRUE(std::holds_alternative<std::string>(vocabulary::parse_declared_kinds(bad, "c"))) << bad;
}

}  // namespace
}  // namespace tributary
