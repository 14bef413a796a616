#pragma once
// Internal to server/: what every session shares. Includes Asio; never include from outside.
#include <atomic>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/server.hpp"

namespace tributary {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct server::state {
  server_options opts;
  record_cache& cache;
  fanout_hub& hub;
  metrics& m;
  server_hooks hooks;
  std::shared_ptr<spdlog::logger> log;
  net::io_context ioc{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::atomic<size_t> connections{0};
  std::atomic<uint64_t> next_session{1};

  state(server_options o, record_cache& c, fanout_hub& h, metrics& mm, server_hooks hk, std::shared_ptr<spdlog::logger> l)
      : opts(std::move(o)), cache(c), hub(h), m(mm), hooks(std::move(hk)), log(std::move(l)) {}
};

// Counts a connection for as long as it lives.
struct connection_slot {
  std::shared_ptr<server::state> st;
  explicit connection_slot(std::shared_ptr<server::state> s);
  ~connection_slot();
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
};

void start_http_session(std::shared_ptr<server::state> st, tcp::socket socket);
void start_ws_session(std::shared_ptr<server::state> st, beast::tcp_stream stream,
                      http::request<http::string_body> req, std::unique_ptr<connection_slot> slot);

}  // namespace tributary
