#pragma once
// Which sessions want a topic, indexed by pattern: exact topics, "prefix.*" and "*". Finding
// the sessions for a topic costs one hash look-up per '.' in it, whatever the number of
// sessions. One index per I/O thread, touched only by it: no lock.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/subscriber.hpp"
#include "util/text_hash.hpp"

namespace tributary {

class subscription_index {
 public:
  subscription_index() = default;
  // Moved, never copied: what it remembers points into its own table (a move keeps the nodes).
  subscription_index(subscription_index&&) = default;
  subscription_index& operator=(subscription_index&&) = default;
  subscription_index(const subscription_index&) = delete;
  subscription_index& operator=(const subscription_index&) = delete;
  void add(std::string_view pattern, subscriber* c);
  void remove(std::string_view pattern, subscriber* c);
  // Calls f(c) for every subscription matching `topic`; a session with several matching
  // patterns is called once per pattern (the caller de-duplicates).
  template <class F>
  void for_each_match(std::string_view topic, F&& f) const;
  // The same, given also the topic's dense id (published_record::topic_id): its exact
  // subscriptions are remembered by id until the exact patterns change, so a record of a topic
  // seen before costs an array read instead of a hash look-up (thousands of personal topics:
  // the look-up's cache misses were a tenth of the delivery's CPU).
  template <class F>
  void for_each_match(std::string_view topic, uint32_t id, F&& f) const;
  size_t patterns() const { return exact_.size() + prefix_.size() + (all_.empty() ? 0 : 1); }

 private:
  using table = std::unordered_map<std::string, std::vector<subscriber*>, text_hash, std::equal_to<>>;
  static void add_to(table& t, std::string_view key, subscriber* c);
  static void remove_from(table& t, std::string_view key, subscriber* c);
  const std::vector<subscriber*>* exact_for(std::string_view topic) const;
  const std::vector<subscriber*>* exact_for(std::string_view topic, uint32_t id) const;
  template <class F>
  void for_each_other_match(std::string_view topic, F& f) const;

  struct remembered {
    uint64_t generation = 0;
    const std::vector<subscriber*>* subs = nullptr;
  };
  static constexpr uint32_t kMaxRemembered = 1u << 20;  // ids past this are looked up each time
  mutable std::vector<remembered> by_id_;
  uint64_t generation_ = 1;  // bumped by every change to exact_

  table exact_;
  table prefix_;  // key: the pattern without its '*' ("price.")
  std::vector<subscriber*> all_;
};

// Calls f on each of `v`, the session a few places ahead already on its way into the cache: a
// broadcast visits thousands of sessions per record, each in its own allocation.
// The slot its next frame goes to comes a little later, once the session's first line (which
// says where that slot is) has arrived: writing queued frames into cold memory was what the
// delivery loop waited for most (docs/benchmarks.md).
template <class F>
void visit_prefetching(const std::vector<subscriber*>& v, F& f) {
  constexpr size_t kAhead = 4, kLines = 4;  // the delivery path's fields are in the first lines
  constexpr size_t kSlotAhead = 2;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i + kAhead < v.size())
      for (size_t l = 0; l < kLines; ++l) __builtin_prefetch(reinterpret_cast<const char*>(v[i + kAhead]) + 64 * l, 1);
    if (i + kSlotAhead < v.size())
      if (const auto* slot = static_cast<const char*>(v[i + kSlotAhead]->write_hint())) {
        __builtin_prefetch(slot, 1);
        __builtin_prefetch(slot + 39, 1);  // a frame's entry may straddle two lines
      }
    f(v[i]);
  }
}

template <class F>
void subscription_index::for_each_match(std::string_view topic, F&& f) const {
  if (const auto* subs = exact_for(topic)) visit_prefetching(*subs, f);
  for_each_other_match(topic, f);
}

template <class F>
void subscription_index::for_each_match(std::string_view topic, uint32_t id, F&& f) const {
  if (const auto* subs = exact_for(topic, id)) visit_prefetching(*subs, f);
  for_each_other_match(topic, f);
}

// "*" and "prefix.*".
template <class F>
void subscription_index::for_each_other_match(std::string_view topic, F& f) const {
  visit_prefetching(all_, f);
  if (prefix_.empty()) return;
  for (size_t dot = topic.find('.'); dot != std::string_view::npos && dot + 1 < topic.size();
       dot = topic.find('.', dot + 1))
    if (auto it = prefix_.find(topic.substr(0, dot + 1)); it != prefix_.end()) visit_prefetching(it->second, f);
}

}  // namespace tributary
