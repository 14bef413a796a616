// The WebSocket transport of a session: framing, gathered writes, backpressure, limits,
// heartbeat and the close handshake. What the client's messages mean is the session's protocol
// (tributary_protocol.cpp, centrifugo_protocol.cpp, dialect_protocol.cpp).
#include "server/ws_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "wire/ws_deflate.hpp"

namespace tributary {

namespace {
constexpr int64_t kCloseLingerMs = 2000;  // after our close frame, before the socket is cut
constexpr int kReadsPerWakeup = 4;        // one flooding client cannot starve the others

drop_reason reason_for(ws::close_code c) {
  switch (c) {
    case ws::close_code::too_big: return drop_reason::too_big;
    case ws::close_code::unsupported_data: return drop_reason::binary;
    case ws::close_code::invalid_payload: return drop_reason::invalid_payload;
    default: return drop_reason::protocol_error;
  }
}
}  // namespace

std::unique_ptr<session_protocol> make_session_protocol(ws_connection& c, session_wire w) {
  switch (w.kind) {
    case client_protocol::centrifugo: return make_centrifugo_protocol(c);
    case client_protocol::dialect: {
      // Each dialect channel rule has its own slot for shared frames, numbered across dialects.
      const auto& all = c.settings().opts.dialects;
      size_t first_slot = 0;
      for (size_t i = 0; i < w.dialect; ++i) first_slot += all[i]->channels.size();
      return make_dialect_protocol(c, *all.at(w.dialect), first_slot);
    }
    case client_protocol::websocket:
    case client_protocol::sse: break;  // SSE is no WebSocket session
  }
  return make_tributary_protocol(c);
}

ws_connection::ws_connection(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, session_wire protocol)
    : shard_(shard),
      cfg_(shard.st.settings()),
      queue_(cfg_->opts.queue_limit_bytes, cfg_->opts.slow_consumer),
      socket_(std::move(socket)),
      slot_(std::move(slot)),
      id_(std::to_string(shard.st.next_session++)),
      reader_(cfg_->opts.max_message_bytes),
      messages_(cfg_->opts.messages_per_second, cfg_->opts.messages_burst, shard.now_ms()),
      flood_(10 * cfg_->opts.messages_per_second, 10 * cfg_->opts.messages_burst, shard.now_ms()),
      subs_(protocol.kind),
      grant_{&cfg_->policy, {}, {}},
      opened_ms_(shard.now_ms()),
      dialect_(static_cast<uint32_t>(protocol.dialect)) {
  protocol_ = make_session_protocol(*this, protocol);
}

ws_connection::~ws_connection() = default;

void ws_connection::start(std::string early, std::string_view token) {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  shard_.counters().opened(subs_.protocol());
  // Sessions that open together (a deploy, a reconnect wave) would have their heartbeats fall
  // due in the same sweep, thousands of pings and pongs at once, every period: each session's
  // first comes a random part of half a period early, and its phase stays.
  auto half = static_cast<uint64_t>(cfg_->opts.heartbeat.count() / 2);
  last_pong_ = app_ping_ = shard_.now_ms() - static_cast<int64_t>(shard_.random64() % (half + 1));
  protocol_->opened(token);
  if (!early.empty() && !closing_) reader_.feed(early.data(), early.size(), *this);
  flush();
  arm_read();
}

// ---- the hot path

void ws_connection::offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) {
  if (stamp == last_stamp_) return;
  last_stamp_ = stamp;
  uint64_t& last = seqs_.at(r->topic_id);
  if (r->rec.seq <= last) return;  // a snapshot or recovery already carried it
  last = r->rec.seq;
  auto f = protocol_->live_frame(r);
  if (!f.sent) return;
  out_frame out{std::move(f.sent), r->topic_id, frame_type::update};
  if (chain_ && f.plain && ws::frame_payload(*f.plain).size() >= cfg_->opts.compression_min_bytes)
    out.chained = chain_->frame_for(r, f.plain);
  queue_update(std::move(out));
}

// ---- permessage-deflate: one compressed frame per record for every compressing session, and
// this session's own messages compressed on their own, each when at least compression_min_bytes.

