#include "record/topic.hpp"

namespace tributary {

bool topic_matches(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*")
    return topic.size() > pattern.size() - 1 &&
           topic.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == topic;
}

std::string check_pattern(std::string_view p) {
  if (p.empty()) return "empty topic pattern";
  if (p.size() > 640) return "topic pattern longer than 640 characters";  // a kind, a 512-character subject, a suffix
  auto star = p.find('*');
  if (star != std::string_view::npos && !(p == "*" || (star == p.size() - 1 && star >= 2 && p[star - 1] == '.')))
    return "'*' may only end a pattern, as in 'price.*', or stand alone";
  for (char c : p)
    if (static_cast<unsigned char>(c) < 0x21 || c == '"') return "topic pattern has a space or control character";
  return {};
}

}  // namespace tributary
