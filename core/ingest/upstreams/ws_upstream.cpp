#include "ingest/upstreams/ws_upstream.hpp"

#include <functional>
#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>

namespace tributary {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

namespace {

struct target {
  bool tls = false;
  std::string host, port, path;  // path with its query: never put in an error
  std::string where() const { return host + ":" + port; }
};

std::variant<target, std::string> parse_target(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return std::string("the upstream URL is not a URL");
  target t;
  if (u->scheme() == "wss") t.tls = true;
  else if (u->scheme() != "ws") return "the upstream URL's scheme is '" + std::string(u->scheme()) + "', not ws or wss";
  if (!u->has_authority() || u->host_address().empty()) return std::string("the upstream URL has no host");
  t.host = std::string(u->host_address());
  t.port = u->has_port() ? std::string(u->port()) : t.tls ? "443" : "80";
  t.path = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
  return t;
}

bool is_ip(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::optional<std::string> upgrade_target(const std::string& url) {
  auto t = parse_target(url);
  if (auto* ok = std::get_if<target>(&t)) return ok->path;
  return std::nullopt;
}

struct ws_upstream::impl {
  options opt;
  net::io_context ioc;  // first member: destroyed after the streams that use it
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<plain_ws> plain;
  std::unique_ptr<tls_ws> secure;
  beast::flat_buffer buf;
  bool reading = false, read_done = false;
  beast::error_code read_ec;
  target where;

  explicit impl(options o) : opt(o) {
    tls.set_default_verify_paths();  // honours SSL_CERT_FILE / SSL_CERT_DIR
    tls.set_verify_mode(ssl::verify_peer);
  }

  template <class F>
  auto with(F&& f) {
    return secure ? f(*secure) : f(*plain);
  }

  // Runs the I/O until `done` or `limit` passes; handlers call ioc.stop() when they finish.
  void run_until(const bool& done, millis limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done) {
      auto left = until - std::chrono::steady_clock::now();
      if (left <= decltype(left)::zero()) return;
      ioc.restart();
      ioc.run_for(left);
    }
  }

  template <class WS>
  void upgrade(WS& ws, std::function<void(beast::error_code, std::string)> done) {
    beast::get_lowest_layer(ws).expires_never();  // the websocket's own timeouts take over
    websocket::stream_base::timeout t{};
    t.handshake_timeout = opt.connect_timeout;
    t.idle_timeout = opt.idle_timeout;
    t.keep_alive_pings = true;
    ws.set_option(t);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "tributary"); }));
    ws.read_message_max(opt.max_message);
    auto res = std::make_shared<websocket::response_type>();
    std::string host = where.port == (where.tls ? "443" : "80") ? where.host : where.where();
    ws.async_handshake(*res, host, where.path, [res, done](beast::error_code ec) {
      if (ec == websocket::error::upgrade_declined)
        return done(ec, "upgrade refused with HTTP " + std::to_string(res->result_int()));
      done(ec, "upgrade");
    });
  }

  template <class WS>
  void open(WS& ws, const tcp::resolver::results_type& addrs, std::function<void(beast::error_code, std::string)> done) {
    beast::get_lowest_layer(ws).expires_after(opt.connect_timeout);
    beast::get_lowest_layer(ws).async_connect(addrs, [this, &ws, done](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return done(ec, "connect");
      if constexpr (std::is_same_v<WS, tls_ws>) {
        if (!is_ip(where.host)) SSL_set_tlsext_host_name(ws.next_layer().native_handle(), where.host.c_str());
        ws.next_layer().set_verify_callback(ssl::host_name_verification(where.host));
        ws.next_layer().async_handshake(ssl::stream_base::client, [this, &ws, done](beast::error_code ec) {
          if (ec) return done(ec, "TLS handshake");
          upgrade(ws, done);
        });
      } else {
        upgrade(ws, done);
      }
    });
  }
};

ws_upstream::ws_upstream(options opt) : p_(std::make_unique<impl>(opt)) {}
ws_upstream::~ws_upstream() = default;

