// A declared dialect (docs/clients.md, Dialects): an old service's client protocol mapped onto
// ours by [dialects.NAME], at its own path. The declaration says what the server sends when a
// session opens, how each client message type is recognized and what it does (subscribe,
// unsubscribe, auth, reply), which topics a channel name stands for ({sub}: the user's own),
// and what each record is sent as. Nothing here knows any particular dialect.
#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>

#include "publish/cache.hpp"
#include "record/record_bytes.hpp"
#include "record/topic.hpp"
#include "server/client_json.hpp"
#include "server/frames.hpp"
#include "server/session_protocol.hpp"
#include "server/ws_connection.hpp"
#include "tributary/topic_segment.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

// The member at a dotted path ("data.channel"), or nullptr.
const json* at_path(const json& msg, std::string_view path) {
  const json* cur = &msg;
  while (!path.empty()) {
    auto dot = path.find('.');
    auto key = path.substr(0, dot);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

std::atomic<uint64_t> next_reply_id{1};

// What one message's placeholders are filled with.
struct message_values {
  const published_record* record = nullptr;
  std::string_view channel, error, user;
  const std::string* session = nullptr;
  int64_t auth_timeout_s = 0;
};

void fill(placeholder p, const std::string& field, const message_values& v, std::string& out) {
  const published_record* r = v.record;
  auto null_or = [&](bool has, auto&& put) { has ? put() : void(out += "null"); };
  switch (p) {
    case placeholder::id:
      if (r) out += json_string(r->topic + ":" + std::to_string(r->rec.seq));
      else out += json_string(*v.session + "-" + std::to_string(next_reply_id++));
      return;
    case placeholder::now: out += std::to_string(r ? r->rec.received : ws_connection::wall_ms()); return;
    case placeholder::channel: out += json_string(v.channel); return;
    case placeholder::user: return null_or(!v.user.empty(), [&] { out += json_string(v.user); });
    case placeholder::error: out += json_string(v.error); return;
    case placeholder::auth_timeout: out += std::to_string(v.auth_timeout_s); return;
    case placeholder::topic: return null_or(r, [&] { out += json_string(r->topic); });
    case placeholder::subject: return null_or(r, [&] { out += json_string(r->rec.subject); });
    case placeholder::seq: return null_or(r, [&] { out += std::to_string(r->rec.seq); });
    case placeholder::record: return null_or(r, [&] { out += r->json; });
    case placeholder::data:
    case placeholder::data_field: {
      auto text = r ? record_data_text(r->json, p == placeholder::data_field ? std::string_view(field) : std::string_view()) : std::string_view();
      out += text.empty() ? std::string_view("null") : text;
      return;
    }
  }
}

// The channel name a record of a "*" rule stands for: what {channel} took in its topic. Only
// for topics templates of the shape PREFIX{channel}SUFFIX with nothing else to fill.
std::optional<std::string> channel_of(const dialect_channel& rule, std::string_view topic) {
  std::string_view t = rule.topics;
  auto at = t.find("{channel}");
  if (at == std::string_view::npos) return std::nullopt;
  auto prefix = t.substr(0, at), suffix = t.substr(at + 9);
  if (topic.size() < prefix.size() + suffix.size() || topic.substr(0, prefix.size()) != prefix ||
      topic.substr(topic.size() - suffix.size()) != suffix)
    return std::nullopt;
  return decode_topic_segment(topic.substr(prefix.size(), topic.size() - prefix.size() - suffix.size()));
}

// Whether every session's frame of a record under `rule` is the same: true unless it names the
// session's user, or a "*" rule's channel cannot be read back from the topic.
bool shareable(const dialect_channel& rule) {
  if (rule.send.uses(placeholder::user)) return false;
  if (rule.name != "*") return true;
  std::string_view t = rule.topics;
  auto at = t.find("{channel}");
  auto rest = std::string(t.substr(0, at)) + std::string(t.substr(at + 9));
  return rest.find_first_of("{*") == std::string::npos;
}

class dialect_protocol final : public session_protocol {
 public:
  dialect_protocol(ws_connection& c, const dialect_spec& d, size_t first_slot)
      : c_(c), shard_(c.shard()), d_(d), first_slot_(first_slot) {}
  void opened(std::string_view token) override;
  void on_text(std::string_view message) override;
  record_frames live_frame(const std::shared_ptr<const published_record>& r) override;
  void rate_limited(std::string_view, std::string_view why) override { refuse(nullptr, why); }
  void token_expired() override {
    refuse(nullptr, "token expired");
    c_.close_with(ws::close_code::policy_violation, "token expired", true);
  }

 private:
  // A channel this session subscribed to, and the topic pattern it stands for.
  struct channel_sub {
    std::string name, pattern;
    const dialect_channel* rule;
    std::optional<size_t> slot;  // the record frame slot every session shares; none: rendered here
  };
  static constexpr size_t kHalf = published_record::dialect_slots / 2;  // plain slots, then compressed
  std::optional<size_t> slot_of(const dialect_channel& rule) const {
    size_t slot = first_slot_ + static_cast<size_t>(&rule - d_.channels.data());
    return slot < kHalf && shareable(rule) ? std::optional<size_t>(slot) : std::nullopt;
  }
  std::string record_frame(const published_record& r, const dialect_channel& rule, std::string_view channel) const;
  void handle(const dialect_receive& rule, const json& msg);
  void authenticate(const dialect_receive& rule, const json& msg);
  void subscribe(const dialect_receive& rule, const std::string& channel);
  void unsubscribe(const dialect_receive& rule, const std::string& channel);
  // The rule and topic pattern of a channel name; nullptr with `why` set when there is none.
  const dialect_channel* resolve(const std::string& channel, std::string& pattern, std::string& why) const;
  void send(const message_template& t, message_values v, frame_type type);
  void refuse(const dialect_receive* rule, std::string_view why, std::string_view channel = {});
  void refuse_login(const dialect_receive* rule, const login_result& r);
  message_values values() const {
    message_values v;
    v.user = user_;
    v.session = &c_.id();
    v.auth_timeout_s = c_.settings().opts.auth_timeout.count() / 1000;
    return v;
  }

  ws_connection& c_;
  io_shard& shard_;
  const dialect_spec& d_;  // kept alive by the session's settings
  std::vector<channel_sub> subs_;
  std::string user_;  // the token's user claim, once authenticated
  size_t first_slot_;
};

}  // namespace

std::unique_ptr<session_protocol> make_dialect_protocol(ws_connection& c, const dialect_spec& d, size_t first_slot) {
  return std::make_unique<dialect_protocol>(c, d, first_slot);
}

void dialect_protocol::opened(std::string_view token) {
  if (d_.on_open) send(*d_.on_open, values(), frame_type::hello);
  if (token.empty()) return;
  auto r = c_.login(token);
  if (r.outcome == login_outcome::ok) {
    user_ = std::move(r.user);
  } else if (r.outcome != login_outcome::auth_off) {  // a bad token on the upgrade ends the session, as on /ws
    refuse_login(nullptr, r);
  }
}

void dialect_protocol::on_text(std::string_view message) {
  if (too_deep(message)) return refuse(nullptr, "JSON nested deeper than 32 levels");
  auto msg = json::parse(message, nullptr, false);
  if (!msg.is_object()) return refuse(nullptr, "a message is a JSON object");
  const json* type = at_path(msg, d_.type);
  if (!type || !type->is_string()) return refuse(nullptr, "missing string field '" + d_.type + "'");
  auto rule = d_.receive.find(type->get<std::string>());
  if (rule == d_.receive.end()) return refuse(nullptr, "unknown message type '" + clip(type->get_ref<const std::string&>()) + "'");
  handle(rule->second, msg);
}

void dialect_protocol::handle(const dialect_receive& rule, const json& msg) {
  switch (rule.action) {
    case dialect_action::reply: return send(rule.reply, values(), frame_type::pong);
    case dialect_action::auth: return authenticate(rule, msg);
    case dialect_action::subscribe:
    case dialect_action::unsubscribe: {
      const json* ch = at_path(msg, rule.channel);
      if (!ch || !ch->is_string() || ch->get_ref<const std::string&>().empty())
        return refuse(&rule, "missing string field '" + rule.channel + "'");
      const auto& channel = ch->get_ref<const std::string&>();
      return rule.action == dialect_action::subscribe ? subscribe(rule, channel) : unsubscribe(rule, channel);
    }
  }
}

void dialect_protocol::authenticate(const dialect_receive& rule, const json& msg) {
  const json* tok = at_path(msg, rule.token);
  if (!tok || !tok->is_string()) return refuse(&rule, "missing string field '" + rule.token + "'");
  auto r = c_.login(tok->get_ref<const std::string&>());
  if (r.outcome == login_outcome::ok) {
    user_ = std::move(r.user);
    return send(rule.reply, values(), frame_type::authenticated);
  }
  if (r.outcome == login_outcome::auth_off || r.outcome == login_outcome::too_late) return refuse(&rule, r.error);
  refuse_login(&rule, r);
}

// A token refused: say why, then close (1008), as /ws does.
void dialect_protocol::refuse_login(const dialect_receive* rule, const login_result& r) {
  refuse(rule, r.error);
  c_.close_with(ws::close_code::policy_violation, r.outcome == login_outcome::too_many ? "too many connections" : "unauthorized", true);
}

const dialect_channel* dialect_protocol::resolve(const std::string& channel, std::string& pattern, std::string& why) const {
  auto rule = std::find_if(d_.channels.begin(), d_.channels.end(), [&](const dialect_channel& c) { return c.name == channel || c.name == "*"; });
  if (rule == d_.channels.end()) {
    why = "unknown channel '" + clip(channel) + "'";
    return nullptr;
  }
  pattern = rule->topics;
  if (pattern.find("{sub}") != std::string::npos && c_.access().user.empty()) {
    why = "channel '" + clip(channel) + "' is a user's own: authenticate first";
    return nullptr;
  }
  for (auto [from, to] : {std::pair<std::string_view, std::string>{"{sub}", c_.access().user}, {"{channel}", encode_topic_segment(channel)}})
    for (auto at = pattern.find(from); at != std::string::npos; at = pattern.find(from, at + to.size())) pattern.replace(at, from.size(), to);
  if (auto w = check_pattern(pattern); !w.empty()) {
    why = "channel '" + clip(channel) + "': " + w;
    return nullptr;
  }
  return &*rule;
}

void dialect_protocol::subscribe(const dialect_receive& rule, const std::string& channel) {
  std::string pattern, why;
  const dialect_channel* ch = resolve(channel, pattern, why);
  if (!ch) return refuse(&rule, why, channel);
  if (!may_subscribe(c_.access(), pattern)) return refuse(&rule, "not allowed to subscribe to '" + clip(channel) + "'", channel);
  auto& subs = c_.subscriptions();
  if (!subs.has(pattern)) {
    if (subs.patterns().size() >= max_session_patterns) return refuse(&rule, "too many subscriptions", channel);
    subs.add(pattern);
    subs_.push_back({channel, pattern, ch, slot_of(*ch)});
    c_.apply_subscriptions();
  }
  auto v = values();
  v.channel = channel;
  send(rule.reply, v, frame_type::subscribed);
  for (auto& r : shard_.st.cache.matching(pattern)) {  // the latest of each, as the channel's updates
    if (!may_see(c_.access(), r->topic)) continue;
    uint64_t& last = c_.seqs().at(r->topic_id);
    if (r->rec.seq <= last) continue;
    last = r->rec.seq;
    if (auto f = live_frame(r).sent) c_.send_reply({std::move(f), r->topic_id, frame_type::snapshot});
  }
}

void dialect_protocol::unsubscribe(const dialect_receive& rule, const std::string& channel) {
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](const channel_sub& s) { return s.name == channel; });
  if (it != subs_.end()) {
    c_.subscriptions().remove(it->pattern);
    subs_.erase(it);
    c_.apply_subscriptions();
  }
  auto v = values();
  v.channel = channel;
  send(rule.reply, v, frame_type::unsubscribed);
}

