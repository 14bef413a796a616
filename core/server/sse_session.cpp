#include "server/sse_session.hpp"

#include <spdlog/spdlog.h>

#include "publish/cache.hpp"
#include "server/catch_up.hpp"
#include "server/frames.hpp"
#include "util/clock.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {

sse_session::sse_session(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, sse_start start)
    : shard_(shard), socket_(std::move(socket)), slot_(std::move(slot)), cfg_(shard.st.settings()),
      grant_(std::move(start.who)), cursor_(shard.st.hub.epoch()), resume_(std::move(start.resume)),
      queue_(cfg_->opts.queue_limit_bytes, cfg_->opts.slow_consumer), expires_ms_(start.expires_ms) {
  grant_.policy = &cfg_->policy;
  for (auto& p : start.patterns) subs_.add(p);
}

sse_session::~sse_session() = default;

void sse_session::start(std::string head) {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  shard_.counters().opened(client_protocol::sse);
  last_write_ = shard_.now_ms();
  queue_.push_reply({frame_ref::own(std::move(head)), no_topic, frame_type::hello});
  // A cursor of this history: everything it names the client has, and keeps naming.
  bool same_history = resume_.epoch() == shard_.st.hub.epoch();
  if (same_history) cursor_ = resume_;
  subs_.apply(shard_, this, grant_);
  for (const auto& p : subs_.patterns()) send_catch_up(p);
  flush();
  arm_read();
}

void sse_session::send_catch_up(const std::string& pattern) {
  bool same_history = resume_.epoch() == shard_.st.hub.epoch();
  for (auto& r : shard_.st.cache.matching(pattern)) {
    if (!may_see(grant_, r->topic)) continue;
    uint64_t& last = seqs_.at(r->topic_id);
    auto since = same_history ? resume_.seq_of(r->topic) : std::nullopt;
    auto plan = plan_catch_up(shard_.st.hub.history(), *r, since);
    if (!plan.recovered) {
      if (r->rec.seq <= last) continue;  // another pattern sent it already
      last = r->rec.seq;
      auto frame = snapshot_frame(*r);
      queue_.push_reply(event(*r, frame_type::snapshot, ws::frame_payload(frame)));
      continue;
    }
    last = std::max(last, *since);
    for (auto& u : plan.updates) {
      if (u->rec.seq <= last) continue;
      last = u->rec.seq;
      queue_.push_reply(event(*u, frame_type::update, ws::frame_payload(u->frame)));
    }
  }
}

out_frame sse_session::event(const published_record& r, frame_type type, std::string_view payload) {
  cursor_.set(r.topic, r.rec.seq);
  std::string bytes;
  bytes.reserve(payload.size() + 32 + 24 * cursor_.topics());
  bytes += type == frame_type::snapshot ? "event: snapshot\nid: " : "event: update\nid: ";
  cursor_.write(bytes);
  bytes += "\ndata: ";
  bytes += payload;  // one line: JSON text escapes its newlines
  bytes += "\n\n";
  return {frame_ref::own(std::move(bytes)), r.topic_id, type};
}

void sse_session::offer(const std::shared_ptr<const published_record>& r, uint64_t stamp) {
  if (stamp == last_stamp_ || finished_) return;
  last_stamp_ = stamp;
  uint64_t& last = seqs_.at(r->topic_id);
  if (r->rec.seq <= last) return;
  last = r->rec.seq;
  queue_update(event(*r, frame_type::update, ws::frame_payload(r->frame)));
}

void sse_session::queue_update(out_frame&& f) {
  auto got = queue_.push_update(std::move(f));
  if (got == send_queue::result::refused) too_slow_ = true;
  if (got == send_queue::result::conflated) shard_.counters().bump(shard_.counters().conflated);
  shard_.counters().depth(queue_.depth());
  shard_.mark_dirty(this);
}

bool sse_session::ready_to_write() {
  if (finished_) return false;
  if (too_slow_) {
    shard_.counters().dropped(drop_reason::slow_consumer);
    shard_.st.log->warn("sse stream: send queue over {} bytes; closing a slow client", queue_.bytes());
    end();
    return false;
  }
  return !(write_waiting_ || staged_);
}

void sse_session::flush() {
  if (!ready_to_write()) return;
  auto sent = send_queued(socket_.native_handle(), queue_, settle_nothing, [this](frame_type t) { shard_.counters().sent_one(t); });
  last_write_ = shard_.now_ms();
  if (sent == send_status::would_block) return wait_writable();
  if (sent == send_status::failed) return end();
}

// The batched form of flush(), as a WebSocket session's (ws_connection::stage).
void sse_session::stage(write_batch& b) {
  if (!ready_to_write()) return;
  staged_ = stage_queued(socket_.native_handle(), queue_, b, this);
}

void sse_session::written(ssize_t result) {
  staged_ = false;
  last_write_ = shard_.now_ms();
  if (result == -EAGAIN || result == -EWOULDBLOCK) return wait_writable();
  if (result < 0) return end();  // the client is gone
  queue_.consume(static_cast<size_t>(result), [this](frame_type t) { shard_.counters().sent_one(t); });
  flush();  // what did not fit in the batch; mostly nothing, and no system call
}

void sse_session::wait_writable() {
  write_waiting_ = true;
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->write_waiting_ = false;
    if (ec) return self->end();
    self->flush();
  });
}

// The client sends nothing after its request: reading only notices that it left.
void sse_session::arm_read() {
  if (reading_ || finished_) return;
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->reading_ = false;
    if (ec) return self->end();
    auto buf = self->shard_.read_buffer();
    ssize_t n = ::recv(self->socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return self->end();
    self->arm_read();
  });
}

void sse_session::heartbeat(int64_t now) {
  if (finished_) return;
  if (expires_ms_ && system_clock_source{}.now_ms() >= expires_ms_) {
    queue_.push_reply({frame_ref::own("event: error\ndata: {\"type\":\"error\",\"code\":\"token_expired\","
                                                           "\"message\":\"the token expired; reconnect with a fresh one\"}\n\n"),
                       no_topic, frame_type::error});
    flush();
    return end();
  }
  if (now - last_write_ < cfg_->opts.heartbeat.count() || !queue_.empty()) return;
  queue_.push_reply({frame_ref::own(":\n\n"), no_topic, frame_type::ping});  // a comment: keeps proxies open
  shard_.mark_dirty(this);  // written with the sweep's batch
}

void sse_session::end() {
  if (finished_) return;
  finished_ = true;
  subs_.clear(shard_, this);
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  shard_.counters().closed(client_protocol::sse);
  shard_.st.ws_sessions--;
  shard_.session_finished();
  slot_.reset();
}

void start_sse_session(io_shard& shard, tcp::socket socket, std::unique_ptr<connection_slot> slot, sse_start start, std::string head) {
  auto s = std::make_shared<sse_session>(shard, std::move(socket), std::move(slot), std::move(start));
  shard.add(s);
  s->start(std::move(head));
}

}  // namespace tributary
