#include "server/session_subscriptions.hpp"

#include <algorithm>

#include "server/io_shard.hpp"
#include "server/server_state.hpp"

namespace tributary {

namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Registers what `want` has and `have` lacks, unregisters the opposite; `have` becomes `want`.
void sync(subscription_index& index, subscriber* c, std::vector<std::string>& have, std::vector<std::string> want) {
  for (auto& p : have)
    if (!contains(want, p)) index.remove(p, c);
  for (auto& p : want)
    if (!contains(have, p)) index.add(p, c);
  have = std::move(want);
}

}  // namespace

bool session_subscriptions::has(std::string_view p) const { return contains(patterns_, p); }

void session_subscriptions::remove(std::string_view p) {
  if (auto it = std::find(patterns_.begin(), patterns_.end(), p); it != patterns_.end()) patterns_.erase(it);
}

void session_subscriptions::apply(io_shard& shard, subscriber* c, const grant& g) {
  shard.st.subscriptions.change(protocol_, counted_, patterns_);
  counted_ = patterns_;
  std::vector<std::string> shared, personal;
  for (auto& p : patterns_) {
    for (auto& r : shared_registrations(g, p))
      if (!contains(shared, r)) shared.push_back(std::move(r));
    if (reaches_own_topics(g, p)) personal.push_back(p);
  }
  auto reached = shared_;
  sync(shard.index(), c, shared_, std::move(shared));
  shard.st.reachable.change(protocol_, reached, shared_);
  if (!user_.empty() && user_ != g.user) {  // never happens today: a session keeps its user
    sync(shard.personal_index(user_), c, personal_, {});
    shard.release_personal_index(user_);
  }
  user_ = g.user;
  if (user_.empty()) return;
  sync(shard.personal_index(user_), c, personal_, std::move(personal));
  shard.release_personal_index(user_);
}

void session_subscriptions::clear(io_shard& shard, subscriber* c) {
  patterns_.clear();
  shard.st.subscriptions.change(protocol_, counted_, {});
  counted_.clear();
  shard.st.reachable.change(protocol_, shared_, {});
  sync(shard.index(), c, shared_, {});
  if (user_.empty()) return;
  sync(shard.personal_index(user_), c, personal_, {});
  shard.release_personal_index(user_);
}

}  // namespace tributary
