#pragma once
// Names to dense ids (0, 1, 2... in the order they were first added), for tables looked up by
// name once per record: one flat array of slots (a tag of the name's hash and its id) probed
// linearly, and the names back to back in one buffer. A look-up reads one slot and, when the
// tag matches, one name: two cache lines, where a node-based map reads a bucket, a node and the
// key's own allocation. Nothing is allocated but when a name is added.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tributary {

class name_table {
 public:
  static constexpr uint32_t none = UINT32_MAX;

  // The id of `name`, or `none`.
  uint32_t find(std::string_view name) const;
  // The id of `name`, given now when it has none.
  uint32_t add(std::string_view name);
  size_t size() const { return ends_.size(); }
  std::string_view name(uint32_t id) const {
    uint32_t begin = id == 0 ? 0 : ends_[id - 1];
    return {names_.data() + begin, ends_[id] - begin};
  }

 private:
  struct slot {
    uint32_t tag = 0;
    uint32_t id = none;
  };
  // The slot holding `name`, or the empty slot where it would go.
  size_t probe(std::string_view name, uint64_t hash) const;
  void grow();

  std::vector<slot> slots_;  // a power of two, at most half full
  std::string names_;
  std::vector<uint32_t> ends_;  // where each id's name ends in names_
};

}  // namespace tributary
