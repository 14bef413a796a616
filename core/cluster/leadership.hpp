#pragma once
// What the cluster broker needs to know of the election (cluster_node implements it): who
// leads, under which fencing epoch, whether Redis answers; and how to give the lead up.
#include <cstdint>

namespace tributary {

class leadership {
 public:
  virtual ~leadership() = default;
  virtual bool is_leader() const = 0;
  virtual uint64_t epoch() const = 0;  // of this node's last acquisition
  virtual bool redis_up() const = 0;
  // A write was refused for a newer epoch: stop leading now.
  virtual void fenced() = 0;
  // Stops renewing and releases the lease if held (shutdown); idempotent.
  virtual void resign() = 0;
};

}  // namespace tributary
