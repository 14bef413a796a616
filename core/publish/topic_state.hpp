#pragma once
// A broker's per-topic state: the dense id sessions index by, the last seq numbered here, the
// last seq applied (delivered on this node) and that publication. Not thread-safe: its broker
// holds it under its lock. Looked up by name once per record: names map to ids in a flat
// name_table, and entries sit by id in a deque (an entry's address holds while topics are added,
// as a view publishing from the handler may add one while its caller holds an entry).
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "publish/published.hpp"
#include "util/name_table.hpp"

namespace tributary {

class topic_table {
 public:
  struct entry {
    uint32_t id = 0;
    uint64_t numbered = 0;  // last seq given here
    uint64_t applied = 0;   // seq of `last`
    std::shared_ptr<const published_record> last;
  };
  topic_table();
  entry& at(std::string_view topic);  // added on first use
  entry* find(std::string_view topic);
  bool has(std::string_view topic);  // a publication of it is held
  // The latest record of `topic` marked stale, to publish again; nullopt when there is none or
  // it is stale already. Its data is read back from its bytes when it came without.
  std::optional<record> stale_copy(std::string_view topic);
  // Numbering continues after `seq` (never goes back).
  void continue_after(std::string_view topic, uint64_t seq);
  // Numbering continues after what was applied: what was numbered but never delivered is
  // given again (a new leader after a lost lease).
  void renumber_from_applied();
  // Tells this table's ids from another's (published_record::table): unique in the process, never 0.
  uint32_t serial() const { return serial_; }

 private:
  const uint32_t serial_;
  name_table ids_;
  std::deque<entry> entries_;  // by id
};

}  // namespace tributary
