// What a WebSocket client's messages mean (docs/protocol.md): subscribe with snapshots or recovery,
// unsubscribe, ping. Bad messages get an `error` and the connection stays open.
#include <nlohmann/json.hpp>

#include "server/catch_up.hpp"
#include "server/ws_connection.hpp"
#include "record/topic.hpp"
#include "publish/cache.hpp"
#include "server/frames.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxPatterns = 256;
constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxIdBytes = 128;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// nlohmann parses iteratively but serializes recursively: refuse deep nesting before parsing,
// so nothing a client sends can exhaust the stack, whatever max_message_bytes is.
bool too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::string clip(std::string_view s) { return std::string(s.substr(0, 64)) + (s.size() > 64 ? "..." : ""); }

// `since`: an object of topic -> last seq seen. Empty string when fine, else why not.
std::string check_since(const json& since) {
  if (!since.is_object()) return "'since' must be an object of topic -> seq";
  for (auto& [topic, seq] : since.items())
    if (!seq.is_number_unsigned()) return "'since' seq of '" + clip(topic) + "' must be a non-negative integer";
  return {};
}

}  // namespace

void ws_connection::reply(frame_type t, const json& msg) {
  queue_.push_reply({own_frame(ws::make_frame(ws::opcode::text, dump(msg))), no_topic, t});
}

void ws_connection::reply_error(const json& id, std::string_view code, std::string_view message) {
  json e{{"type", "error"}, {"code", code}, {"message", message}};
  if (!id.is_null()) e["id"] = id;
  reply(frame_type::error, e);
}

void ws_connection::on_text(std::string_view message) {
  if (closing_) return;
  if (!messages_.unlimited()) {
    int64_t now = shard_.now_ms();
    if (!flood_.take(now)) {
      shard_.counters().dropped(drop_reason::message_flood);
      return close_with(ws::close_code::policy_violation, "message rate far over messages_per_second");
    }
    if (!messages_.take(now)) {
      shard_.counters().bump(shard_.counters().rate_limited);
      return reply_error(nullptr, "rate_limited", "over messages_per_second; message dropped");
    }
  }
  if (!grant_.user.empty() && cfg_->opts.messages_per_minute_per_user && !shard_.limits().message(grant_.user)) {
    shard_.counters().bump(shard_.counters().rate_limited);
    return reply_error(nullptr, "rate_limited", "over messages_per_minute_per_user; message dropped");
  }
  if (too_deep(message)) return reply_error(nullptr, "bad_request", "JSON nested deeper than 32 levels");
  auto msg = json::parse(message, nullptr, false);
  if (msg.is_discarded()) return reply_error(nullptr, "bad_request", "frame is not valid JSON");
  if (!msg.is_object()) return reply_error(nullptr, "bad_request", "expected a JSON object");
  json id = msg.contains("id") ? msg["id"] : json(nullptr);
  if (!(id.is_null() || id.is_number() || (id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdBytes)))
    return reply_error(nullptr, "bad_request", "'id' must be a number or a string of at most 128 bytes");
  handle(msg, id);
}

void ws_connection::handle(const json& msg, const json& id) {
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

void ws_connection::subscribe(const json& msg, const json& id) {
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
    if (may_subscribe(grant_, t)) return false;
    reply_forbidden(id, t);
    return true;
  });
  // `subscribed` follows even when every pattern was forbidden (with none): a client waiting
  // for the answer to its id gets one.
  size_t added = std::count_if(topics.begin(), topics.end(), [&](auto& t) { return !subs_.has(t); });
  if (subs_.patterns().size() + added > kMaxPatterns)
    return reply_error(id, "too_many_subscriptions", "at most " + std::to_string(kMaxPatterns) + " patterns per session");
  for (auto& t : topics)
    if (!subs_.has(t)) subs_.add(t);
  subs_.apply(shard_, this, grant_);
  // Decide every topic before queuing anything: the reply, which says which topics were
  // recovered, comes before their frames.
  json recovery = json::object();
  std::vector<out_frame> frames;
  for (auto& t : topics)
    for (auto& r : shard_.st.cache.matching(t)) {
      if (!may_see(grant_, r->topic)) continue;
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
  for (auto& f : frames) queue_.push_reply(std::move(f));
}

void ws_connection::reply_forbidden(const json& id, const std::string& pattern) {
  json e{{"type", "error"}, {"code", "forbidden"}, {"topic", pattern},
         {"message", "not allowed to subscribe to '" + clip(pattern) + "'" + (grant_.user.empty() ? " without a token" : "")}};
  if (!id.is_null()) e["id"] = id;
  reply(frame_type::error, e);
}

void ws_connection::snapshot(const published_record& r, std::vector<out_frame>& frames) {
  uint64_t& last = seqs_.at(r.topic_id);
  if (r.rec.seq <= last) return;  // this client has it already
  last = r.rec.seq;
  frames.push_back({own_frame(snapshot_frame(r)), r.topic_id, frame_type::snapshot});
}

void ws_connection::recover(const published_record& latest, uint64_t since, json& recovery, std::vector<out_frame>& frames) {
  auto plan = plan_catch_up(shard_.st.hub.history(), latest, since);
  recovery[latest.topic] = plan.recovered ? "recovered" : "snapshot";
  if (!plan.recovered) return snapshot(latest, frames);
  uint64_t& last = seqs_.at(latest.topic_id);
  last = std::max(last, since);  // the client has everything up to `since`
  for (auto& h : plan.updates) {
    uint64_t& l = seqs_.at(h->topic_id);
    if (h->rec.seq <= l) continue;
    l = h->rec.seq;
    frames.push_back({record_frame(h), h->topic_id, frame_type::update});
  }
}

void ws_connection::unsubscribe(const json& msg, const json& id) {
  std::vector<std::string> topics;
  std::string why;
  if (!read_patterns(msg, topics, why)) return reply_error(id, "bad_request", why);
  for (auto& t : topics) subs_.remove(t);
  subs_.apply(shard_, this, grant_);
  // The per-topic seqs stay: a later resubscribe must not send a seq this client already saw.
  json ack{{"type", "unsubscribed"}, {"topics", topics}};
  if (!id.is_null()) ack["id"] = id;
  reply(frame_type::unsubscribed, ack);
}

}  // namespace tributary
