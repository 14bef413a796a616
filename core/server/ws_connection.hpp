#pragma once
// Internal to server/: one WebSocket client. Lives on its I/O thread; no strand, no lock.
// The socket is driven directly: readiness waits from Asio, then non-blocking recv into the
// thread's shared buffer and gathered sendmsg of the queued, pre-encoded frames, so an idle
// session holds no buffer and a busy one writes all its pending frames in one call.
#include <string>
#include <string_view>
#include <vector>

#include "server/deflate_chain.hpp"
#include "server/io_shard.hpp"
#include "server/message_budget.hpp"
#include "server/send_queue.hpp"
#include "server/session_protocol.hpp"
#include "server/session_subscriptions.hpp"
#include "server/subscriber.hpp"
#include "server/seq_tracker.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {

// How a login with a token came out (login()); each protocol words it its own way.
enum class login_outcome : uint8_t { ok, auth_off, too_late, invalid, expired, too_many };
struct login_result {
  login_outcome outcome = login_outcome::invalid;
  std::string error;  // fit for the client (never the token)
  std::string user;   // ok: the user claim as text
};

class ws_connection final : public subscriber, public std::enable_shared_from_this<ws_connection>, private ws::frame_handler {
 public:
  ws_connection(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, session_wire protocol);
  ~ws_connection() override;
  // `token`: from the upgrade request; empty when none.
  void start(std::string early, std::string_view token);
  // The upgrade counted this session toward its user's connections_per_user: before start().
  void counted_as(counted_session c) {
    limited_user_ = std::move(c.user);
    limit_key_ = std::move(c.key);
  }
  // permessage-deflate was agreed (`context`: the client lets the server keep its context from
  // one message to the next, so the session may share a deflate chain): before start().
  void compress(bool context) {
    deflate_ = true;
    context_ = context;
    reader_.accept_deflate();
  }

  // subscriber
  void offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) override;
  void stage(write_batch& b) override;
  void written(ssize_t result) override;
  void heartbeat(int64_t now) override;
  void shut_down() override { close_with(ws::close_code::going_away, "server shutting down"); }
  bool finished() const override { return finished_; }
  // Pending updates are dropped; with `after_replies`, replies already queued (an error saying
  // why) still go out before the close frame.
  void close_with(ws::close_code code, std::string_view reason, bool after_replies = false);

  // ---- for the session's protocol (server/session_protocol.hpp)
  io_shard& shard() { return shard_; }
  const server_settings& settings() const { return *cfg_; }
  const std::string& id() const { return id_; }
  const grant& access() const { return grant_; }
  session_subscriptions& subscriptions() { return subs_; }
  void apply_subscriptions();
  seq_tracker& seqs() { return seqs_; }
  int64_t expires_ms() const { return expires_ms_; }
  bool closing() const { return closing_; }
  static int64_t wall_ms();
  // Checks `token` and, when good, makes its user and grant this session's.
  login_result login(std::string_view token);
  // Queues a message of this session's own (a reply) as a text frame.
  void send_text(frame_type t, std::string_view payload);
  // Queues a frame sent in answer to the client (a snapshot, a recovered update).
  void send_reply(out_frame f) {
    if (!closing_) queue_.push_reply(std::move(f));  // nothing may follow the close frame
  }
  // The frame of `r` every session of a protocol shares: `plain` (kept by the record), or when
  // this session compresses, its compressed copy (variant `deflated` of the record) when worth it.
  record_frames shared_frame(const std::shared_ptr<const published_record>& r, const std::string* plain, frame_variant deflated);
  // `compressed` when not null, else `plain`; both kept alive by `r`.
  record_frames frames_of(const std::shared_ptr<const published_record>& r, const std::string* plain, const std::string* compressed);
  bool compressing() const { return deflate_; }
  // The session is in a deflate chain: its live frames name their plain frame.
  bool shares_context() const { return chain_ != nullptr; }
  // The compressed copy of a plain frame when it is worth it (compression_min_bytes, smaller);
  // else empty.
  std::string deflated(const std::string& plain) const;
  // A frame of this session's alone, compressed when agreed and worth it.
  frame_ref own_frame(std::string plain);

 private:
  // frame_handler
  void on_text(std::string_view message) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_peer_close(ws::close_code code) override;
  void on_violation(ws::close_code code, std::string_view why) override;
  std::string_view over_rate();  // the message limits; empty: within them

  // Transport.
  void arm_read();
  void on_readable();
  void wait_writable();
  void flush();  // writes what is queued, now (stage() is the batched form)
  bool ready_to_write();  // closes a session marked too slow; false while no write may start
  void settle_frame(out_frame& f);
  void sent_frame(frame_type t);
  void queue_update(out_frame&& f);
  // Deflate chains (server/deflate_chain.hpp).
  void join_chain();
  void after_flush();
  void unregister();
  void abort();   // closes the socket at once
  void finish();  // the session is over
  bool count_user(const std::string& user);

  io_shard& shard_;
  // What a delivery touches (offer, queue_update, flush), together in a few cache lines: a
  // broadcast visits every session for each record.
  std::shared_ptr<const server_settings> cfg_;  // the server's settings when this session opened
  std::unique_ptr<session_protocol> protocol_;  // made in the constructor's body, once all else is
  uint64_t last_stamp_ = 0;
  seq_tracker seqs_;
  send_queue queue_;
  std::shared_ptr<deflate_chain> chain_;  // shared with the sessions of the same key
  bool write_waiting_ = false, closing_ = false, write_shut_ = false, finished_ = false;
  bool deflate_ = false;  // permessage-deflate agreed
  bool context_ = false;  // ... with context takeover
  bool too_slow_ = false;  // an update was refused: close on the next flush
  bool staged_ = false;    // a write of this session's is in a write_batch
  bool updated_since_sweep_ = false;  // an update was queued since the last heartbeat sweep

  tcp::socket socket_;
  std::unique_ptr<connection_slot> slot_;
  std::string id_;
  ws::frame_reader reader_;
  // messages_per_second: over it a message is refused; over ten times it, the session is closed.
  message_budget messages_, flood_;
  session_subscriptions subs_;
  grant grant_;             // what this session may see
  int64_t expires_ms_ = 0;  // token expiry, wall clock ms; 0: no token or no exp
  int64_t opened_ms_ = 0;
  uint64_t ping_payload_ = 0;
  int64_t last_pong_ = 0, ping_sent_ = 0, closing_since_ = 0, app_ping_ = 0;
  bool reading_ = false, read_paused_ = false;
  bool ping_outstanding_ = false, close_sent_ = false;
  uint32_t dialect_;      // which dialect, for a dialect session
  chain_sync sync_;
  // connections_per_user: the user this session is counted for, and its key in the count.
  std::string limited_user_, limit_key_;
  int64_t limit_refreshed_ = 0;
};

}  // namespace tributary