// One frame per record and channel rule, shared by every session of the dialect on it (and
// its compressed copy), unless the rule's frame differs per session.
record_frames dialect_protocol::live_frame(const std::shared_ptr<const published_record>& r) {
  auto sub = std::find_if(subs_.begin(), subs_.end(), [&](const channel_sub& s) { return topic_matches(s.pattern, r->topic); });
  if (sub == subs_.end()) return {};
  const auto& rule = *sub->rule;
  if (!sub->slot) return {c_.own_frame(record_frame(*r, rule, sub->name)), {}};
  auto* plain = published_record::dialect_frame(*r, *sub->slot, [&](const published_record& p) {
    auto channel = rule.name == "*" ? channel_of(rule, p.topic) : std::optional<std::string>(rule.name);
    return record_frame(p, rule, channel ? *channel : sub->name);
  });
  const std::string* compressed = nullptr;
  if (plain && c_.compressing())
    compressed = published_record::dialect_frame(*r, *sub->slot + kHalf, [&](const published_record&) { return c_.deflated(*plain); });
  return c_.frames_of(r, plain, compressed);
}

std::string dialect_protocol::record_frame(const published_record& r, const dialect_channel& rule, std::string_view channel) const {
  auto v = values();
  v.record = &r;
  v.channel = channel;
  std::string payload;
  rule.send.render(payload, [&](placeholder p, const std::string& field, std::string& out) { fill(p, field, v, out); });
  return ws::make_frame(ws::opcode::text, payload);
}

void dialect_protocol::send(const message_template& t, message_values v, frame_type type) {
  if (t.empty()) return;
  std::string payload;
  t.render(payload, [&](placeholder p, const std::string& field, std::string& out) { fill(p, field, v, out); });
  c_.send_text(type, payload);
}

void dialect_protocol::refuse(const dialect_receive* rule, std::string_view why, std::string_view channel) {
  const auto& t = rule && rule->error ? rule->error : d_.error;
  if (!t) return;
  auto v = values();
  v.error = why;
  v.channel = channel;
  send(*t, v, frame_type::error);
}

}  // namespace tributary
