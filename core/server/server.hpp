#pragma once
// One Beast server per instance: the HTTP API and the WebSocket endpoint on one port
// (shared design PROTOCOL.md). No Boost type appears here; the parts live in server/*.cpp.
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "util/duration.hpp"

namespace spdlog { class logger; }

namespace tributary {

class record_cache;
class fanout_hub;
class metrics;

struct server_options {
  std::string address = "127.0.0.1";
  unsigned short port = 8081;  // 0 = any free port
  std::string ws_path = "/ws";
  size_t max_connections = 10000;
  size_t max_message_bytes = 65536;
  millis heartbeat{30000};
  size_t queue_limit = 1024;
  std::string version = "0.1.0";
};

struct server_hooks {
  std::function<std::string()> status_json;
  std::function<std::string()> metrics_text;
  std::function<std::pair<bool, std::string>()> ready;  // ready?, reason
};

class server {
 public:
  server(server_options opts, record_cache& cache, fanout_hub& hub, metrics& m, server_hooks hooks,
         std::shared_ptr<spdlog::logger> log);
  ~server();
  // Binds and starts serving on its own I/O thread; returns the bound port. Throws on bind failure.
  unsigned short start();
  void stop();

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace tributary
