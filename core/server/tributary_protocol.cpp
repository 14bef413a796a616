// Our client protocol over WebSocket (docs/protocol.md): hello, auth, subscribe with snapshots
// or recovery, unsubscribe, ping. Bad messages get an `error` and the connection stays open.
#include <nlohmann/json.hpp>

#include "server/catch_up.hpp"
#include "server/client_json.hpp"
#include "server/session_protocol.hpp"
#include "server/ws_connection.hpp"
#include "record/topic.hpp"
#include "publish/cache.hpp"
#include "server/frames.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxIdBytes = 128;

// `since`: an object of topic -> last seq seen. Empty string when fine, else why not.
std::string check_since(const json& since) {
  if (!since.is_object()) return "'since' must be an object of topic -> seq";
  for (auto& [topic, seq] : since.items())
    if (!seq.is_number_unsigned()) return "'since' seq of '" + clip(topic) + "' must be a non-negative integer";
  return {};
}

class tributary_protocol final : public session_protocol {
 public:
  explicit tributary_protocol(ws_connection& c) : c_(c), shard_(c.shard()) {}
  void opened(std::string_view token) override;
  void on_text(std::string_view message) override;
  record_frames live_frame(const std::shared_ptr<const published_record>& r) override {
    return c_.shared_frame(r, &r->frame, frame_variant::deflated);
  }
  void rate_limited(std::string_view, std::string_view why) override { reply_error(nullptr, "rate_limited", why); }
  void token_expired() override {
    reply_error(nullptr, "token_expired", "the token expired; send a fresh auth message before exp");
    c_.close_with(ws::close_code::policy_violation, "token expired", true);
  }

 private:
  void handle(const json& msg, const json& id);
  void subscribe(const json& msg, const json& id);
  void unsubscribe(const json& msg, const json& id);
  void authenticate(std::string_view token, const json& id);
  void recover(const published_record& latest, uint64_t since, json& recovery, std::vector<out_frame>& frames);
  void snapshot(const published_record& r, std::vector<out_frame>& frames);
  void reply(frame_type t, const json& msg) { c_.send_text(t, dump(msg)); }
  void reply_error(const json& id, std::string_view code, std::string_view message);
  void reply_forbidden(const json& id, const std::string& pattern);

  ws_connection& c_;
  io_shard& shard_;
};

}  // namespace

std::unique_ptr<session_protocol> make_tributary_protocol(ws_connection& c) { return std::make_unique<tributary_protocol>(c); }

void tributary_protocol::opened(std::string_view token) {
  auto& o = c_.settings().opts;
  reply(frame_type::hello, {{"type", "hello"},
                            {"server", "tributary/" + o.version},
                            {"session", c_.id()},
                            {"heartbeat_ms", o.heartbeat.count()},
                            {"epoch", shard_.st.hub.epoch()}});
  if (!token.empty()) authenticate(token, nullptr);
}

void tributary_protocol::authenticate(std::string_view token, const json& id) {
  auto r = c_.login(token);
  switch (r.outcome) {
    case login_outcome::auth_off: return reply_error(id, "bad_request", r.error);
    case login_outcome::too_late: return reply_error(id, "auth_timeout", r.error);
    case login_outcome::invalid:
    case login_outcome::expired:
      reply_error(id, "unauthorized", r.error);
      return c_.close_with(ws::close_code::policy_violation, "unauthorized", true);
    case login_outcome::too_many:
      reply_error(id, "too_many_connections", r.error);
      return c_.close_with(ws::close_code::policy_violation, "too many connections", true);
    case login_outcome::ok: break;
  }
  int64_t exp = c_.expires_ms();
  json ok{{"type", "authenticated"}, {"user", r.user}, {"user_segment", c_.access().user}, {"expires_ms", exp ? json(exp) : json()}};
  if (!id.is_null()) ok["id"] = id;
  reply(frame_type::authenticated, ok);
}

void tributary_protocol::reply_error(const json& id, std::string_view code, std::string_view message) {
  json e{{"type", "error"}, {"code", code}, {"message", message}};
  if (!id.is_null()) e["id"] = id;
  reply(frame_type::error, e);
}

void tributary_protocol::on_text(std::string_view message) {
  if (too_deep(message)) return reply_error(nullptr, "bad_request", "JSON nested deeper than 32 levels");
  auto msg = json::parse(message, nullptr, false);
  if (msg.is_discarded()) return reply_error(nullptr, "bad_request", "frame is not valid JSON");
  if (!msg.is_object()) return reply_error(nullptr, "bad_request", "expected a JSON object");
  json id = msg.contains("id") ? msg["id"] : json(nullptr);
  if (!(id.is_null() || id.is_number() || (id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdBytes)))
    return reply_error(nullptr, "bad_request", "'id' must be a number or a string of at most 128 bytes");
  handle(msg, id);
}

void tributary_protocol::handle(const json& msg, const json& id) {
  auto t = msg.find("type");
  if (t == msg.end() || !t->is_string()) return reply_error(id, "bad_request", "missing string field 'type'");
  const auto& type = t->get_ref<const std::string&>();
  if (type == "ping") {
    json p{{"type", "pong"}};
    if (!id.is_null()) p["id"] = id;
    return reply(frame_type::pong, p);
  }
  if (type == "subscribe") return subscribe(msg, id);
  if (type == "unsubscribe") return unsubscribe(msg, id);
  if (type == "auth") {
    auto tok = msg.find("token");
    if (tok == msg.end() || !tok->is_string()) return reply_error(id, "bad_request", "'token' must be a string");
    return authenticate(tok->get_ref<const std::string&>(), id);
  }
  reply_error(id, "unknown_type", "unknown message type '" + clip(type) + "' (subscribe, unsubscribe, ping, auth)");
}