std::optional<std::string> ws_upstream::connect(const std::string& url) {
  auto parsed = parse_target(url);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  p_->where = std::get<target>(parsed);
  if (p_->where.tls) p_->secure = std::make_unique<tls_ws>(p_->ioc, p_->tls);
  else p_->plain = std::make_unique<plain_ws>(p_->ioc);
  bool done = false;
  beast::error_code result;
  std::string stage;
  auto finish = [&](beast::error_code ec, std::string what) {
    result = ec;
    stage = std::move(what);
    done = true;
    p_->ioc.stop();
  };
  tcp::resolver resolver(p_->ioc);
  resolver.async_resolve(p_->where.host, p_->where.port, [&](beast::error_code ec, tcp::resolver::results_type addrs) {
    if (ec) return finish(ec, "resolve");
    p_->with([&](auto& ws) { p_->open(ws, addrs, finish); });
  });
  p_->run_until(done, p_->opt.connect_timeout + millis(1000));
  if (!done) {
    close();
    return p_->where.where() + ": no connection within " + std::to_string(p_->opt.connect_timeout.count()) + " ms";
  }
  if (result) {
    close();
    return p_->where.where() + ": " + stage + ": " + result.message();
  }
  return std::nullopt;
}

std::optional<std::string> ws_upstream::send(std::string_view text) {
  if (!p_->plain && !p_->secure) return std::string("not connected");
  bool done = false;
  beast::error_code result;
  p_->with([&](auto& ws) {
    ws.text(true);
    ws.async_write(net::buffer(text), [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
      p_->ioc.stop();
    });
  });
  p_->run_until(done, p_->opt.connect_timeout);
  if (!done) {
    close();
    return p_->where.where() + ": a frame could not be sent within " + std::to_string(p_->opt.connect_timeout.count()) + " ms";
  }
  if (result) return p_->where.where() + ": send: " + result.message();
  return std::nullopt;
}

ws_read ws_upstream::next(millis wait) {
  if (!p_->plain && !p_->secure) return {ws_read::status::closed, "not connected"};
  if (!p_->reading) {
    p_->reading = true;
    p_->with([&](auto& ws) {
      ws.async_read(p_->buf, [this](beast::error_code ec, size_t) {
        p_->read_ec = ec;
        p_->read_done = true;
        p_->ioc.stop();
      });
    });
  }
  p_->run_until(p_->read_done, wait);
  if (!p_->read_done) return {ws_read::status::idle, {}};
  p_->reading = p_->read_done = false;
  if (p_->read_ec) {
    std::string why = p_->read_ec.message();
    if (p_->read_ec == websocket::error::closed) {
      auto reason = p_->with([](auto& ws) { return ws.reason(); });
      why = "closed by the upstream (code " + std::to_string(reason.code) + (reason.reason.empty() ? "" : ", " + std::string(reason.reason.data(), reason.reason.size())) + ")";
    } else if (p_->read_ec == beast::error::timeout) {
      why = "no answer to a ping within " + std::to_string(p_->opt.idle_timeout.count()) + " ms";
    }
    return {ws_read::status::closed, p_->where.where() + ": " + why};
  }
  ws_read r{ws_read::status::message, beast::buffers_to_string(p_->buf.data())};
  p_->buf.consume(p_->buf.size());
  return r;
}

void ws_upstream::close() {
  if (!p_->plain && !p_->secure) return;
  bool open = p_->with([](auto& ws) { return ws.is_open(); });
  if (open) {
    bool done = false;
    p_->with([&](auto& ws) {
      ws.async_close(websocket::close_code::normal, [&](beast::error_code) {
        done = true;
        p_->ioc.stop();
      });
    });
    p_->run_until(done, millis(1000));
  }
  beast::error_code ec;
  p_->with([&](auto& ws) { beast::get_lowest_layer(ws).socket().close(ec); });
  p_->ioc.stop();
  p_->reading = p_->read_done = false;
}

}  // namespace tributary
