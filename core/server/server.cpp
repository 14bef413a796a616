#include "server/server.hpp"

#include <sched.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "server/io_shard.hpp"
#include "server/server_state.hpp"
#include "publish/fanout_hub.hpp"
#include "obs/metrics.hpp"

namespace tributary {

connection_slot::connection_slot(server::state& s, std::string address) : st(s), ip(std::move(address)) {
  st.connections++;
  std::lock_guard lk(st.per_ip_mu);
  size_t n = ++st.per_ip[ip];
  size_t limit = st.settings()->opts.connections_per_ip;
  over_ip_limit = limit > 0 && n > limit;
}

connection_slot::~connection_slot() {
  st.connections--;
  std::lock_guard lk(st.per_ip_mu);
  if (auto it = st.per_ip.find(ip); it != st.per_ip.end() && --it->second == 0) st.per_ip.erase(it);
}

namespace {

size_t usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space || ec == net::error::no_memory ||
         ec.value() == ENFILE;
}

void do_accept(server::state& st);

// Out of file descriptors: say so once a second at most, and try again shortly instead of
// spinning on an accept that fails at once.
void pause_accepting(server::state& st, const boost::system::error_code& ec) {
  static std::atomic<int64_t> last_warned{0};
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (last_warned.exchange(now) != now)
    st.log->warn("accept: {} ({} connections open); pausing new connections for 100 ms", ec.message(), st.connections.load());
  st.accept_pause->expires_after(std::chrono::milliseconds(100));
  st.accept_pause->async_wait([&st](boost::system::error_code e) {
    if (!e && !st.stopping) do_accept(st);
  });
}

void do_accept(server::state& st) {
  auto& shard = *st.shards[st.next_shard++ % st.shards.size()];
  st.acceptor->async_accept(shard.ioc(), [&st, &shard](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || st.stopping) return;
    if (out_of_descriptors(ec)) return pause_accepting(st, ec);
    if (ec) st.log->debug("accept: {}", ec.message());
    else net::post(shard.ioc(), [&st, &shard, s = std::move(socket)]() mutable { start_http_session(st, shard, std::move(s)); });
    do_accept(st);
  });
}

void collect(server::state& st, std::vector<metrics::sample>& out) {
  uint64_t sent[static_cast<size_t>(frame_type::count_)]{}, drops[static_cast<size_t>(drop_reason::count_)]{};
  uint64_t conflated = 0, chained = 0, depth = 0, sessions[client_protocol_names.size()]{};
  for (auto& s : st.shards) {
    auto& c = s->counters();
    for (size_t i = 0; i < std::size(sent); ++i) sent[i] += c.sent[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < std::size(drops); ++i) drops[i] += c.drops[i].load(std::memory_order_relaxed);
    conflated += c.conflated.load(std::memory_order_relaxed);
    chained += c.chained.load(std::memory_order_relaxed);
    depth = std::max(depth, c.queue_depth_max.load(std::memory_order_relaxed));
    for (size_t i = 0; i < std::size(sessions); ++i) sessions[i] += c.sessions[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < std::size(sent); ++i)
    if (sent[i]) out.push_back({"tributary_ws_messages_sent_total", {{"type", name_of(static_cast<frame_type>(i))}}, double(sent[i])});
  for (size_t i = 0; i < std::size(drops); ++i)
    if (drops[i]) out.push_back({"tributary_ws_drops_total", {{"reason", name_of(static_cast<drop_reason>(i))}}, double(drops[i])});
  out.push_back({"tributary_ws_conflated_total", {}, double(conflated)});
  out.push_back({"tributary_ws_deflate_chained_total", {}, double(chained)});
  out.push_back({"tributary_ws_queue_depth_max", {}, double(depth)});
  for (size_t i = 0; i < std::size(sessions); ++i)
    out.push_back({"tributary_ws_sessions", {{"protocol", client_protocol_names[i]}}, double(sessions[i])});
  out.push_back({"tributary_connections", {}, double(st.connections.load())});
  out.push_back({"tributary_connections_refused_total", {{"reason", "per_ip"}}, double(st.refused_per_ip.load())});
  uint64_t limited = 0, refused = 0;
  for (auto& s : st.shards) {
    limited += s->counters().rate_limited.load(std::memory_order_relaxed);
    refused += s->counters().auth_failed.load(std::memory_order_relaxed);
  }
  out.push_back({"tributary_ws_rate_limited_total", {}, double(limited)});
  out.push_back({"tributary_ws_auth_failures_total", {}, double(refused)});
  out.push_back({"tributary_io_threads", {}, double(st.shards.size())});
  auto& u = st.user_limit_counts;
  out.push_back({"tributary_user_limit_refusals_total", {{"limit", "connections_per_user"}}, double(u.refused_connections.load())});
  out.push_back({"tributary_user_limit_refusals_total", {{"limit", "messages_per_minute_per_user"}}, double(u.refused_messages.load())});
  out.push_back({"tributary_user_limits_unavailable_total", {}, double(u.unavailable.load())});
}

}  // namespace

