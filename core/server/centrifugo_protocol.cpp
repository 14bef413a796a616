// Centrifugo's client protocol v2 over WebSocket, JSON (docs/clients.md, "Centrifugo clients"),
// at /connection/websocket: connect with a token, subscribe with recovery, unsubscribe,
// refresh, and pings. Channels are topics (or topic patterns); a publication's data is the
// tributary.v1 record, its offset the record's seq, the epoch the history's. Commands may come
// several to a frame, one per line; the replies to one frame go back in one, one per line.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

#include "publish/cache.hpp"
#include "record/topic.hpp"
#include "server/catch_up.hpp"
#include "server/client_json.hpp"
#include "server/frames.hpp"
#include "server/session_protocol.hpp"
#include "server/ws_connection.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

// Centrifugo's error codes (a reply's "error") and disconnect codes (the close frame's).
enum class cf_error : uint16_t {
  unknown_channel = 102,
  permission_denied = 103,
  method_not_found = 104,
  already_subscribed = 105,
  limit_exceeded = 106,
  bad_request = 107,
  not_available = 108,
  token_expired = 109,
  too_many_requests = 111,
};
enum class cf_disconnect : uint16_t { connection_expired = 3005, invalid_token = 3500, bad_request = 3501, connection_limit = 3504 };

const char* message_of(cf_error e) {
  switch (e) {
    case cf_error::unknown_channel: return "unknown channel";
    case cf_error::permission_denied: return "permission denied";
    case cf_error::method_not_found: return "method not found";
    case cf_error::already_subscribed: return "already subscribed";
    case cf_error::limit_exceeded: return "limit exceeded";
    case cf_error::bad_request: return "bad request";
    case cf_error::not_available: return "not available";
    case cf_error::token_expired: return "token expired";
    case cf_error::too_many_requests: return "too many requests";
  }
  return "error";
}

// A command's id: a positive integer; 0 when it has none (a pong, an async send).
uint32_t id_of(const json& cmd) {
  auto id = cmd.find("id");
  return id != cmd.end() && id->is_number_unsigned() && id->get<uint64_t>() <= UINT32_MAX ? id->get<uint32_t>() : 0;
}

// A boolean field that is true; anything else is false.
bool flag(const json& o, const char* key) {
  auto v = o.find(key);
  return v != o.end() && v->is_boolean() && v->get<bool>();
}

// Calls f(line) for each non-blank line of a frame.
template <class F>
void each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

class centrifugo_protocol final : public session_protocol {
 public:
  explicit centrifugo_protocol(ws_connection& c) : c_(c), shard_(c.shard()) {}
  void opened(std::string_view) override {}  // the client speaks first, with connect
  void on_text(std::string_view message) override;
  record_frames live_frame(const std::shared_ptr<const published_record>& r) override;
  void rate_limited(std::string_view message, std::string_view why) override;
  void token_expired() override { disconnect(cf_disconnect::connection_expired, "connection expired"); }
  void heartbeat() override {
    if (connected_) c_.send_text(frame_type::ping, "{}");
  }

 private:
  void command(std::string_view line);
  void connect(uint32_t id, const json& req);
  void refresh(uint32_t id, const json& req);
  void subscribe(uint32_t id, const json& req);
  void unsubscribe(uint32_t id, const json& req);
  // The subscribe result of `channel`: its latest record(s) or, recovering, what was missed.
  void subscribe_result(const std::string& channel, const json& req, std::string& out);
  void recover_topic(const published_record& latest, const json& req, std::string& out);
  void add_publication(const published_record& r, std::string_view channel, std::string& out, bool& first);
  std::string session_fields() const;  // client, version, and expires/ttl with a token exp

  void reply(uint32_t id, std::string_view method, std::string_view result, frame_type t);
  void error(uint32_t id, cf_error e, std::string_view detail = {});
  // The replies of this frame so far go out first, then the close frame.
  void disconnect(cf_disconnect code, std::string_view reason) {
    send_batch();
    c_.close_with(static_cast<ws::close_code>(code), reason, true);
  }
  void send_batch() {
    if (!batch_.empty()) c_.send_text(batch_type_, batch_);
    batch_.clear();
  }
  void next_line(frame_type t) {  // a reply joins the batch: the first names its type
    if (batch_.empty()) batch_type_ = t;
    else batch_.push_back('\n');
  }

  ws_connection& c_;
  io_shard& shard_;
  bool connected_ = false;
  std::string batch_;  // replies to the frame being read, one per line
  frame_type batch_type_ = frame_type::error;
};

}  // namespace

std::unique_ptr<session_protocol> make_centrifugo_protocol(ws_connection& c) { return std::make_unique<centrifugo_protocol>(c); }

void centrifugo_protocol::on_text(std::string_view message) {
  batch_.clear();
  each_line(message, [&](std::string_view line) {
    if (!c_.closing()) command(line);
  });
  send_batch();
}

