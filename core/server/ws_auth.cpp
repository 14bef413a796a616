// A WebSocket session's authentication (docs/protocol.md, Authentication and authorization): a token
// from the upgrade request or an `auth` message, checked by the server's jwt_verifier. A good
// token widens what the session's subscriptions deliver; a bad one ends the session (1008).
#include <nlohmann/json.hpp>

#include "server/ws_connection.hpp"
#include "util/clock.hpp"

namespace tributary {

int64_t ws_connection::wall_ms() { return system_clock_source{}.now_ms(); }

// Counts this session toward its user's connections_per_user, once; false when over it.
bool ws_connection::count_user(const std::string& user) {
  if (!limited_user_.empty() || !cfg_->opts.connections_per_user) return true;
  auto key = id_ + "-" + std::to_string(shard_.random64());
  if (!shard_.limits().open(user, key)) return false;
  limited_user_ = user;
  limit_key_ = std::move(key);
  limit_refreshed_ = shard_.now_ms();
  return true;
}

void ws_connection::authenticate(std::string_view token, const nlohmann::json& id) {
  auto& st = *cfg_;
  if (!st.verifier) return reply_error(id, "bad_request", "authentication is off on this server ([server.auth] mode = \"none\")");
  if (grant_.user.empty() && shard_.now_ms() - opened_ms_ > st.opts.auth_timeout.count())
    return reply_error(id, "auth_timeout", "a first auth must come within auth_timeout; this session stays public-only");
  auto result = st.verifier->verify(token, wall_ms());
  if (result.who && !grant_.user.empty() && result.who->segment != grant_.user)
    result = {std::nullopt, "a session cannot change its user; reconnect instead"};
  if (!result.who) {
    shard_.counters().bump(shard_.counters().auth_failed);
    reply_error(id, "unauthorized", result.error);
    return close_with(ws::close_code::policy_violation, "unauthorized", true);
  }
  if (!count_user(result.who->segment)) {
    reply_error(id, "too_many_connections", "this user has connections_per_user sessions open already");
    return close_with(ws::close_code::policy_violation, "too many connections", true);
  }
  grant_.user = result.who->segment;
  grant_.channels = std::move(result.who->channels);
  expires_ms_ = result.who->expires_ms;
  subs_.apply(shard_, this, grant_);
  nlohmann::json ok{{"type", "authenticated"}, {"user", result.who->user}, {"user_segment", grant_.user}, {"expires_ms", expires_ms_ ? nlohmann::json(expires_ms_) : nlohmann::json()}};
  if (!id.is_null()) ok["id"] = id;
  reply(frame_type::authenticated, ok);
}

}  // namespace tributary
