#include "publish/fanout_hub.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include "util/clock.hpp"

namespace tributary {

fanout_hub::fanout_hub(history_options h, const clock_source* clock) {
  if (!clock) {
    own_clock_ = std::make_unique<system_clock_source>();
    clock = own_clock_.get();
  }
  history_ = std::make_unique<topic_history>(h, *clock);
  std::random_device rd;
  char made[17];
  std::snprintf(made, sizeof made, "%08x%08x", rd(), rd());
  epoch_ = made;
}

fanout_hub::~fanout_hub() = default;

void fanout_hub::attach(record_inbox* in) {
  std::lock_guard lk(mu_);
  inboxes_.push_back(in);
}

void fanout_hub::detach(record_inbox* in) {
  std::lock_guard lk(mu_);
  std::erase(inboxes_, in);
}

void fanout_hub::accept(const std::shared_ptr<const published_record>& r) {
  history_->add(r);
  std::lock_guard lk(mu_);
  for (auto* in : inboxes_) in->push(r);
}

}  // namespace tributary
