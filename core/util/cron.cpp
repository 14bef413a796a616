#include "util/cron.hpp"

#include <charconv>
#include <ctime>
#include <vector>

namespace tributary {

namespace {

struct field_spec {
  const char* name;
  int lo, hi;
};
constexpr field_spec kFields[6] = {{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23},
                                   {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}};

std::optional<int> number(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t i = 0;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + 1;
  }
}

// One comma-separated item into `bits` (indexed by value); an error says why not.
std::optional<std::string> add_item(std::string_view item, const field_spec& f, std::vector<bool>& bits) {
  int step = 1;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    auto n = number(item.substr(slash + 1));
    if (!n || *n < 1) return "step '" + std::string(item.substr(slash + 1)) + "' is not a whole number from 1";
    step = *n;
    item = item.substr(0, slash);
  }
  int lo = f.lo, hi = f.hi;
  if (item != "*") {
    auto dash = item.find('-');
    auto a = number(item.substr(0, dash));
    auto b = dash == std::string_view::npos ? a : number(item.substr(dash + 1));
    if (!a || !b) return "'" + std::string(item) + "' is not *, a number or a range a-b";
    lo = *a;
    hi = dash == std::string_view::npos && step > 1 ? f.hi : *b;  // "5/15": from 5 on
    if (lo < f.lo || hi > f.hi || lo > hi)
      return "'" + std::string(item) + "' is outside " + std::to_string(f.lo) + "-" + std::to_string(f.hi);
  }
  for (int v = lo; v <= hi; v += step) bits[static_cast<size_t>(v)] = true;
  return std::nullopt;
}

}  // namespace

std::variant<cron_schedule, std::string> cron_schedule::parse(std::string_view text) {
  std::vector<std::string_view> parts;
  for (auto p : split(text, ' '))
    if (!p.empty()) parts.push_back(p);
  if (parts.size() != 6)
    return "'" + std::string(text) + "' has " + std::to_string(parts.size()) +
           " fields; a schedule has 6: second minute hour day-of-month month day-of-week (e.g. \"0 */5 * * * *\")";
  cron_schedule c;
  c.text_ = std::string(text);
  for (size_t i = 0; i < 6; ++i) {
    std::vector<bool> bits(static_cast<size_t>(kFields[i].hi) + 1, false);
    for (auto item : split(parts[i], ','))
      if (auto why = add_item(item, kFields[i], bits)) return std::string(kFields[i].name) + " field: " + *why;
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0: c.sec_.set(v); break;
        case 1: c.min_.set(v); break;
        case 2: c.hour_.set(v); break;
        case 3: c.dom_.set(v); break;
        case 4: c.month_.set(v); break;
        default: c.dow_.set(v % 7); break;  // 7 is Sunday too
      }
    }
  }
  c.dom_any_ = parts[3] == "*";
  c.dow_any_ = parts[5] == "*";
  return c;
}

bool cron_schedule::day_ok(int dom, int dow) const {
  bool d = dom_.test(static_cast<size_t>(dom)), w = dow_.test(static_cast<size_t>(dow));
  if (dom_any_ || dow_any_) return d && w;
  return d || w;  // both restricted: either one, as cron does
}

std::optional<int64_t> cron_schedule::next_after(int64_t after_ms) const {
  time_t t = static_cast<time_t>(after_ms / 1000) + 1;
  time_t limit = t + time_t{5} * 366 * 86400;
  std::tm tm{};
  while (t < limit) {
    gmtime_r(&t, &tm);
    if (!month_.test(static_cast<size_t>(tm.tm_mon + 1))) {  // to the first day of the next month
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
    } else if (!day_ok(tm.tm_mday, tm.tm_wday)) {
      t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
    } else if (!hour_.test(static_cast<size_t>(tm.tm_hour))) {
      t += 3600 - (tm.tm_min * 60 + tm.tm_sec);
    } else if (!min_.test(static_cast<size_t>(tm.tm_min))) {
      t += 60 - tm.tm_sec;
    } else if (!sec_.test(static_cast<size_t>(tm.tm_sec))) {
      t += 1;
    } else {
      return static_cast<int64_t>(t) * 1000;
    }
  }
  return std::nullopt;
}

}  // namespace tributary
