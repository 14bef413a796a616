#include "auth/access.hpp"

#include <algorithm>

#include "record/topic.hpp"

namespace tributary {

namespace {

bool is_wildcard(std::string_view p) { return !p.empty() && p.back() == '*'; }
std::string_view stem(std::string_view p) { return p.substr(0, p.size() - 1); }  // "price.*" -> "price."

// The segment after `user.` at `at`: the user id of `user.<id>` and of `user.<id>.…` alike.
// A wildcard is nobody's (`user.*`).
std::string_view owner_at(std::string_view s, size_t at) {
  static constexpr std::string_view user = "user.";
  if (s.substr(at, user.size()) != user) return {};
  size_t begin = at + user.size(), end = s.find('.', begin);
  auto id = s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  return id == "*" ? std::string_view{} : id;
}

template <class F>
bool any_grant(const grant& g, F&& f) {
  return std::any_of(g.policy->public_patterns.begin(), g.policy->public_patterns.end(), f) ||
         std::any_of(g.channels.begin(), g.channels.end(), f);
}

}  // namespace

std::string_view personal_owner(std::string_view s) {
  if (auto o = owner_at(s, 0); !o.empty()) return o;
  auto dot = s.find('.');
  return dot == std::string_view::npos ? std::string_view{} : owner_at(s, dot + 1);
}

std::optional<std::string> intersect(std::string_view a, std::string_view b) {
  if (a == "*") return std::string(b);
  if (b == "*") return std::string(a);
  bool wa = is_wildcard(a), wb = is_wildcard(b);
  if (!wa && !wb) return a == b ? std::optional<std::string>(a) : std::nullopt;
  if (!wa) return topic_matches(b, a) ? std::optional<std::string>(a) : std::nullopt;
  if (!wb) return topic_matches(a, b) ? std::optional<std::string>(b) : std::nullopt;
  if (stem(a).starts_with(stem(b))) return std::string(a);
  if (stem(b).starts_with(stem(a))) return std::string(b);
  return std::nullopt;
}

bool may_see(const grant& g, std::string_view topic) {
  if (!g.enabled()) return true;
  if (auto owner = personal_owner(topic); !owner.empty()) return owner == g.user;
  return any_grant(g, [&](const std::string& p) { return topic_matches(p, topic); });
}

bool reaches_own_topics(const grant& g, std::string_view pattern) {
  if (!g.enabled() || g.user.empty()) return false;
  if (auto owner = personal_owner(pattern); !owner.empty()) return owner == g.user;
  if (intersect(pattern, "user." + g.user + ".*") || topic_matches(pattern, "user." + g.user)) return true;
  // `<kind>.user.<id>.…`: any pattern whose first segment could be a kind.
  auto dot = pattern.find('.');
  if (dot == std::string_view::npos) return pattern == "*";
  auto kind = std::string(pattern.substr(0, dot));
  return intersect(pattern, kind + ".user." + g.user + ".*").has_value() || topic_matches(pattern, kind + ".user." + g.user);
}

bool may_subscribe(const grant& g, std::string_view pattern) {
  if (!g.enabled()) return true;
  if (auto owner = personal_owner(pattern); !owner.empty()) return owner == g.user;
  if (!g.user.empty() && (intersect(pattern, "user." + g.user + ".*") || intersect(pattern, "event.user." + g.user + ".*")))
    return true;
  return any_grant(g, [&](const std::string& p) { return intersect(pattern, p).has_value(); });
}

std::vector<std::string> shared_registrations(const grant& g, std::string_view pattern) {
  if (!g.enabled()) return {std::string(pattern)};
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    if (auto i = intersect(pattern, p); i && std::find(out.begin(), out.end(), *i) == out.end()) out.push_back(*i);
    return false;
  };
  any_grant(g, add);
  return out;
}

}  // namespace tributary