record_frames ws_connection::shared_frame(const std::shared_ptr<const published_record>& r, const std::string* plain,
                                          frame_variant deflated) {
  const std::string* compressed = nullptr;
  if (deflate_ && plain) compressed = published_record::variant(*r, deflated, [&](const published_record&) { return this->deflated(*plain); });
  return frames_of(r, plain, compressed);
}

// References counted by the I/O thread (server/frame_ref.hpp): no atomic operation per session.
record_frames ws_connection::frames_of(const std::shared_ptr<const published_record>& r, const std::string* plain,
                                       const std::string* compressed) {
  if (!plain) return {};
  const auto& held = shard_.record_ref(r);
  return {held.with(compressed ? compressed : plain), chain_ ? held.with(plain) : frame_ref()};
}

// The chain of the sessions that would be sent the same records as this one: same protocol,
// user, token channels and patterns, in any order. None while the session subscribes to nothing.
void ws_connection::join_chain() {
  auto patterns = subs_.patterns();
  std::sort(patterns.begin(), patterns.end());
  std::string key = std::to_string(static_cast<int>(subs_.protocol())) + "/" + std::to_string(dialect_) + "\n" + grant_.user;
  for (const auto& c : grant_.channels) key.append("\t").append(c);
  for (const auto& p : patterns) key.append("\n").append(p);
  if (chain_ && chain_->key() == key) return;  // the key itself: sessions of two users never share
  chain_.reset();  // leaves the old chain before the count of the new one is read
  if (!patterns.empty()) chain_ = shard_.chains().join(key);
  if (chain_) chain_->want_reset();
}

void ws_connection::apply_subscriptions() {
  subs_.apply(shard_, this, grant_);
  if (context_) join_chain();
}

std::string ws_connection::deflated(const std::string& plain) const {
  auto payload = ws::frame_payload(plain);
  if (payload.size() < cfg_->opts.compression_min_bytes) return {};
  auto d = ws::make_deflated_frame(payload);
  return d && d->size() < plain.size() ? std::move(*d) : std::string();
}

void ws_connection::send_text(frame_type t, std::string_view payload) {
  if (closing_) return;  // nothing may follow the close frame
  queue_.push_reply({own_frame(ws::make_frame(ws::opcode::text, payload)), no_topic, t});
}

frame_ref ws_connection::own_frame(std::string plain) {
  if (deflate_)
    if (auto d = deflated(plain); !d.empty()) return frame_ref::own(std::move(d));
  return frame_ref::own(std::move(plain));
}

void ws_connection::queue_update(out_frame&& f) {
  updated_since_sweep_ = true;
  switch (queue_.push_update(std::move(f))) {
    case send_queue::result::refused:
      // Closing unregisters from the index the caller is iterating: leave it to flush().
      too_slow_ = true;
      break;
    case send_queue::result::conflated:
      shard_.counters().bump(shard_.counters().conflated);
      break;
    case send_queue::result::queued:
      break;
  }
  shard_.counters().depth(queue_.depth());
  write_hint_ = queue_.next_slot();
  shard_.mark_dirty(this);
}

bool ws_connection::ready_to_write() {
  if (too_slow_ && !closing_) {
    too_slow_ = false;
    shard_.counters().dropped(drop_reason::slow_consumer);
    shard_.st.log->warn("session {}: send queue over {} bytes; closing a slow client", id_, queue_.bytes());
    close_with(ws::close_code::policy_violation, "slow consumer: send queue full");
    return false;
  }
  return !(write_waiting_ || finished_ || write_shut_ || staged_);
}

void ws_connection::settle_frame(out_frame& f) {
  if (sync_.settle(f, chain_.get())) shard_.counters().bump(shard_.counters().chained);
}

void ws_connection::sent_frame(frame_type t) {
  shard_.counters().sent_one(t);
  if (t == frame_type::close) close_sent_ = true;
}