// The patterns of a subscribe or unsubscribe, or an error already sent (returns false).
static bool read_patterns(const json& msg, std::vector<std::string>& out, std::string& why) {
  auto t = msg.find("topics");
  if (t == msg.end() || !t->is_array() || t->empty()) {
    why = "'topics' must be a non-empty array of topic patterns";
    return false;
  }
  for (const auto& p : *t) {
    if (!p.is_string()) {
      why = "every topic pattern must be a string";
      return false;
    }
    const auto& s = p.get_ref<const std::string&>();
    if (auto w = check_pattern(s); !w.empty()) {
      why = w + ": '" + clip(s) + "'";
      return false;
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return true;
}

void tributary_protocol::subscribe(const json& msg, const json& id) {
  std::vector<std::string> topics;
  std::string why;
  if (!read_patterns(msg, topics, why)) return reply_error(id, "bad_request", why);
  const json* since = nullptr;
  if (auto s = msg.find("since"); s != msg.end()) {
    if (auto w = check_since(*s); !w.empty()) return reply_error(id, "bad_request", w);
    since = &*s;
  }
  // `since` from another epoch: the history it counted in is gone, so every topic starts over.
  bool epoch_changed = false;
  if (auto e = msg.find("epoch"); e != msg.end()) {
    if (!e->is_string()) return reply_error(id, "bad_request", "'epoch' must be the string hello or subscribed gave");
    epoch_changed = since && e->get_ref<const std::string&>() != shard_.st.hub.epoch();
  }
  // Patterns this session may not use get `forbidden` each; the others are subscribed.
  std::erase_if(topics, [&](const std::string& t) {
    if (may_subscribe(c_.access(), t)) return false;
    reply_forbidden(id, t);
    return true;
  });
  // `subscribed` follows even when every pattern was forbidden (with none): a client waiting
  // for the answer to its id gets one.
  size_t added = std::count_if(topics.begin(), topics.end(), [&](auto& t) { return !c_.subscriptions().has(t); });
  if (c_.subscriptions().patterns().size() + added > max_session_patterns)
    return reply_error(id, "too_many_subscriptions", "at most " + std::to_string(max_session_patterns) + " patterns per session");
  for (auto& t : topics)
    if (!c_.subscriptions().has(t)) c_.subscriptions().add(t);
  c_.apply_subscriptions();
  // Decide every topic before queuing anything: the reply, which says which topics were
  // recovered, comes before their frames.
  json recovery = json::object();
  std::vector<out_frame> frames;
  for (auto& t : topics)
    for (auto& r : shard_.st.cache.matching(t)) {
      if (!may_see(c_.access(), r->topic)) continue;
      auto s = since ? since->find(r->topic) : json::const_iterator{};
      if (since && s != since->end() && epoch_changed) recovery[r->topic] = "snapshot";
      if (since && s != since->end() && !epoch_changed) recover(*r, s->get<uint64_t>(), recovery, frames);
      else snapshot(*r, frames);
    }
  json ack{{"type", "subscribed"}, {"topics", topics}, {"epoch", shard_.st.hub.epoch()}};
  if (!id.is_null()) ack["id"] = id;
  if (since) ack["recovery"] = std::move(recovery);
  if (epoch_changed) ack["epoch_changed"] = true;
  reply(frame_type::subscribed, ack);
  for (auto& f : frames) c_.send_reply(std::move(f));
}

void tributary_protocol::reply_forbidden(const json& id, const std::string& pattern) {
  json e{{"type", "error"}, {"code", "forbidden"}, {"topic", pattern},
         {"message", "not allowed to subscribe to '" + clip(pattern) + "'" + (c_.access().user.empty() ? " without a token" : "")}};
  if (!id.is_null()) e["id"] = id;
  reply(frame_type::error, e);
}

void tributary_protocol::snapshot(const published_record& r, std::vector<out_frame>& frames) {
  uint64_t& last = c_.seqs().at(r.topic_id);
  if (r.rec.seq <= last) return;  // this client has it already
  last = r.rec.seq;
  frames.push_back({c_.own_frame(snapshot_frame(r)), r.topic_id, frame_type::snapshot});
}

void tributary_protocol::recover(const published_record& latest, uint64_t since, json& recovery, std::vector<out_frame>& frames) {
  auto plan = plan_catch_up(shard_.st.hub.history(), latest, since);
  recovery[latest.topic] = plan.recovered ? "recovered" : "snapshot";
  if (!plan.recovered) return snapshot(latest, frames);
  uint64_t& last = c_.seqs().at(latest.topic_id);
  last = std::max(last, since);  // the client has everything up to `since`
  for (auto& h : plan.updates) {
    uint64_t& l = c_.seqs().at(h->topic_id);
    if (h->rec.seq <= l) continue;
    l = h->rec.seq;
    frames.push_back({live_frame(h).sent, h->topic_id, frame_type::update});
  }
}

void tributary_protocol::unsubscribe(const json& msg, const json& id) {
  std::vector<std::string> topics;
  std::string why;
  if (!read_patterns(msg, topics, why)) return reply_error(id, "bad_request", why);
  for (auto& t : topics) c_.subscriptions().remove(t);
  c_.apply_subscriptions();
  // The per-topic seqs stay: a later resubscribe must not send a seq this client already saw.
  json ack{{"type", "unsubscribed"}, {"topics", topics}};
  if (!id.is_null()) ack["id"] = id;
  reply(frame_type::unsubscribed, ack);
}

}  // namespace tributary
