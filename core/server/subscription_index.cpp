#include "server/subscription_index.hpp"

#include <algorithm>

namespace tributary {

namespace {
bool is_prefix(std::string_view p) { return p.size() >= 2 && p.substr(p.size() - 2) == ".*"; }
}  // namespace

void subscription_index::add_to(table& t, std::string_view key, subscriber* c) {
  auto it = t.find(key);
  if (it == t.end()) it = t.emplace(std::string(key), std::vector<subscriber*>{}).first;
  it->second.push_back(c);
}

void subscription_index::remove_from(table& t, std::string_view key, subscriber* c) {
  auto it = t.find(key);
  if (it == t.end()) return;
  auto& v = it->second;
  if (auto pos = std::find(v.begin(), v.end(), c); pos != v.end()) {
    *pos = v.back();
    v.pop_back();
  }
  if (v.empty()) t.erase(it);
}

void subscription_index::add(std::string_view pattern, subscriber* c) {
  if (pattern == "*") {
    all_.push_back(c);
  } else if (is_prefix(pattern)) {
    add_to(prefix_, pattern.substr(0, pattern.size() - 1), c);
  } else {
    add_to(exact_, pattern, c);
    ++generation_;
  }
}

void subscription_index::remove(std::string_view pattern, subscriber* c) {
  if (pattern == "*") {
    if (auto pos = std::find(all_.begin(), all_.end(), c); pos != all_.end()) {
      *pos = all_.back();
      all_.pop_back();
    }
  } else if (is_prefix(pattern)) {
    remove_from(prefix_, pattern.substr(0, pattern.size() - 1), c);
  } else {
    remove_from(exact_, pattern, c);
    ++generation_;
  }
}

const std::vector<subscriber*>* subscription_index::exact_for(std::string_view topic) const {
  auto it = exact_.find(topic);
  return it == exact_.end() ? nullptr : &it->second;
}

const std::vector<subscriber*>* subscription_index::exact_for(std::string_view topic, uint32_t id) const {
  if (id >= kMaxRemembered) return exact_for(topic);
  if (id >= by_id_.size())  // a new topic: not per record
    by_id_.resize(std::min<size_t>(kMaxRemembered, std::max<size_t>(id + 1, by_id_.size() * 2)));
  auto& m = by_id_[id];
  if (m.generation != generation_) m = {generation_, exact_for(topic)};
  return m.subs;
}

}  // namespace tributary
