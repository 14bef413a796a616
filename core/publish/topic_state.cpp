#include "publish/topic_state.hpp"

#include <algorithm>
#include <atomic>

#include "record/record_bytes.hpp"

namespace tributary {

namespace {
std::atomic<uint32_t> next_serial{1};
}  // namespace

topic_table::topic_table() : serial_(next_serial++) {}

topic_table::entry& topic_table::at(std::string_view topic) {
  uint32_t id = ids_.add(topic);
  if (id < entries_.size()) return entries_[id];
  auto& e = entries_.emplace_back();
  e.id = id;
  return e;
}

topic_table::entry* topic_table::find(std::string_view topic) {
  uint32_t id = ids_.find(topic);
  return id == name_table::none ? nullptr : &entries_[id];
}

bool topic_table::has(std::string_view topic) {
  auto* e = find(topic);
  return e && e->last;
}

std::optional<record> topic_table::stale_copy(std::string_view topic) {
  auto* e = find(topic);
  if (!e || !e->last || e->last->rec.stale) return std::nullopt;
  record r = e->last->rec;
  if (r.data.is_null() && r.data_text.empty()) r.data = read_record_data(e->last->json);  // read back from the stream without its data
  r.stale = true;
  return r;
}

void topic_table::continue_after(std::string_view topic, uint64_t seq) {
  auto& e = at(topic);
  e.numbered = std::max(e.numbered, seq);
}

void topic_table::renumber_from_applied() {
  for (auto& e : entries_) e.numbered = e.applied;
}

}  // namespace tributary
