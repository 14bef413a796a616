#include "server/server.hpp"

#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "server/server_state.hpp"
#include "sink/metrics.hpp"

namespace tributary {

connection_slot::connection_slot(std::shared_ptr<server::state> s) : st(std::move(s)) {
  st->connections++;
  st->m.set("tributary_connections", {}, static_cast<double>(st->connections.load()));
}

connection_slot::~connection_slot() {
  st->connections--;
  st->m.set("tributary_connections", {}, static_cast<double>(st->connections.load()));
}

namespace {

void do_accept(std::shared_ptr<server::state> st) {
  st->acceptor->async_accept(net::make_strand(st->ioc), [st](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) start_http_session(st, std::move(socket));
    else st->log->debug("accept: {}", ec.message());
    do_accept(st);
  });
}

}  // namespace

server::server(server_options opts, record_cache& cache, fanout_hub& hub, metrics& m, server_hooks hooks,
               std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<state>(std::move(opts), cache, hub, m, std::move(hooks), std::move(log))) {
  m.describe("tributary_connections", "gauge", "Open HTTP and WebSocket connections");
  m.describe("tributary_ws_sessions", "gauge", "Open WebSocket sessions");
  m.describe("tributary_ws_messages_sent_total", "counter", "WebSocket messages sent, by type");
  m.describe("tributary_ws_drops_total", "counter", "WebSocket sessions dropped, by reason");
  m.describe("tributary_ws_queue_depth_max", "gauge", "Deepest WebSocket send queue seen");
  m.describe("tributary_http_requests_total", "counter", "HTTP API requests by route and status");
}

server::~server() { stop(); }

unsigned short server::start() {
  auto& st = *state_;
  auto addr = net::ip::make_address(st.opts.address == "localhost" ? "127.0.0.1" : st.opts.address);
  tcp::endpoint ep(addr, st.opts.port);
  st.acceptor = std::make_unique<tcp::acceptor>(net::make_strand(st.ioc));
  st.acceptor->open(ep.protocol());
  st.acceptor->set_option(net::socket_base::reuse_address(true));
  st.acceptor->bind(ep);
  st.acceptor->listen(net::socket_base::max_listen_connections);
  unsigned short port = st.acceptor->local_endpoint().port();
  do_accept(state_);
  st.thread = std::thread([s = state_] { s->ioc.run(); });
  st.log->info("listening on {}:{} (WebSocket at {})", st.opts.address, port, st.opts.ws_path);
  return port;
}

void server::stop() {
  auto& st = *state_;
  if (!st.thread.joinable()) return;
  net::post(st.ioc, [s = state_] {
    beast::error_code ec;
    if (s->acceptor) s->acceptor->close(ec);
  });
  st.ioc.stop();
  st.thread.join();
}

}  // namespace tributary
