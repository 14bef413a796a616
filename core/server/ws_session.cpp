// The WebSocket endpoint (PROTOCOL.md). Everything a session owns is touched only on its
// strand; the hub's deliver() posts onto it. The send queue is bounded: a client that reads
// too slowly is closed (1008) rather than allowed to grow memory or slow anyone else.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <unordered_map>

#include "server/server_state.hpp"
#include "sink/cache.hpp"
#include "sink/fanout_hub.hpp"
#include "sink/metrics.hpp"

namespace tributary {
namespace {

namespace websocket = beast::websocket;
using json = nlohmann::json;

constexpr size_t kMaxPatterns = 256;

class ws_session final : public subscriber, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(std::shared_ptr<server::state> st, beast::tcp_stream&& stream, std::unique_ptr<connection_slot> slot)
      : st_(std::move(st)), ws_(std::move(stream)), slot_(std::move(slot)),
        id_(std::to_string(st_->next_session++)) {}

  ~ws_session() override {
    st_->m.add("tributary_ws_sessions", {}, -1);
  }

  void run(http::request<http::string_body> req) {
    st_->m.add("tributary_ws_sessions", {}, 1);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = std::chrono::milliseconds(st_->opts.heartbeat.count() * 2);
    t.keep_alive_pings = true;  // a ping after `heartbeat` of silence; closed after two
    ws_.set_option(t);
    ws_.read_message_max(st_->opts.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator([v = st_->opts.version](websocket::response_type& res) {
      res.set(http::field::server, "tributary/" + v);
    }));
    auto req_ptr = std::make_shared<http::request<http::string_body>>(std::move(req));
    ws_.async_accept(*req_ptr, [self = shared_from_this(), req_ptr](beast::error_code ec) { self->on_accept(ec); });
  }

