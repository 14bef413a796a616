// A WebSocket session's login (docs/protocol.md, Authentication and authorization): a token
// from the upgrade request or a message of the session's protocol, checked by the server's
// jwt_verifier. A good token widens what the session's subscriptions deliver; each protocol
// words the outcome and decides what a bad one ends.
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

login_result ws_connection::login(std::string_view token) {
  auto& st = *cfg_;
  if (!st.verifier) return {login_outcome::auth_off, "authentication is off on this server ([server.auth] mode = \"none\")", {}};
  if (grant_.user.empty() && shard_.now_ms() - opened_ms_ > st.opts.auth_timeout.count())
    return {login_outcome::too_late, "a first auth must come within auth_timeout; this session stays public-only", {}};
  auto result = st.verifier->verify(token, wall_ms());
  if (result.who && !grant_.user.empty() && result.who->segment != grant_.user)
    result = {std::nullopt, "a session cannot change its user; reconnect instead"};
  if (!result.who) {
    shard_.counters().bump(shard_.counters().auth_failed);
    return {result.expired ? login_outcome::expired : login_outcome::invalid, std::move(result.error), {}};
  }
  if (!count_user(result.who->segment))
    return {login_outcome::too_many, "this user has connections_per_user sessions open already", {}};
  grant_.user = result.who->segment;
  grant_.channels = std::move(result.who->channels);
  expires_ms_ = result.who->expires_ms;
  apply_subscriptions();  // the grant changed: the indexes, and the deflate chain (keyed by user)
  return {login_outcome::ok, {}, std::move(result.who->user)};
}

}  // namespace tributary
