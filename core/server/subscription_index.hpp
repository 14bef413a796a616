#pragma once
// Which sessions want a topic, indexed by pattern: exact topics, "prefix.*" and "*". Finding
// the sessions for a topic costs one hash look-up per '.' in it, whatever the number of
// sessions. One index per I/O thread, touched only by it: no lock.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/text_hash.hpp"

namespace tributary {

class subscriber;

class subscription_index {
 public:
  void add(std::string_view pattern, subscriber* c);
  void remove(std::string_view pattern, subscriber* c);
  // Calls f(c) for every subscription matching `topic`; a session with several matching
  // patterns is called once per pattern (the caller de-duplicates).
  template <class F>
  void for_each_match(std::string_view topic, F&& f) const;
  size_t patterns() const { return exact_.size() + prefix_.size() + (all_.empty() ? 0 : 1); }

 private:
  using table = std::unordered_map<std::string, std::vector<subscriber*>, text_hash, std::equal_to<>>;
  static void add_to(table& t, std::string_view key, subscriber* c);
  static void remove_from(table& t, std::string_view key, subscriber* c);

  table exact_;
  table prefix_;  // key: the pattern without its '*' ("price.")
  std::vector<subscriber*> all_;
};

template <class F>
void subscription_index::for_each_match(std::string_view topic, F&& f) const {
  for (auto* c : all_) f(c);
  if (auto it = exact_.find(topic); it != exact_.end())
    for (auto* c : it->second) f(c);
  if (prefix_.empty()) return;
  for (size_t dot = topic.find('.'); dot != std::string_view::npos && dot + 1 < topic.size();
       dot = topic.find('.', dot + 1))
    if (auto it = prefix_.find(topic.substr(0, dot + 1)); it != prefix_.end())
      for (auto* c : it->second) f(c);
}

}  // namespace tributary
