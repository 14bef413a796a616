#pragma once
// Internal to server/: what an I/O thread delivers to and looks after, whatever the transport
// (a WebSocket session, an SSE stream). Lives on its thread; no lock.
#include <cstdint>
#include <memory>

#include "publish/published.hpp"
#include "server/write_batch.hpp"

namespace tributary {

class io_shard;

class subscriber : public write_batch::writer {
 public:
  virtual ~subscriber() = default;
  // The hot path: a record this subscriber's patterns match. `stamp` is unique per delivered
  // record, so a subscriber matched by several patterns takes it once.
  virtual void offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) = 0;
  // Once per delivery slice, if it was marked (io_shard::mark_dirty): stages what is queued as
  // one write of `b`, whose result comes to written().
  virtual void stage(write_batch& b) = 0;
  virtual void heartbeat(int64_t now) = 0;  // from the thread's sweep
  virtual void shut_down() = 0;            // the server is stopping
  virtual bool finished() const = 0;
  // Where this subscriber's next queued frame will be written, or null: the delivery loop
  // prefetches it a few subscribers ahead (server/subscription_index.hpp). A hint; may be stale.
  const void* write_hint() const { return write_hint_; }

 protected:
  const void* write_hint_ = nullptr;

 private:
  friend class io_shard;
  bool marked_ = false;  // waits in its thread's list of subscribers to stage (io_shard::mark_dirty)
};

}  // namespace tributary
