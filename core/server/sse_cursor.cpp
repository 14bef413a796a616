#include "server/sse_cursor.hpp"

#include <algorithm>
#include <charconv>

#include "record/topic.hpp"

namespace tributary {

namespace {
bool valid_epoch(std::string_view e) {
  return !e.empty() && e.size() <= 64 && std::all_of(e.begin(), e.end(), [](unsigned char c) { return std::isalnum(c); });
}
}  // namespace

std::optional<sse_cursor> sse_cursor::parse(std::string_view text) {
  auto tilde = text.find('~');
  if (tilde == std::string_view::npos || !valid_epoch(text.substr(0, tilde))) return std::nullopt;
  sse_cursor c{std::string(text.substr(0, tilde))};
  std::string_view rest = text.substr(tilde + 1);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    auto eq = item.rfind('=');
    if (eq == std::string_view::npos || eq == 0 || c.seqs_.size() >= max_topics) return std::nullopt;
    auto topic = item.substr(0, eq), digits = item.substr(eq + 1);
    uint64_t seq = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    if (!check_pattern(topic).empty() || topic.back() == '*') return std::nullopt;
    c.set(topic, seq);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return c;
}

std::optional<uint64_t> sse_cursor::seq_of(std::string_view topic) const {
  auto it = std::lower_bound(seqs_.begin(), seqs_.end(), topic, [](const auto& e, std::string_view t) { return e.first < t; });
  if (it == seqs_.end() || it->first != topic) return std::nullopt;
  return it->second;
}

void sse_cursor::set(std::string_view topic, uint64_t seq) {
  auto it = std::lower_bound(seqs_.begin(), seqs_.end(), topic, [](const auto& e, std::string_view t) { return e.first < t; });
  if (it != seqs_.end() && it->first == topic) it->second = seq;
  else seqs_.insert(it, {std::string(topic), seq});
}

void sse_cursor::write(std::string& out) const {
  out += epoch_;
  out += '~';
  char digits[24];
  for (size_t i = 0; i < seqs_.size(); ++i) {
    if (i) out += ',';
    out += seqs_[i].first;
    out += '=';
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, seqs_[i].second);
    out.append(digits, end);
  }
}

}  // namespace tributary
