#pragma once
// Cron-style schedules with seconds first, in UTC: "SEC MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK".
// Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those
// separated by commas. Months are 1-12, days of the week 0-7 (0 and 7 are Sunday). As in cron,
// when both day fields are restricted a day matching either one is taken.
//   "0 */5 * * * *"    every 5 minutes, on the minute
//   "30 0 9 * * 1-5"   09:00:30 on weekdays
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tributary {

class cron_schedule {
 public:
  // The schedule, or what is wrong with it (which field, and why).
  static std::variant<cron_schedule, std::string> parse(std::string_view text);
  // The first time strictly after `after_ms` (ms since the epoch, UTC) that matches; nullopt
  // when none within five years (e.g. "0 0 0 31 2 *").
  std::optional<int64_t> next_after(int64_t after_ms) const;
  const std::string& text() const { return text_; }

 private:
  std::bitset<60> sec_, min_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;    // 1-31
  std::bitset<13> month_;  // 1-12
  std::bitset<7> dow_;     // 0-6, Sunday 0
  bool dom_any_ = true, dow_any_ = true;
  std::string text_;
  bool day_ok(int dom, int dow) const;
};

}  // namespace tributary