server::server(server_options opts, record_cache& cache, fanout_hub& hub, metrics& m, server_hooks hooks,
               std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<state>(std::move(opts), cache, hub, m, std::move(hooks), std::move(log))) {
  m.describe("tributary_connections", "gauge", "Open HTTP and WebSocket connections");
  m.describe("tributary_ws_sessions", "gauge", "Open client sessions, by protocol (websocket, sse, centrifugo, dialect)");
  m.describe("tributary_ws_messages_sent_total", "counter", "WebSocket messages sent, by type");
  m.describe("tributary_ws_drops_total", "counter", "WebSocket sessions dropped, by reason");
  m.describe("tributary_ws_conflated_total", "counter", "Updates replaced by a newer one of their topic before a slow client got them");
  m.describe("tributary_ws_deflate_chained_total", "counter",
             "Updates sent compressed in a compression context shared by the sessions on the same topics");
  m.describe("tributary_ws_queue_depth_max", "gauge", "Deepest WebSocket send queue seen, in frames");
  m.describe("tributary_io_threads", "gauge", "Server I/O threads");
  m.describe("tributary_connections_refused_total", "counter", "Connections answered 503, by reason");
  m.describe("tributary_ws_rate_limited_total", "counter", "Client messages dropped for going over messages_per_second");
  m.describe("tributary_ws_auth_failures_total", "counter", "WebSocket tokens refused (the session was closed 1008)");
  m.describe("tributary_http_requests_total", "counter", "HTTP API requests by route and status");
  m.describe("tributary_user_limit_refusals_total", "counter", "Sessions and messages refused by a per-user limit");
  m.describe("tributary_user_limits_unavailable_total", "counter", "Per-user checks let through because Redis did not answer in time");
}

server::~server() { stop(); }

// Binds and listens, or throws listen_error saying what to do.
static void open_listener(tcp::acceptor& acc, const std::string& address, unsigned short port) {
  std::string where = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
  boost::system::error_code ec;
  auto addr = net::ip::make_address(address == "localhost" ? "127.0.0.1" : address, ec);
  if (ec)
    throw listen_error("cannot listen on " + where + ": '" + address +
                       "' is not an IP address; use 0.0.0.0 (every interface), 127.0.0.1, [::1] or localhost");
  tcp::endpoint ep(addr, port);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) return;
  std::string hint = "choose another with --listen HOST:PORT or [server] listen (port 0 picks a free one)";
  if (ec == net::error::address_in_use)
    throw listen_error("cannot listen on " + where + ": the port is in use by another process; stop it or " + hint);
  if (ec == net::error::access_denied)
    throw listen_error("cannot listen on " + where + ": not allowed (ports below 1024 need privileges); " + hint);
  if (ec == boost::system::errc::address_not_available)
    throw listen_error("cannot listen on " + where + ": no interface of this machine has that address; " + hint);
  throw listen_error("cannot listen on " + where + ": " + ec.message() + "; " + hint);
}

unsigned short server::start() {
  auto& st = *state_;
  auto cfg = st.settings();
  const auto& o = cfg->opts;
  size_t n = o.io_threads ? o.io_threads : usable_cpus();
  for (size_t i = 0; i < n; ++i) st.shards.push_back(std::make_unique<io_shard>(st, i));
  if (o.user_limits_redis.empty())
    st.memory_user_limits = make_memory_user_limits({o.connections_per_user, o.messages_per_minute_per_user}, st.user_limit_counts);
  st.acceptor = std::make_unique<tcp::acceptor>(st.shards[0]->ioc());
  st.accept_pause = std::make_unique<net::steady_timer>(st.shards[0]->ioc());
  open_listener(*st.acceptor, o.address, o.port);
  unsigned short port = st.acceptor->local_endpoint().port();
  st.collector = st.m.add_collector([&st](std::vector<metrics::sample>& out) { collect(st, out); });
  for (auto& s : st.shards) st.hub.attach(s.get());
  do_accept(st);
  for (auto& s : st.shards) s->start();
  st.log->info("listening on {}:{} (WebSocket at {}, {} I/O thread{})", o.address, port, o.ws_path, n,
               n == 1 ? "" : "s");
  return port;
}

std::vector<std::string> server::reconfigure(server_options next) {
  auto& st = *state_;
  auto current = st.settings();
  const auto& o = current->opts;
  std::vector<std::string> later;
  if (next.address != o.address || next.port != o.port) later.push_back("listen");
  if (next.ws_path != o.ws_path) later.push_back("ws_path");
  if (next.io_threads != o.io_threads) later.push_back("io_threads");
  if (next.auth != o.auth) later.push_back("auth.mode");
  next.address = o.address;
  next.port = o.port;
  next.ws_path = o.ws_path;
  next.io_threads = o.io_threads;
  next.auth = o.auth;  // a key of the other mode is checked when the new mode applies, at restart
  if (!later.empty() && later.back() == "auth.mode") {
    next.jwt = o.jwt;
    next.public_patterns = o.public_patterns;
  }
  st.replace_settings(std::make_shared<const server_settings>(std::move(next)));  // may throw first: nothing changed
  return later;
}

void server::stop() {
  auto& st = *state_;
  if (st.shards.empty() || st.stopping.exchange(true)) return;
  for (auto& s : st.shards) st.hub.detach(s.get());
  net::post(st.shards[0]->ioc(), [&st] {
    boost::system::error_code ec;
    st.acceptor->close(ec);
    st.accept_pause->cancel();
  });
  for (auto& s : st.shards)
    net::post(s->ioc(), [sh = s.get()] { sh->close_all(); });
  // Give clients a moment to take their 1001 and answer it; then stop regardless.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto live = [&] {
    size_t n = 0;
    for (auto& s : st.shards) n += s->live_sessions();
    return n;
  };
  while (live() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (auto& s : st.shards) s->join();
  st.m.remove_collector(st.collector);
}

}  // namespace tributary
