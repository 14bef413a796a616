#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sink/published.hpp"

namespace tributary {

// A WebSocket session as the hub sees it. deliver() must not block: it queues.
class subscriber {
 public:
  virtual ~subscriber() = default;
  virtual void deliver(const std::shared_ptr<const published_record>& r) = 0;
};

// Hands every published record to every live subscriber. The subscriber list is copied under
// the lock and delivery happens after it is released, so a slow session never blocks publish.
class fanout_hub final : public record_sink {
 public:
  void join(std::weak_ptr<subscriber> s);
  void accept(const std::shared_ptr<const published_record>& r) override;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<subscriber>> subs_;
};

}  // namespace tributary
