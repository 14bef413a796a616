#pragma once
// Internal to server/: what every connection shares. Includes Asio; never include from outside.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/modes.hpp"
#include "server/subscription_counts.hpp"
#include "server/user_limits.hpp"
#include "auth/access.hpp"
#include "auth/jwt_verifier.hpp"
#include "server/server.hpp"
#include "wire/ws_deflate.hpp"

namespace tributary {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class io_shard;

// What a reload may change (server::reconfigure). A request, or a WebSocket session, takes the
// settings current when it starts and keeps them; the listener, the WebSocket path, the I/O
// threads and the auth mode stay as they were at start.
struct server_settings {
  explicit server_settings(server_options o)
      : opts(std::move(o)), policy{opts.auth, opts.public_patterns},
        verifier(opts.auth ? std::make_unique<jwt_verifier>(opts.jwt) : nullptr) {}
  server_options opts;
  access_policy policy;
  std::unique_ptr<jwt_verifier> verifier;  // auth on only
};

struct server::state {
  record_cache& cache;
  fanout_hub& hub;
  metrics& m;
  server_hooks hooks;
  std::shared_ptr<spdlog::logger> log;
  const bool auth;  // [server.auth] mode = "jwt": fixed for the process (the fan-out depends on it)
  std::vector<std::unique_ptr<io_shard>> shards;
  std::unique_ptr<tcp::acceptor> acceptor;  // runs on shards[0]
  std::unique_ptr<net::steady_timer> accept_pause;
  std::atomic<size_t> connections{0};  // open TCP connections
  std::atomic<size_t> ws_sessions{0};  // WebSocket sessions: what max_connections bounds
  std::atomic<uint64_t> next_session{1};
  std::atomic<size_t> next_shard{0};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> refused_per_ip{0};
  int collector = -1;
  std::mutex per_ip_mu;
  std::unordered_map<std::string, size_t> per_ip;  // open connections by remote address
  subscription_counts subscriptions;               // sessions per pattern, for /api/v1/subscriptions
  // The same narrowed to what each session may see of shared topics (auth/access.hpp): what
  // demand = "subscribed" feeds poll for, so a client cannot make a feed fetch what it may not read.
  subscription_counts reachable;
  user_limit_counters user_limit_counts;
  std::shared_ptr<user_limits> memory_user_limits;  // standalone: shared by the threads

  state(server_options o, record_cache& c, fanout_hub& h, metrics& mm, server_hooks hk, std::shared_ptr<spdlog::logger> l)
      : cache(c), hub(h), m(mm), hooks(std::move(hk)), log(std::move(l)), auth(o.auth),
        settings_(std::make_shared<const server_settings>(std::move(o))) {
    reachable.on_pattern(hooks.subscription_pattern);
  }

  std::shared_ptr<const server_settings> settings() const {
    std::lock_guard lk(settings_mu_);
    return settings_;
  }
  void replace_settings(std::shared_ptr<const server_settings> next) {
    std::lock_guard lk(settings_mu_);
    settings_ = std::move(next);
  }

 private:
  mutable std::mutex settings_mu_;  // once per request or session, never per message
  std::shared_ptr<const server_settings> settings_;
};

// Counts a TCP connection for as long as it lives: in total (the tributary_connections gauge)
// and per remote address, for `connections_per_ip`.
struct connection_slot {
  server::state& st;
  std::string ip;
  bool over_ip_limit = false;  // this connection is past the limit for its address
  connection_slot(server::state& s, std::string address);
  ~connection_slot();
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
};

void start_http_session(server::state& st, io_shard& shard, tcp::socket socket);
// After the 101 answer: `early` holds bytes the client sent right behind its upgrade request.
// `token`: from the upgrade request's Authorization header or ?token=; empty when none.
// The protocol a WebSocket session speaks; a dialect's index in server_options::dialects.
struct session_wire {
  client_protocol kind = client_protocol::websocket;
  size_t dialect = 0;
};

// A session already counted toward connections_per_user (its upgrade carried a token).
struct counted_session {
  std::string user, key;
};

// `deflate`: the permessage-deflate agreed in the 101 answer, if any.
void start_ws_connection(io_shard& shard, tcp::socket socket, std::string early, std::string token, std::unique_ptr<connection_slot> slot,
                         const std::optional<ws::deflate_agreement>& deflate, counted_session counted, session_wire protocol);

}  // namespace tributary