  // From any thread: hop onto the strand.
  void deliver(const std::shared_ptr<const published_record>& r) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), r] { self->on_deliver(r); });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "accept");
    st_->hub.join(weak_from_this());
    send(std::make_shared<const std::string>(json{{"type", "hello"},
                                                  {"server", "tributary/" + st_->opts.version},
                                                  {"session", id_},
                                                  {"heartbeat_ms", st_->opts.heartbeat.count()}}
                                                 .dump()),
         "hello");
    do_read();
  }

  void do_read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == websocket::error::message_too_big) {
      return close_with(websocket::close_code::too_big,
                        "frame over max_message_bytes (" + std::to_string(st_->opts.max_message_bytes) + ")", "too_big");
    }
    if (ec) return fail(ec, "read");
    if (!ws_.got_text()) return close_with(websocket::close_code::unknown_data, "binary frames are not accepted", "binary");
    std::string text = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    handle(text);
    if (!closing_) do_read();
  }

  void reply_error(const json& id, const std::string& code, const std::string& message) {
    json e{{"type", "error"}, {"code", code}, {"message", message}};
    if (!id.is_null()) e["id"] = id;
    send(std::make_shared<const std::string>(e.dump()), "error");
  }

  void handle(const std::string& text) {
    json msg = json::parse(text, nullptr, false);
    if (msg.is_discarded()) return reply_error(nullptr, "bad_request", "frame is not valid JSON");
    if (!msg.is_object()) return reply_error(nullptr, "bad_request", "expected a JSON object");
    json id = msg.contains("id") ? msg["id"] : json(nullptr);
    if (!msg.contains("type") || !msg["type"].is_string())
      return reply_error(id, "bad_request", "missing string field 'type'");
    const std::string type = msg["type"];
    if (type == "ping") {
      json p{{"type", "pong"}};
      if (!id.is_null()) p["id"] = id;
      return send(std::make_shared<const std::string>(p.dump()), "pong");
    }
    if (type != "subscribe" && type != "unsubscribe")
      return reply_error(id, "unknown_type", "unknown message type '" + type + "' (subscribe, unsubscribe, ping)");
    if (!msg.contains("topics") || !msg["topics"].is_array() || msg["topics"].empty())
      return reply_error(id, "bad_request", "'topics' must be a non-empty array of topic patterns");
    std::vector<std::string> topics;
    for (const auto& t : msg["topics"]) {
      if (!t.is_string()) return reply_error(id, "bad_request", "every topic pattern must be a string");
      if (auto why = check_pattern(t.get<std::string>()); !why.empty())
        return reply_error(id, "bad_request", why + ": '" + t.get<std::string>() + "'");
      topics.push_back(t.get<std::string>());
    }
    json ack{{"type", type == "subscribe" ? "subscribed" : "unsubscribed"}, {"topics", topics}};
    if (!id.is_null()) ack["id"] = id;
    if (type == "unsubscribe") {
      for (auto& t : topics) std::erase(patterns_, t);
      std::erase_if(sent_seq_, [&](auto& kv) { return !wants(kv.first); });
      return send(std::make_shared<const std::string>(ack.dump()), "unsubscribed");
    }
    size_t added = 0;
    for (auto& t : topics)
      if (std::find(patterns_.begin(), patterns_.end(), t) == patterns_.end()) ++added;
    if (patterns_.size() + added > kMaxPatterns)
      return reply_error(id, "too_many_subscriptions", "at most " + std::to_string(kMaxPatterns) + " patterns per session");
    for (auto& t : topics)
      if (std::find(patterns_.begin(), patterns_.end(), t) == patterns_.end()) patterns_.push_back(t);
    send(std::make_shared<const std::string>(ack.dump()), "subscribed");
    // Snapshots of what is known, each before any update of its topic.
    for (auto& t : topics)
      for (auto& r : st_->cache.matching(t)) {
        auto& last = sent_seq_[r->topic];
        if (r->rec.seq <= last) continue;
        last = r->rec.seq;
        send(std::make_shared<const std::string>(r->snapshot_frame()), "snapshot");
      }
  }

  bool wants(const std::string& topic) const {
    return std::any_of(patterns_.begin(), patterns_.end(), [&](auto& p) { return topic_matches(p, topic); });
  }

  void on_deliver(const std::shared_ptr<const published_record>& r) {
    if (closing_ || !wants(r->topic)) return;
    auto& last = sent_seq_[r->topic];
    if (r->rec.seq <= last) return;  // its snapshot already carried it
    last = r->rec.seq;
    send(r->update_frame, "update");
  }

  void send(std::shared_ptr<const std::string> frame, const char* type) {
    if (closing_) return;
    if (queue_.size() >= st_->opts.queue_limit) {
      st_->log->warn("session {}: send queue full ({} messages); closing a slow client", id_, queue_.size());
      return close_with(websocket::close_code::policy_error, "slow consumer: send queue full", "slow_consumer");
    }
    queue_.push_back({std::move(frame), type});
    if (queue_.size() > max_depth_) {
      max_depth_ = queue_.size();
      if (max_depth_ > 1) st_->m.set("tributary_ws_queue_depth_max", {}, static_cast<double>(max_depth_));
    }
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front().first), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) return fail(ec, "write");
    st_->m.add("tributary_ws_messages_sent_total", {{"type", queue_.front().second}});
    queue_.pop_front();
    if (pending_close_) return do_close();
    if (!queue_.empty()) do_write();
  }

  // Closes with a code once any write in flight is done; nothing else is sent.
  void close_with(websocket::close_code code, std::string reason, const char* metric) {
    if (closing_) return;
    closing_ = true;
    st_->m.add("tributary_ws_drops_total", {{"reason", metric}});
    close_reason_ = websocket::close_reason(code, reason);
    if (writing_) {
      while (queue_.size() > 1) queue_.pop_back();
      pending_close_ = true;
    } else {
      queue_.clear();
      do_close();
    }
  }

  void do_close() {
    pending_close_ = false;
    queue_.clear();
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {});
  }

  void fail(beast::error_code ec, const char* what) {
    closing_ = true;
    queue_.clear();
    if (ec == net::error::operation_aborted || ec == websocket::error::closed || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::connection_reset)
      return;
    st_->log->debug("session {}: {}: {}", id_, what, ec.message());
  }

  std::shared_ptr<server::state> st_;
  websocket::stream<beast::tcp_stream> ws_;
  std::unique_ptr<connection_slot> slot_;
  std::string id_;
  beast::flat_buffer buf_;
  std::vector<std::string> patterns_;
  std::unordered_map<std::string, uint64_t> sent_seq_;
  std::deque<std::pair<std::shared_ptr<const std::string>, const char*>> queue_;
  size_t max_depth_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool pending_close_ = false;
  websocket::close_reason close_reason_;
};

}  // namespace

void start_ws_session(std::shared_ptr<server::state> st, beast::tcp_stream stream, http::request<http::string_body> req,
                      std::unique_ptr<connection_slot> slot) {
  std::make_shared<ws_session>(std::move(st), std::move(stream), std::move(slot))->run(std::move(req));
}

}  // namespace tributary