void ws_connection::flush() {
  if (!ready_to_write()) return;
  auto on_sent = [this](frame_type t) { sent_frame(t); };
  // Only a session that may share a compression context has frames to settle.
  auto sent = context_ ? send_queued(socket_.native_handle(), queue_, [this](out_frame& f) { settle_frame(f); }, on_sent)
                       : send_queued(socket_.native_handle(), queue_, settle_nothing, on_sent);
  write_hint_ = queue_.next_slot();
  if (sent == send_status::would_block) return wait_writable();
  if (sent == send_status::failed) return abort();  // the peer is gone
  after_flush();
}

// The batched form of flush(): the whole queue as one write of the thread's batch (as much of it
// as the batch has room for); written() takes the result and writes any rest at once.
void ws_connection::stage(write_batch& b) {
  if (!ready_to_write()) return;
  if (context_) queue_.settle([this](out_frame& f) { settle_frame(f); });
  if (!stage_queued(socket_.native_handle(), queue_, b, this)) return after_flush();
  staged_ = true;
}

void ws_connection::written(ssize_t result) {
  staged_ = false;
  if (result == -EAGAIN || result == -EWOULDBLOCK) return wait_writable();
  if (result < 0) return abort();  // the peer is gone
  queue_.consume(static_cast<size_t>(result), [this](frame_type t) { sent_frame(t); });
  flush();  // what did not fit in the batch; mostly nothing, and no system call
}

void ws_connection::after_flush() {
  if (close_sent_ && !write_shut_) {
    write_shut_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);  // the client answers with its close, then EOF
  }
  if (read_paused_ && queue_.bytes() <= cfg_->opts.queue_limit_bytes / 2) {
    read_paused_ = false;
    arm_read();
  }
}

void ws_connection::wait_writable() {
  write_waiting_ = true;
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->write_waiting_ = false;
    if (ec) return self->abort();
    self->flush();
  });
}

// ---- reading

void ws_connection::arm_read() {
  if (reading_ || finished_) return;
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->reading_ = false;
    if (ec) return self->abort();
    self->on_readable();
  });
}

void ws_connection::on_readable() {
  auto buf = shard_.read_buffer();
  for (int i = 0; i < kReadsPerWakeup && !finished_; ++i) {
    ssize_t n = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) return abort();  // EOF: after our close, the normal end; else the client left
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return abort();
    }
    if (!closing_) reader_.feed(buf.data(), static_cast<size_t>(n), *this);  // closing: discard
    if (static_cast<size_t>(n) < buf.size()) break;
  }
  if (finished_) return;
  flush();  // replies to what was just read
  // A client that sends faster than it reads its replies is not read until it catches up.
  if (!closing_ && queue_.bytes() > cfg_->opts.queue_limit_bytes) {
    read_paused_ = true;
    return;
  }
  arm_read();
}

// ---- frames from the client

void ws_connection::on_text(std::string_view message) {
  if (closing_) return;
  if (auto why = over_rate(); !why.empty()) return protocol_->rate_limited(message, why);
  if (!closing_) protocol_->on_text(message);
}

// messages_per_second (ten times over it closes the session) and messages_per_minute_per_user:
// empty when the message is within them, else why it is dropped.
std::string_view ws_connection::over_rate() {
  if (!messages_.unlimited()) {
    int64_t now = shard_.now_ms();
    if (!flood_.take(now)) {
      shard_.counters().dropped(drop_reason::message_flood);
      close_with(ws::close_code::policy_violation, "message rate far over messages_per_second");
      return {};  // closing: on_text reads nothing more
    }
    if (!messages_.take(now)) {
      shard_.counters().bump(shard_.counters().rate_limited);
      return "over messages_per_second; message dropped";
    }
  }
  if (!grant_.user.empty() && cfg_->opts.messages_per_minute_per_user && !shard_.limits().message(grant_.user)) {
    shard_.counters().bump(shard_.counters().rate_limited);
    return "over messages_per_minute_per_user; message dropped";
  }
  return {};
}

void ws_connection::on_ping(std::string_view payload) {
  if (closing_) return;
  queue_.push_reply({frame_ref::own(ws::make_frame(ws::opcode::pong, payload)), no_topic,
                     frame_type::pong});
}

void ws_connection::on_pong(std::string_view payload) {
  uint64_t got = 0;
  if (!ping_outstanding_ || payload.size() != sizeof got) return;
  std::memcpy(&got, payload.data(), sizeof got);
  if (got != ping_payload_) return;  // only an answer to our ping proves the client reads
  ping_outstanding_ = false;
  last_pong_ = shard_.now_ms();
}

