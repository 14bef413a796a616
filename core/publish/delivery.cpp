#include "publish/delivery.hpp"

#include <map>

#include "publish/cache.hpp"
#include "publish/fanout_hub.hpp"
#include "publish/view_engine.hpp"
#include "record/record_bytes.hpp"

namespace tributary {

namespace {
// What `v` makes of `p` (a view record only sets its view's baseline). A record read back from
// the stream carries no data until a view needs it.
std::vector<record> show(view_engine& v, const published_record& p) {
  if (!v.reads(p.topic)) return {};  // most records: no view reads them
  if (!p.rec.data.is_null()) return v.on_record(p.rec);
  record r = p.rec;
  r.data = read_record_data(p.json);
  return v.on_record(r);
}
}  // namespace

void delivery::set_views(view_engine* v, view_output out, std::function<bool()> publishes) {
  std::lock_guard lk(views_mu_);
  views_ = v;
  view_out_ = std::move(out);
  publishes_ = std::move(publishes);
}

void delivery::on_publication(const std::shared_ptr<const published_record>& p) {
  cache_.accept(p);
  if (hub_) hub_->accept(p);
  for (auto* s : sinks_) s->accept(p);
  std::vector<record> made;
  {
    std::lock_guard lk(views_mu_);
    if (!views_) return;
    made = show(*views_, *p);
  }
  publish_views(std::move(made));
}

void delivery::publish_views(std::vector<record> made) {
  if (made.empty() || !view_out_ || (publishes_ && !publishes_())) return;
  for (auto& r : made) view_out_(std::move(r));
}

view_engine* delivery::replace_views(view_engine* v) {
  std::vector<record> made;
  view_engine* old;
  {
    std::lock_guard lk(views_mu_);
    if (v)
      for (auto& p : cache_.all())
        if (p->rec.kind != view_engine::kind)
          for (auto& r : show(*v, *p)) made.push_back(std::move(r));
    old = std::exchange(views_, v);
  }
  std::map<std::string, size_t> last;  // one record per view: the one made from the whole cache
  for (size_t i = 0; i < made.size(); ++i) last[made[i].topic()] = i;
  std::vector<record> latest;
  for (auto& [topic, i] : last) latest.push_back(std::move(made[i]));
  publish_views(std::move(latest));
  return old;
}

}  // namespace tributary