void centrifugo_protocol::rate_limited(std::string_view message, std::string_view) {
  batch_.clear();
  each_line(message, [&](std::string_view line) {
    if (too_deep(line)) return;
    auto cmd = json::parse(line, nullptr, false);
    if (cmd.is_object() && id_of(cmd)) error(id_of(cmd), cf_error::too_many_requests);
  });
  send_batch();
}

void centrifugo_protocol::command(std::string_view line) {
  if (too_deep(line)) return disconnect(cf_disconnect::bad_request, "bad request: JSON nested deeper than 32 levels");
  auto cmd = json::parse(line, nullptr, false);
  if (!cmd.is_object()) return disconnect(cf_disconnect::bad_request, "bad request: a command is a JSON object");
  uint32_t id = id_of(cmd);
  auto has = [&](const char* method) { auto m = cmd.find(method); return m != cmd.end() && m->is_object(); };
  if (has("connect")) return connect(id, cmd["connect"]);
  if (!connected_) return disconnect(cf_disconnect::bad_request, "bad request: connect first");
  if (id == 0) return;  // {}: the answer to our ping; an async send: nothing here reads it
  if (has("subscribe")) return subscribe(id, cmd["subscribe"]);
  if (has("unsubscribe")) return unsubscribe(id, cmd["unsubscribe"]);
  if (has("refresh")) return refresh(id, cmd["refresh"]);
  if (has("ping")) return reply(id, "ping", "{}", frame_type::pong);
  if (has("publish")) return error(id, cf_error::permission_denied, "clients do not publish here");
  for (const char* m : {"presence", "presence_stats", "history", "rpc", "sub_refresh"})
    if (has(m)) return error(id, cf_error::not_available);
  error(id, cf_error::method_not_found);
}

// ---- connect and refresh

std::string centrifugo_protocol::session_fields() const {
  std::string out = R"("client":)" + json_string(c_.id()) + R"(,"version":)" + json_string("tributary/" + c_.settings().opts.version);
  if (int64_t exp = c_.expires_ms())
    out += R"(,"expires":true,"ttl":)" + std::to_string(std::max<int64_t>(1, (exp - ws_connection::wall_ms() + 999) / 1000));
  return out;
}

void centrifugo_protocol::connect(uint32_t id, const json& req) {
  if (connected_) return disconnect(cf_disconnect::bad_request, "bad request: already connected");
  auto token = req.find("token");
  if (token != req.end() && !token->is_string()) return disconnect(cf_disconnect::bad_request, "bad request: token must be a string");
  if (token != req.end() && !token->get_ref<const std::string&>().empty() && c_.settings().verifier) {
    auto r = c_.login(token->get_ref<const std::string&>());
    switch (r.outcome) {
      case login_outcome::expired: return error(id, cf_error::token_expired);
      case login_outcome::too_many: return disconnect(cf_disconnect::connection_limit, "connection limit");
      case login_outcome::invalid:
      case login_outcome::too_late: return disconnect(cf_disconnect::invalid_token, "invalid token");
      case login_outcome::auth_off:
      case login_outcome::ok: break;
    }
  }
  connected_ = true;
  int64_t ping_s = (c_.settings().opts.heartbeat.count() + 999) / 1000;
  reply(id, "connect", "{" + session_fields() + R"(,"ping":)" + std::to_string(ping_s) + R"(,"pong":false})", frame_type::hello);
}

void centrifugo_protocol::refresh(uint32_t id, const json& req) {
  auto token = req.find("token");
  if (token == req.end() || !token->is_string() || token->get_ref<const std::string&>().empty())
    return error(id, cf_error::bad_request, "refresh needs a token");
  auto r = c_.login(token->get_ref<const std::string&>());
  switch (r.outcome) {
    case login_outcome::expired: return error(id, cf_error::token_expired);
    case login_outcome::auth_off: return error(id, cf_error::not_available, "authentication is off on this server");
    case login_outcome::too_many: return disconnect(cf_disconnect::connection_limit, "connection limit");
    case login_outcome::invalid:
    case login_outcome::too_late: return disconnect(cf_disconnect::invalid_token, "invalid token");
    case login_outcome::ok: break;
  }
  reply(id, "refresh", "{" + session_fields() + "}", frame_type::authenticated);
}

// ---- subscriptions

void centrifugo_protocol::subscribe(uint32_t id, const json& req) {
  auto ch = req.find("channel");
  if (ch == req.end() || !ch->is_string()) return error(id, cf_error::bad_request, "subscribe needs a channel");
  const auto& channel = ch->get_ref<const std::string&>();
  if (!check_pattern(channel).empty()) return error(id, cf_error::unknown_channel, check_pattern(channel));
  if (!may_subscribe(c_.access(), channel)) return error(id, cf_error::permission_denied);
  auto& subs = c_.subscriptions();
  if (subs.has(channel)) return error(id, cf_error::already_subscribed);
  if (subs.patterns().size() >= max_session_patterns) return error(id, cf_error::limit_exceeded);
  subs.add(channel);
  c_.apply_subscriptions();
  std::string result;
  subscribe_result(channel, req, result);
  reply(id, "subscribe", result, frame_type::subscribed);
}

