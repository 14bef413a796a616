#pragma once
// Internal to server/: the patterns one session asked for and what they are registered as in
// its thread's indexes. A pattern is registered narrowed to what the session may see (see
// auth/access.hpp): in the shared index for ordinary topics, and in the user's own index for
// its personal topics. Re-applied whenever the patterns or the session's grant change; only the
// difference touches the indexes.
#include <string>
#include <string_view>
#include <vector>

#include "auth/access.hpp"
#include "server/subscription_counts.hpp"

namespace tributary {

class io_shard;
class subscriber;

class session_subscriptions {
 public:
  explicit session_subscriptions(client_protocol p = client_protocol::websocket) : protocol_(p) {}
  const std::vector<std::string>& patterns() const { return patterns_; }
  client_protocol protocol() const { return protocol_; }
  bool has(std::string_view p) const;
  void add(const std::string& p) { patterns_.push_back(p); }
  void remove(std::string_view p);
  // Brings the indexes in line with the patterns and `g`.
  void apply(io_shard& shard, subscriber* c, const grant& g);
  // Leaves every index (the session is closing).
  void clear(io_shard& shard, subscriber* c);

 private:
  std::vector<std::string> patterns_;  // as the client asked
  std::vector<std::string> shared_;    // registered in the shared index
  std::vector<std::string> personal_;  // registered in user_'s index
  std::vector<std::string> counted_;   // as counted in the server's subscription_counts
  std::string user_;
  client_protocol protocol_;  // what the session is counted as
};

}  // namespace tributary
