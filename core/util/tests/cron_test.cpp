#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>

#include "util/cron.hpp"

using namespace tributary;
using ::testing::HasSubstr;

namespace {

int64_t at(int y, int mo, int d, int h, int mi, int s) {  // UTC, in ms
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

cron_schedule cron(const char* text) {
  auto c = cron_schedule::parse(text);
  if (auto* e = std::get_if<std::string>(&c)) ADD_FAILURE() << *e;
  return std::get<cron_schedule>(c);
}

std::string why(const char* text) {
  auto c = cron_schedule::parse(text);
  return std::holds_alternative<std::string>(c) ? std::get<std::string>(c) : "parsed";
}

}  // namespace

TEST(Cron, EveryFiveMinutesOnTheMinute) {
  auto c = cron("0 */5 * * * *");
  EXPECT_EQ(c.next_after(at(2026, 11, 22, 23, 41, 7) + 123), at(2026, 11, 22, 23, 45, 0));
  EXPECT_EQ(c.next_after(at(2026, 11, 22, 23, 45, 0)), at(2026, 11, 22, 23, 50, 0));  // strictly after
  EXPECT_EQ(c.next_after(at(2026, 12, 31, 23, 59, 59)), at(2027, 1, 1, 0, 0, 0));
}

TEST(Cron, RangesListsStepsAndDays) {
  EXPECT_EQ(cron("30 0 9 * * 1-5").next_after(at(2026, 11, 20, 9, 0, 30)), at(2026, 11, 23, 9, 0, 30));  // Friday -> Monday
  EXPECT_EQ(cron("0 0 12 1,15 * *").next_after(at(2026, 11, 2, 0, 0, 0)), at(2026, 11, 15, 12, 0, 0));
  EXPECT_EQ(cron("0 0 0 29 2 *").next_after(at(2026, 3, 1, 0, 0, 0)), at(2028, 2, 29, 0, 0, 0));  // the next leap day
  EXPECT_EQ(cron("10/20 * * * * *").next_after(at(2026, 1, 1, 0, 0, 31)), at(2026, 1, 1, 0, 0, 50));
  EXPECT_EQ(cron("0 0 0 * * 7").next_after(at(2026, 11, 22, 0, 0, 0)), at(2026, 11, 29, 0, 0, 0));  // 7 is Sunday
  // Both day fields restricted: either matches, as in cron (the 1st, or any Monday).
  EXPECT_EQ(cron("0 0 0 1 * 1").next_after(at(2026, 11, 22, 0, 0, 0)), at(2026, 11, 23, 0, 0, 0));
  EXPECT_EQ(cron("0 0 0 31 2 *").next_after(at(2026, 1, 1, 0, 0, 0)), std::nullopt);  // never
}

TEST(Cron, ErrorsNameTheFieldAndWhy) {
  EXPECT_THAT(why("*/5 * * * *"), HasSubstr("has 5 fields; a schedule has 6"));
  EXPECT_THAT(why("0 61 * * * *"), HasSubstr("minute field: '61' is outside 0-59"));
  EXPECT_THAT(why("0 * * * 0 *"), HasSubstr("month field: '0' is outside 1-12"));
  EXPECT_THAT(why("*/0 * * * * *"), HasSubstr("second field: step '0'"));
  EXPECT_THAT(why("0 * * * * mon"), HasSubstr("day of week field: 'mon' is not *, a number or a range"));
  EXPECT_THAT(why("0 5-1 * * * *"), HasSubstr("minute field: '5-1' is outside"));
}