void centrifugo_protocol::subscribe_result(const std::string& channel, const json& req, std::string& out) {
  const std::string& epoch = shard_.st.hub.epoch();
  if (channel.find('*') == std::string::npos) {  // one topic: a stream with positions
    auto latest = shard_.st.cache.latest(channel);
    if (latest && !may_see(c_.access(), latest->topic)) latest = nullptr;
    bool recovering = flag(req, "recover");
    out = R"({"recoverable":true,"epoch":)" + json_string(epoch) + R"(,"offset":)" +
          std::to_string(latest ? latest->rec.seq : 0);
    if (recovering) out += R"(,"was_recovering":true)";
    if (latest && recovering) return recover_topic(*latest, req, out);
    auto offset = req.find("offset");  // nothing to recover but what came before it all
    if (recovering && (offset == req.end() || (offset->is_number_unsigned() && offset->get<uint64_t>() == 0))) out += R"(,"recovered":true)";
    bool first = true;
    if (latest) add_publication(*latest, {}, out, first);
    out += first ? "}" : "]}";
    return;
  }
  out = R"({"epoch":)" + json_string(epoch);  // a pattern: the latest of each topic, not recoverable
  bool first = true;
  for (auto& r : shard_.st.cache.matching(channel))
    if (may_see(c_.access(), r->topic)) add_publication(*r, r->topic, out, first);
  out += first ? "}" : "]}";
}

// Recovery from the client's offset in the same epoch: every update after it when the history
// holds them all, else the latest alone with recovered false.
void centrifugo_protocol::recover_topic(const published_record& latest, const json& req, std::string& out) {
  auto epoch = req.find("epoch");
  bool same_epoch = epoch == req.end() || (epoch->is_string() && (epoch->get_ref<const std::string&>().empty() ||
                                                                  epoch->get_ref<const std::string&>() == shard_.st.hub.epoch()));
  auto offset = req.find("offset");
  std::optional<uint64_t> since;
  if (offset == req.end()) since = 0;
  else if (offset->is_number_unsigned()) since = offset->get<uint64_t>();
  auto plan = same_epoch && since ? plan_catch_up(shard_.st.hub.history(), latest, since) : catch_up{};
  bool first = true;
  if (plan.recovered) {
    out += R"(,"recovered":true)";
    uint64_t& last = c_.seqs().at(latest.topic_id);  // the client has everything up to `since`
    last = std::max(last, *since);
    for (auto& h : plan.updates) add_publication(*h, {}, out, first);
  } else {
    add_publication(latest, {}, out, first);
  }
  out += first ? "}" : "]}";
}

// Appends `r` to the result's publications (opening the array first), unless this session was
// sent it already.
void centrifugo_protocol::add_publication(const published_record& r, std::string_view channel, std::string& out, bool& first) {
  uint64_t& last = c_.seqs().at(r.topic_id);
  if (r.rec.seq <= last) return;
  last = r.rec.seq;
  out += first ? R"(,"publications":[)" : ",";
  first = false;
  append_centrifugo_publication(out, r, channel);
}

void centrifugo_protocol::unsubscribe(uint32_t id, const json& req) {
  auto ch = req.find("channel");
  if (ch == req.end() || !ch->is_string()) return error(id, cf_error::bad_request, "unsubscribe needs a channel");
  c_.subscriptions().remove(ch->get_ref<const std::string&>());
  c_.apply_subscriptions();
  reply(id, "unsubscribe", "{}", frame_type::unsubscribed);
}

// ---- live publications

record_frames centrifugo_protocol::live_frame(const std::shared_ptr<const published_record>& r) {
  auto& subs = c_.subscriptions();
  if (subs.has(r->topic)) {  // the usual case: one frame for every session on the topic
    auto* plain = published_record::variant(*r, frame_variant::centrifugo,
                                            [](const published_record& p) { return centrifugo_push_frame(p, p.topic); });
    return c_.shared_frame(r, plain, frame_variant::centrifugo_deflated);
  }
  for (const auto& p : subs.patterns())  // a pattern subscription: the push names it
    if (topic_matches(p, r->topic)) return {c_.own_frame(centrifugo_push_frame(*r, p)), {}};
  return {};
}

// ---- replies

void centrifugo_protocol::reply(uint32_t id, std::string_view method, std::string_view result, frame_type t) {
  next_line(t);
  batch_.append(R"({"id":)").append(std::to_string(id)).append(R"(,")").append(method).append(R"(":)").append(result).push_back('}');
}

void centrifugo_protocol::error(uint32_t id, cf_error e, std::string_view detail) {
  std::string message = message_of(e);
  if (!detail.empty()) message += ": " + clip(detail);
  next_line(frame_type::error);
  batch_ += dump(json{{"id", id}, {"error", {{"code", static_cast<uint16_t>(e)}, {"message", message}}}});
}

}  // namespace tributary
