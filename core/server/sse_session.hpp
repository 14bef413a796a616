#pragma once
// Internal to server/: one Server-Sent Events stream (docs/protocol.md, Server-Sent Events).
// Lives on its I/O thread like a WebSocket session and shares its machinery: the subscription
// indexes, the bounded send queue (slow consumers conflate or are cut), gathered writes. Each
// event carries a cursor over every topic delivered, so Last-Event-ID resumes them all.
#include <memory>
#include <string>
#include <string_view>

#include "server/io_shard.hpp"
#include "server/send_queue.hpp"
#include "server/seq_tracker.hpp"
#include "server/session_subscriptions.hpp"
#include "server/sse_cursor.hpp"
#include "server/sse_route.hpp"
#include "server/subscriber.hpp"

namespace tributary {

class sse_session final : public subscriber, public std::enable_shared_from_this<sse_session> {
 public:
  sse_session(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, sse_start start);
  ~sse_session() override;
  // `head`: the HTTP response head; then the catch-up of every matching topic, then live events.
  void start(std::string head);

  // subscriber
  void offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) override;
  void stage(write_batch& b) override;
  void written(ssize_t result) override;
  void heartbeat(int64_t now) override;
  void shut_down() override { end(); }
  bool finished() const override { return finished_; }

 private:
  void send_catch_up(const std::string& pattern);
  // The event for `r` as `type` (update or snapshot), with the cursor after it.
  out_frame event(const published_record& r, frame_type type, std::string_view payload);
  void queue_update(out_frame&& f);
  bool ready_to_write();  // ends a stream marked too slow; false while no write may start
  void arm_read();
  void wait_writable();
  void flush();  // writes what is queued, now (stage() is the batched form)
  void end();  // closes the socket: the stream is over

  io_shard& shard_;
  tcp::socket socket_;
  std::unique_ptr<connection_slot> slot_;
  std::shared_ptr<const server_settings> cfg_;
  grant grant_;
  session_subscriptions subs_{client_protocol::sse};
  sse_cursor cursor_;
  const sse_cursor resume_;
  seq_tracker seqs_;
  send_queue queue_;
  int64_t expires_ms_;
  int64_t last_write_ = 0;
  uint64_t last_stamp_ = 0;
  bool too_slow_ = false, write_waiting_ = false, reading_ = false, finished_ = false;
  bool staged_ = false;  // a write of this stream's is in a write_batch
};

// After the request was checked: the stream starts on `shard` (the request's thread).
void start_sse_session(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, sse_start start, std::string head);

}  // namespace tributary
