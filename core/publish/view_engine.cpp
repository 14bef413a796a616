#include "publish/view_engine.hpp"

#include <algorithm>

namespace tributary {

using json = nlohmann::json;

view_engine::view_engine(std::vector<view_config> views) {
  for (auto& v : views) {
    for (auto& f : v.fields) {
      auto& r = readers_[f.topic];
      if (r.empty() || r.back() != views_.size()) r.push_back(views_.size());
    }
    views_.push_back({std::move(v), json()});
  }
}

bool view_engine::reads(std::string_view topic) const {
  if (readers_.find(topic) != readers_.end()) return true;
  constexpr std::string_view prefix = "view.";
  if (topic.substr(0, prefix.size()) != prefix) return false;
  auto name = topic.substr(prefix.size());
  return std::any_of(views_.begin(), views_.end(), [&](auto& v) { return v.cfg.name == name; });
}

std::vector<record> view_engine::on_record(const record& r) {
  if (r.kind == kind) {  // a view published before (by this node or the leader): the baseline
    for (auto& v : views_)
      if (v.cfg.name == r.subject) {
        v.last = r.data;
        v.last.erase("updated_at");
      }
    return {};
  }
  auto readers = readers_.find(r.topic());
  if (readers == readers_.end()) return {};
  auto& in = inputs_[r.topic()];
  if (r.seq != 0 && r.seq < in.seq) return {};  // an older record than the one held
  in = {r.data, r.stale, r.received, r.seq};
  std::vector<record> out;
  for (size_t i : readers->second)
    if (auto made = compose(views_[i])) out.push_back(std::move(*made));
  return out;
}

// The view's object from the inputs held; nullopt when it would not change or has no field yet. Unknown inputs and
// missing fields are left out, never defaulted; fields of stale inputs are listed in `stale`.
std::optional<record> view_engine::compose(view_state& v) const {
  json obj = json::object(), stale = json::array();
  int64_t updated = 0;
  for (auto& f : v.cfg.fields) {
    auto in = inputs_.find(f.topic);
    if (in == inputs_.end()) continue;
    auto value = in->second.data.find(f.field);
    if (value == in->second.data.end() || value->is_null()) continue;
    obj[f.out] = *value;
    if (in->second.stale) stale.push_back(f.out);
    updated = std::max(updated, in->second.received);
  }
  if (obj.empty()) return std::nullopt;  // no value yet: no view (its route answers 404 until then)
  obj["stale"] = std::move(stale);
  if (obj == v.last) return std::nullopt;
  v.last = obj;
  record r;
  r.kind = kind;
  r.subject = v.cfg.name;
  r.source = "view";
  r.feed = v.cfg.name;
  r.ts = r.received = updated;
  r.data = std::move(obj);
  r.data["updated_at"] = updated;
  return r;
}

}  // namespace tributary
