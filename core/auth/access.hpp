#pragma once
// Which topics a session may see (docs/protocol.md, Authentication and authorization). No I/O.
//
// With auth off, everything. With auth on:
// - a personal topic, `user.<id>.…` or `<kind>.user.<id>.…` (an `event` whose subject starts
//   with `user.<id>.`), only by the session whose token `sub` is <id>, whatever its grants;
// - any other topic when a public pattern or the token's `channels` match it.
//
// A subscription pattern is accepted when it can reach something the session may see; it is
// then registered narrowed to what the session may see, so delivery needs no per-session check.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tributary {

struct access_policy {
  bool enabled = false;                      // [server.auth] mode = "jwt"
  std::vector<std::string> public_patterns;  // [server.auth] public
};

// What one session has been granted: nothing but the public patterns until it authenticates.
struct grant {
  const access_policy* policy = nullptr;
  std::string user;                   // token `sub`; empty: anonymous
  std::vector<std::string> channels;  // from the token
  bool enabled() const { return policy && policy->enabled; }
};

// The <id> of a personal topic (`user.<id>`, `user.<id>.…`, `<kind>.user.<id>`,
// `<kind>.user.<id>.…`) or of a pattern's fixed prefix ("user.42.*"), else empty.
std::string_view personal_owner(std::string_view topic_or_pattern);
// The topics two patterns both match, as a pattern; nullopt when none.
std::optional<std::string> intersect(std::string_view a, std::string_view b);

bool may_see(const grant& g, std::string_view topic);
bool may_subscribe(const grant& g, std::string_view pattern);
// Registrations for the shared index (non-personal topics): `pattern` narrowed to what `g`
// may see. With auth off, the pattern itself.
std::vector<std::string> shared_registrations(const grant& g, std::string_view pattern);
// Whether `pattern` must also be registered in the owner's personal index (it can match one of
// the session's own personal topics).
bool reaches_own_topics(const grant& g, std::string_view pattern);

}  // namespace tributary