void ws_connection::on_peer_close(ws::close_code code) {
  if (closing_) return;
  // Echo the client's code, as RFC 6455 asks.
  close_with(code == ws::close_code::going_away ? code : ws::close_code::normal, "");
}

void ws_connection::on_violation(ws::close_code code, std::string_view why) {
  shard_.counters().dropped(reason_for(code));
  shard_.st.log->debug("session {}: {}", id_, why);
  close_with(code, why);
}

// ---- heartbeat and closing

void ws_connection::heartbeat(int64_t now) {
  if (finished_) return;
  if (closing_) {
    if (now - closing_since_ > kCloseLingerMs) abort();
    return;
  }
  if (expires_ms_ && wall_ms() >= expires_ms_) return protocol_->token_expired();
  if (!limited_user_.empty() && now - limit_refreshed_ > user_limits::refresh_every_ms) {
    limit_refreshed_ = now;
    shard_.limits().refresh(limited_user_, limit_key_);
  }
  int64_t period = cfg_->opts.heartbeat.count();
  if (now - app_ping_ >= period) {
    app_ping_ = now;
    protocol_->heartbeat();
    shard_.mark_dirty(this);  // written with the sweep's batch
  }
  if (ping_outstanding_) {
    // Three quarters of a period to answer: with the sweep's granularity, a client that stops
    // reading is closed within two heartbeats whatever else it sends.
    if (now - ping_sent_ > period * 3 / 4) {
      shard_.counters().dropped(drop_reason::heartbeat);
      abort();
    }
    return;
  }
  if (now - last_pong_ < period) {
    // Give back what a burst grew once the session is quiet; a busy one keeps its ring, so a
    // steady session does not allocate.
    if (!std::exchange(updated_since_sweep_, false) && queue_.empty() && queue_.capacity() > 64) queue_.release_memory();
    return;
  }
  ping_payload_ = shard_.random64();
  ping_outstanding_ = true;
  ping_sent_ = now;
  std::string payload(sizeof ping_payload_, '\0');
  std::memcpy(payload.data(), &ping_payload_, sizeof ping_payload_);
  queue_.push_reply({frame_ref::own(ws::make_frame(ws::opcode::ping, payload)), no_topic,
                     frame_type::ping});
  shard_.mark_dirty(this);
}

void ws_connection::close_with(ws::close_code code, std::string_view reason, bool after_replies) {
  if (closing_ || finished_) return;
  closing_ = true;
  closing_since_ = shard_.now_ms();
  unregister();
  reader_.stop();
  queue_.drop_unstarted(after_replies);
  queue_.push_reply({frame_ref::own(ws::make_close_frame(code, reason)), no_topic,
                     frame_type::close});
  flush();
  if (read_paused_ && !finished_) {
    read_paused_ = false;
    arm_read();  // to see the client's close answer and EOF
  }
}

void ws_connection::unregister() { subs_.clear(shard_, this); }

void ws_connection::abort() {
  if (finished_) return;
  unregister();
  boost::system::error_code ec;
  socket_.close(ec);
  finish();
}

void ws_connection::finish() {
  finished_ = true;
  chain_.reset();
  if (!limited_user_.empty()) shard_.limits().close(limited_user_, limit_key_);
  closing_ = true;
  shard_.counters().closed(subs_.protocol());
  shard_.st.ws_sessions--;
  shard_.session_finished();
  slot_.reset();
}

}  // namespace tributary

namespace tributary {

void start_ws_connection(io_shard& shard, tcp::socket socket, std::string early, std::string token, std::unique_ptr<connection_slot> slot,
                         const std::optional<ws::deflate_agreement>& deflate, counted_session counted, session_wire protocol) {
  auto c = std::make_shared<ws_connection>(shard, std::move(socket), std::move(slot), protocol);
  if (deflate) c->compress(deflate->context_takeover);
  c->counted_as(std::move(counted));
  shard.add(c);
  c->start(std::move(early), token);
}

}  // namespace tributary
