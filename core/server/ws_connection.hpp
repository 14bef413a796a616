#pragma once
// Internal to server/: one WebSocket client. Lives on its I/O thread; no strand, no lock.
// The socket is driven directly: readiness waits from Asio, then non-blocking recv into the
// thread's shared buffer and gathered sendmsg of the queued, pre-encoded frames, so an idle
// session holds no buffer and a busy one writes all its pending frames in one call.
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "server/io_shard.hpp"
#include "server/message_budget.hpp"
#include "server/send_queue.hpp"
#include "server/session_subscriptions.hpp"
#include "server/subscriber.hpp"
#include "server/seq_tracker.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {

class ws_connection final : public subscriber, public std::enable_shared_from_this<ws_connection>, private ws::frame_handler {
 public:
  ws_connection(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot);
  ~ws_connection() override;
  // `token`: from the upgrade request; empty when none.
  void start(std::string early, std::string_view token);
  // The upgrade counted this session toward its user's connections_per_user: before start().
  void counted_as(counted_session c) {
    limited_user_ = std::move(c.user);
    limit_key_ = std::move(c.key);
  }
  // permessage-deflate was agreed: before start().
  void compress() {
    deflate_ = true;
    reader_.accept_deflate();
  }

  // subscriber
  void offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) override;
  void flush() override;
  void heartbeat(int64_t now) override;
  void shut_down() override { close_with(ws::close_code::going_away, "server shutting down"); }
  bool finished() const override { return finished_; }
  // Pending updates are dropped; with `after_replies`, replies already queued (an error saying
  // why) still go out before the close frame.
  void close_with(ws::close_code code, std::string_view reason, bool after_replies = false);

 private:
  // frame_handler
  void on_text(std::string_view message) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_peer_close(ws::close_code code) override;
  void on_violation(ws::close_code code, std::string_view why) override;

  // Client messages (ws_messages.cpp).
  void handle(const nlohmann::json& msg, const nlohmann::json& id);
  void subscribe(const nlohmann::json& msg, const nlohmann::json& id);
  void unsubscribe(const nlohmann::json& msg, const nlohmann::json& id);
  void authenticate(std::string_view token, const nlohmann::json& id);  // ws_auth.cpp
  static int64_t wall_ms();
  void recover(const published_record& latest, uint64_t since, nlohmann::json& recovery, std::vector<out_frame>& frames);
  void snapshot(const published_record& r, std::vector<out_frame>& frames);
  void reply(frame_type t, const nlohmann::json& msg);
  void reply_error(const nlohmann::json& id, std::string_view code, std::string_view message);
  void reply_forbidden(const nlohmann::json& id, const std::string& pattern);

  // The frame of a record / of this session's own message, compressed when agreed and worth it.
  std::shared_ptr<const std::string> record_frame(const std::shared_ptr<const published_record>& r);
  std::shared_ptr<const std::string> own_frame(std::string plain);

  // Transport.
  void arm_read();
  void on_readable();
  void wait_writable();
  void queue_update(out_frame f);
  void after_flush();
  void unregister();
  void abort();   // closes the socket at once
  void finish();  // the session is over

  io_shard& shard_;
  tcp::socket socket_;
  std::unique_ptr<connection_slot> slot_;
  std::string id_;
  std::shared_ptr<const server_settings> cfg_;  // the server's settings when this session opened
  ws::frame_reader reader_;
  send_queue queue_;
  seq_tracker seqs_;
  // messages_per_second: over it a message is refused; over ten times it, the session is closed.
  message_budget messages_, flood_;
  session_subscriptions subs_;
  grant grant_;             // what this session may see
  int64_t expires_ms_ = 0;  // token expiry, wall clock ms; 0: no token or no exp
  int64_t opened_ms_ = 0;
  uint64_t last_stamp_ = 0;
  uint64_t ping_payload_ = 0;
  int64_t last_pong_ = 0, ping_sent_ = 0, closing_since_ = 0;
  bool dirty_ = false, reading_ = false, read_paused_ = false, write_waiting_ = false;
  bool ping_outstanding_ = false, closing_ = false, close_sent_ = false, write_shut_ = false;
  bool finished_ = false;
  bool deflate_ = false;  // permessage-deflate agreed
  // connections_per_user: the user this session is counted for, and its key in the count.
  std::string limited_user_, limit_key_;
  int64_t limit_refreshed_ = 0;
  bool count_user(const std::string& user);
  bool too_slow_ = false;  // an update was refused: close on the next flush
  bool updated_since_sweep_ = false;  // an update was queued since the last heartbeat sweep
};

}  // namespace tributary
