#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "publish/published.hpp"
#include "publish/topic_history.hpp"

namespace tributary {

// The consumer side of the hub: a server I/O thread. push() must not block or wait on
// clients; it queues and wakes the thread.
class record_inbox {
 public:
  virtual ~record_inbox() = default;
  virtual void push(const std::shared_ptr<const published_record>& r) = 0;
};

// Hands every published record once to each attached inbox, in the order accept() is called
// (the broker's delivery calls it in seq order), and keeps the history for recovery.
// Per record the cost is one history insert and one queue push per I/O thread, whatever the
// number of sessions: finding the interested sessions is each I/O thread's own work.
class fanout_hub final : public record_sink {
 public:
  explicit fanout_hub(history_options h = {}, const clock_source* clock = nullptr);
  ~fanout_hub() override;
  void attach(record_inbox* in);
  void detach(record_inbox* in);
  void accept(const std::shared_ptr<const published_record>& r) override;
  const topic_history& history() const { return *history_; }
  // The history's epoch (docs/protocol.md, Recovery): random at creation, as the history is
  // new; the host sets the cluster's instead, once, before sessions read it.
  void set_epoch(std::string e) { epoch_ = std::move(e); }
  const std::string& epoch() const { return epoch_; }

 private:
  std::unique_ptr<clock_source> own_clock_;
  std::unique_ptr<topic_history> history_;
  std::string epoch_;
  std::mutex mu_;  // guards inboxes_ against attach/detach; uncontended on the publish path
  std::vector<record_inbox*> inboxes_;
};

}  // namespace tributary
