#include "util/name_table.hpp"

#include <functional>

namespace tributary {

namespace {
uint64_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }
uint32_t tag_of(uint64_t h) { return static_cast<uint32_t>(h >> 32); }
}  // namespace

size_t name_table::probe(std::string_view n, uint64_t h) const {
  size_t mask = slots_.size() - 1;
  uint32_t tag = tag_of(h);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const slot& s = slots_[i];
    if (s.id == none || (s.tag == tag && name(s.id) == n)) return i;
  }
}

uint32_t name_table::find(std::string_view n) const {
  if (slots_.empty()) return none;
  return slots_[probe(n, hash_of(n))].id;
}

uint32_t name_table::add(std::string_view n) {
  if ((ends_.size() + 1) * 2 > slots_.size()) grow();
  uint64_t h = hash_of(n);
  slot& s = slots_[probe(n, h)];
  if (s.id != none) return s.id;
  names_.append(n);
  ends_.push_back(static_cast<uint32_t>(names_.size()));
  s = {tag_of(h), static_cast<uint32_t>(ends_.size() - 1)};
  return s.id;
}

void name_table::grow() {
  slots_.assign(slots_.empty() ? 64 : slots_.size() * 2, slot{});
  for (uint32_t id = 0; id < ends_.size(); ++id) {
    uint64_t h = hash_of(name(id));
    slots_[probe(name(id), h)] = {tag_of(h), id};
  }
}

}  // namespace tributary
