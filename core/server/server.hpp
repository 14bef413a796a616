#pragma once
// One server per instance: the HTTP API and the WebSocket endpoint on one port (docs/protocol.md).
// No Boost type appears here; the parts live in server/*.cpp.
//
// Threads: `io_threads` I/O threads, each with its own event loop, its share of the
// connections and its own subscription index. A published record reaches each I/O thread
// once (fanout_hub), and each thread delivers it to its own interested sessions.
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/dialect.hpp"
#include "util/cidr.hpp"
#include "cluster/control.hpp"
#include "auth/jwt_verifier.hpp"
#include "server/send_queue.hpp"
#include "util/duration.hpp"

namespace spdlog { class logger; }

namespace tributary {

class record_cache;
class fanout_hub;
class metrics;

// A view served at its own route (GET route -> the bare object of topic `view.<name>`), and with
// `refresh`, POST route + "/refresh": the feeds of its inputs run at once, and the answer waits
// (up to refresh_wait) until every input has a newer record.
struct view_route {
  std::string route, topic;
  bool refresh = false;
  bool refresh_auth = false;         // the refresh needs the admin token
  std::vector<std::string> feeds;    // run on a refresh
  std::vector<std::string> inputs;   // the topics it reads
};

struct server_options {
  std::string address = "127.0.0.1";
  unsigned short port = 8081;  // 0 = any free port
  std::string ws_path = "/ws";
  size_t max_connections = 10000;    // WebSocket sessions
  size_t max_message_bytes = 65536;  // largest client message
  millis heartbeat{30000};
  size_t io_threads = 0;  // 0 = one per CPU this process may run on
  size_t queue_limit_bytes = 1 << 20;
  size_t queue_limit = 1024;  // frames; the byte bound usually comes first
  slow_policy slow_consumer = slow_policy::conflate;
  millis request_timeout{10000};  // to complete an HTTP request (or the upgrade)
  // Bearer token for /api/v1/status, /metrics and the control API; empty: status and metrics
  // are open and the control API answers 403.
  std::string admin_token;
  std::vector<std::string> allowed_origins;  // empty: any Origin; else upgrades from others get 403
  bool tributary_protocol = true;   // ours at ws_path
  bool centrifugo_protocol = false; // Centrifugo's client protocol v2 (JSON) at /connection/websocket
  std::vector<std::shared_ptr<const dialect_spec>> dialects;  // each at its path
  bool compression = true;            // permessage-deflate when the client offers it
  size_t compression_min_bytes = 256;  // shorter messages go plain to compressing sessions
  // Sessions on the same topics share a compression context (server/deflate_chain.hpp), unless
  // the client asks for server_no_context_takeover; false: always answered with it.
  bool compression_context_takeover = true;
  bool require_origin = false;  // with allowed_origins: an upgrade without Origin gets 403 too (else it is let in)
  size_t connections_per_ip = 0;  // open connections from one address; 0 = no limit
  double messages_per_second = 0; // client messages per WebSocket session; 0 = no limit
  double messages_burst = 50;
  std::vector<cidr> trusted_proxies;        // peers whose X-Forwarded-For / Forwarded names the client
  size_t connections_per_user = 0;          // sessions of one user; 0 = no limit
  size_t messages_per_minute_per_user = 0;  // client messages of one user a minute; 0 = no limit
  std::string user_limits_redis;            // cluster mode: the Redis URL that keeps them cluster-wide
  std::string user_limits_prefix;           // "tributary:{name}:"
  std::string version = "0.1.0";
  // [server.auth] mode = "jwt": tokens checked with `jwt`; `public_patterns` open to everyone.
  bool auth = false;
  jwt_options jwt;
  std::vector<std::string> public_patterns;
  millis auth_timeout{10000};
  bool dashboard = true;  // GET / serves the dashboard page, /tributary.js the client
  // View routes (GET route -> the bare view object of topic `view.<name>`).
  std::vector<view_route> view_routes;
  millis refresh_wait{10000};
};

// A control API request (docs/protocol.md, Control API) and the host's answer.
struct server_hooks {
  std::function<control_reply(const control_request&)> control;
  std::function<std::string()> status_json;
  std::function<std::string()> metrics_text;
  std::function<std::pair<bool, std::string>()> ready;  // ready?, reason
  // A subscription pattern some client of this server now holds (first session) or no longer
  // does (last one), narrowed to the shared topics its sessions may read: what demand =
  // "subscribed" feeds poll for. Called on an I/O thread, in order.
  std::function<void(const std::string& pattern, bool present)> subscription_pattern;
};

// Why the server cannot listen, in words an operator can act on.
struct listen_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class server {
 public:
  server(server_options opts, record_cache& cache, fanout_hub& hub, metrics& m, server_hooks hooks,
         std::shared_ptr<spdlog::logger> log);
  ~server();
  // Binds and starts the I/O threads; returns the bound port. Throws on bind failure.
  unsigned short start();  // throws listen_error
  // Sends close 1001 to every WebSocket client, waits briefly for them, then stops.
  void stop();
  // A reload's [server]: limits, tokens, origins, keys, view routes and the rest apply to
  // requests and WebSocket sessions that start from now on (open sessions keep theirs). Where
  // and how it listens (address, port, ws_path, io_threads) and the auth mode wait for a
  // restart: their names are returned. Throws std::invalid_argument for an unusable JWT key,
  // changing nothing.
  std::vector<std::string> reconfigure(server_options next);

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace tributary
