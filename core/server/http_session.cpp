// HTTP API: /health, /ready, /api/v1/status, /api/v1/topics, /api/v1/latest/{topic}, /metrics,
// and the upgrade to the WebSocket endpoint.
#include <optional>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "auth/bearer.hpp"
#include "record/record_bytes.hpp"
#include "server/assets.hpp"
#include "server/control_path.hpp"
#include "server/history_route.hpp"
#include "server/request_target.hpp"
#include "server/io_shard.hpp"
#include "server/sse_session.hpp"
#include "server/view_refresh.hpp"
#include "server/server_state.hpp"
#include "publish/cache.hpp"
#include "obs/metrics.hpp"
#include "util/clock.hpp"
#include "wire/ws_deflate.hpp"
#include "wire/ws_frame.hpp"

namespace tributary {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using response = http::response<http::string_body>;

// Client bytes (paths, topics) may be any bytes: never let serialization throw on them.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string error_body(const std::string& code, const std::string& message) {
  return dump(json{{"error", {{"code", code}, {"message", message}}}});
}

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(server::state& st, io_shard& shard, tcp::socket&& socket)
      : st_(st), shard_(shard), stream_(std::move(socket)), peer_(remote_ip()), slot_(std::make_unique<connection_slot>(st, peer_)) {}

  void run() { do_read(); }

 private:
  std::string remote_ip() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    return ec ? std::string("unknown") : ep.address().to_string();
  }

 public:

 private:
  void do_read() {
    cfg_ = st_.settings();  // each request is served under the settings of its time
    parser_.emplace();
    parser_->body_limit(64 * 1024);
    parser_->header_limit(16 * 1024);
    // Idle or trickling connections are cut: they must not hold a descriptor for long.
    stream_.expires_after(cfg_->opts.request_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return close();
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit)
        return send(make(http::status::payload_too_large, error_body("too_large", "request too large"), false));
      if (ec.category() == beast::error_code(http::error::bad_target).category())  // a malformed request
        return send(make(http::status::bad_request, error_body("bad_request", "malformed HTTP request: " + ec.message()), false));
      return;  // timeouts and resets: nothing to answer
    }
    auto req = parser_->release();
    origin_ = std::string(req[http::field::origin]);
    // Behind a trusted proxy the client is who its headers name: it is the one counted per IP.
    if (!cfg_->opts.trusted_proxies.empty())
      if (auto client = client_address(cfg_->opts.trusted_proxies, peer_, req["X-Forwarded-For"], req[http::field::forwarded]);
          client != slot_->ip)
        slot_ = std::make_unique<connection_slot>(st_, client);
    if (slot_->over_ip_limit) {
      st_.refused_per_ip++;
      return send(make(http::status::service_unavailable,
                       error_body("too_many_connections", "too many connections from " + slot_->ip + " (connections_per_ip)"),
                       false));
    }
    if (beast::websocket::is_upgrade(req)) return upgrade(req);
    if (req.method() == http::verb::get && req.target().starts_with("/sse") &&
        (req.target().size() == 4 || req.target()[4] == '?'))
      return stream_events(req);
    if (auto* v = refresh_target(req)) return refresh(req, *v);
    auto res = route(req);
    if (req.method() == http::verb::head) {  // the GET answer's headers alone
      auto n = res.body().size();
      res.body().clear();
      res.content_length(n);
    }
    send(std::move(res));
  }

  // The client protocol served at `path`, if any (a dialect: with its index).
  std::optional<session_wire> protocol_at(std::string_view path) const {
    const auto& o = cfg_->opts;
    if (path == o.ws_path && o.tributary_protocol) return session_wire{client_protocol::websocket, 0};
    if (path == "/connection/websocket" && o.centrifugo_protocol) return session_wire{client_protocol::centrifugo, 0};
    for (size_t i = 0; i < o.dialects.size(); ++i)
      if (path == o.dialects[i]->path) return session_wire{client_protocol::dialect, i};
    return std::nullopt;
  }

  // A client that sends no Origin (a back-end worker, a script) is not a browser page another
  // site opened: let in unless require_origin says otherwise.
  bool origin_allowed() const {
    const auto& allowed = cfg_->opts.allowed_origins;
    if (allowed.empty()) return true;
    if (origin_.empty()) return !cfg_->opts.require_origin;
    return std::find(allowed.begin(), allowed.end(), origin_) != allowed.end();
  }

  void upgrade(const http::request<http::string_body>& req) {
    auto target = parse_request_target(req.target());
    if (!target) return send(make(http::status::bad_request, error_body("bad_request", "malformed request target"), false));
    if (!origin_allowed())
      return send(make(http::status::forbidden,
                       error_body("forbidden", origin_.empty() ? std::string("an Origin header is required (require_origin)")
                                                               : "origin '" + origin_ + "' is not in allowed_origins"),
                       false));
    auto protocol = protocol_at(target->path);
    if (!protocol)
      return send(make(http::status::not_found, error_body("not_found", "no WebSocket endpoint at " + target->path), false));
    if (req[http::field::sec_websocket_version] != "13") {
      auto r = make(http::status::upgrade_required, error_body("bad_request", "only WebSocket version 13 is served"), false);
      r.set(http::field::sec_websocket_version, "13");
      return send(std::move(r));
    }
    auto key = req[http::field::sec_websocket_key];
    if (!ws::valid_client_key(key))
      return send(make(http::status::bad_request, error_body("bad_request", "missing or malformed Sec-WebSocket-Key"), false));
    if (st_.ws_sessions.fetch_add(1) >= cfg_->opts.max_connections) {
      st_.ws_sessions--;
      return send(make(http::status::service_unavailable,
                       error_body("too_many_connections", "the server is at max_connections"), false));
    }
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, 11);
    res->set(http::field::server, "tributary/" + cfg_->opts.version);
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, ws::accept_key(key));
    // Centrifugo's clients send their token in the connect command.
    std::string token = cfg_->opts.auth && protocol->kind != client_protocol::centrifugo ? token_of(req, *target) : std::string();
    counted_session counted;
    if (!token.empty() && cfg_->opts.connections_per_user) {  // over the user's limit: refused before the 101
      auto v = cfg_->verifier->verify(token, system_clock_source{}.now_ms());
      counted.key = std::to_string(st_.next_session.load()) + "-" + std::to_string(shard_.random64());
      if (v.who && !shard_.limits().open(v.who->segment, counted.key)) {
        st_.ws_sessions--;
        return send(make(http::status::service_unavailable,
                         error_body("too_many_connections", "this user has connections_per_user sessions open already"), false));
      }
      if (v.who) counted.user = v.who->segment;
    }
    auto deflate = cfg_->opts.compression
                       ? ws::negotiate_deflate(req[http::field::sec_websocket_extensions], cfg_->opts.compression_context_takeover)
                       : std::nullopt;
    if (deflate) res->set(http::field::sec_websocket_extensions, deflate->answer);
    http::async_write(stream_, *res, [self = shared_from_this(), res, token = std::move(token), deflate = std::move(deflate),
                                      counted = std::move(counted), protocol = *protocol](beast::error_code ec, size_t) mutable {
      if (ec) {
        self->st_.ws_sessions--;
        if (!counted.user.empty()) self->shard_.limits().close(counted.user, counted.key);
        return;
      }
      self->stream_.expires_never();
      auto early = beast::buffers_to_string(self->buffer_.data());  // frames sent right behind the request
      start_ws_connection(self->shard_, self->stream_.release_socket(), std::move(early), std::move(token), std::move(self->slot_), deflate,
                          std::move(counted), protocol);
    });
  }

  // GET /sse: checked like a subscribe, then the socket becomes an event stream.
  void stream_events(const http::request<http::string_body>& req) {
    auto target = parse_request_target(req.target());
    bool ka = req.keep_alive();
    if (!target) return send(counted("/sse", make(http::status::bad_request, error_body("bad_request", "malformed request target"), ka)));
    if (!origin_allowed())
      return send(counted("/sse", make(http::status::forbidden, error_body("forbidden", "origin '" + origin_ + "' is not in allowed_origins"), ka)));
    std::string last_id(req["Last-Event-ID"]);
    std::string token = cfg_->opts.auth ? token_of(req, *target) : std::string();
    sse_request r{target->topics, token, last_id.empty() ? std::string_view(target->last_event_id) : std::string_view(last_id),
                  system_clock_source{}.now_ms()};
    auto checked = check_sse_request(*cfg_, r);
    if (auto* no = std::get_if<sse_refusal>(&checked))
      return send(counted("/sse", make(static_cast<http::status>(no->status), error_body(no->code, no->message), ka)));
    if (st_.ws_sessions.fetch_add(1) >= cfg_->opts.max_connections) {
      st_.ws_sessions--;
      return send(counted("/sse", make(http::status::service_unavailable, error_body("too_many_connections", "the server is at max_connections"), false)));
    }
    counted("/sse", make(http::status::ok, "", false));
    std::string head = "HTTP/1.1 200 OK\r\nServer: tributary/" + cfg_->opts.version +
                       "\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\n";
    if (!origin_.empty() && !cfg_->opts.allowed_origins.empty()) head += "Access-Control-Allow-Origin: " + origin_ + "\r\nVary: Origin\r\n";
    head += "\r\nretry: 2000\n\n";
    stream_.expires_never();
    start_sse_session(shard_, stream_.release_socket(), std::move(slot_), std::move(std::get<sse_start>(checked)), std::move(head));
  }

  response make(http::status status, std::string body, bool keep_alive,
                const char* type = "application/json") {
    response res{status, 11};
    res.set(http::field::server, "tributary/" + cfg_->opts.version);
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    if (!origin_.empty() && !cfg_->opts.allowed_origins.empty() && origin_allowed()) {  // CORS for listed origins
      res.set(http::field::access_control_allow_origin, origin_);
      res.set(http::field::vary, "Origin");
    }
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  // A client's token: `Authorization: Bearer <token>` or `?token=`.
  static std::string token_of(const http::request<http::string_body>& req, const request_target& target) {
    if (auto t = bearer_token(req[http::field::authorization])) return std::string(*t);
    return target.token;
  }

  response counted(const char* route, response r) {
    st_.m.add("tributary_http_requests_total", {{"route", route}, {"code", std::to_string(r.result_int())}});
    return r;
  }

  response route(const http::request<http::string_body>& req) {
    bool ka = req.keep_alive();
    auto target = parse_request_target(req.target());
    if (!target) return counted("other", make(http::status::bad_request, error_body("bad_request", "malformed request target"), ka));
    const std::string& path = target->path;
    if (req.method() == http::verb::post && (path.rfind("/api/v1/feeds/", 0) == 0 || path.rfind("/api/v1/sources/", 0) == 0))
      return counted("/api/v1/control", control_route(req, path, ka));
    if (req.method() == http::verb::options) {  // a CORS preflight
      auto r = make(http::status::no_content, "", ka);
      if (origin_allowed() && !cfg_->opts.allowed_origins.empty()) {
        r.set(http::field::access_control_allow_methods, "GET, POST");
        r.set(http::field::access_control_allow_headers, "Authorization");
        r.set(http::field::access_control_max_age, "600");
      }
      return counted("options", std::move(r));
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto r = make(http::status::method_not_allowed, error_body("method_not_allowed", "only GET and HEAD are served here"), ka);
      r.set(http::field::allow, "GET, HEAD");
      return counted("other", std::move(r));
    }
    if (path == cfg_->opts.ws_path) {
      auto r = make(http::status::upgrade_required, error_body("upgrade_required", "this is the WebSocket endpoint: send an upgrade request"), ka);
      r.set(http::field::upgrade, "websocket");
      return counted("/ws", std::move(r));
    }
    if (path == "/health") return counted("/health", make(http::status::ok, R"({"status":"ok"})", ka));
    if (path == "/ready") {
      auto [ok, reason] = st_.hooks.ready ? st_.hooks.ready() : std::make_pair(true, std::string());
      return counted("/ready", make(ok ? http::status::ok : http::status::service_unavailable,
                                  dump(json{{"status", ok ? "ready" : "not_ready"}, {"reason", reason}}), ka));
    }
    if ((path == "/api/v1/status" || path == "/metrics" || path == "/api/v1/subscriptions") && !cfg_->opts.admin_token.empty() &&
        !is_admin(req))
      return counted(path == "/metrics" ? "/metrics" : path == "/api/v1/status" ? "/api/v1/status" : "/api/v1/subscriptions",
                     unauthorized(ka));
    if (path == "/api/v1/status") return counted("/api/v1/status", make(http::status::ok, st_.hooks.status_json(), ka));
    if (path == "/api/v1/subscriptions") {
      auto j = st_.subscriptions.to_json();
      j["sessions"] = st_.ws_sessions.load();
      return counted("/api/v1/subscriptions", make(http::status::ok, dump(j), ka));
    }
    if (path == "/metrics")
      return counted("/metrics", make(http::status::ok, st_.hooks.metrics_text(), ka, "text/plain; version=0.0.4; charset=utf-8"));
    if (path.rfind("/api/v1/", 0) == 0 || is_view_route(path)) return topic_route(req, *target, ka);
    if (auto asset = find_asset(path); asset && (cfg_->opts.dashboard || path == "/tributary.js"))
      return counted("asset", make(http::status::ok, std::string(asset->body), ka, asset->type));
    return counted("other", make(http::status::not_found, error_body("not_found", "no route for " + path), ka));
  }

  bool is_view_route(const std::string& path) const {
    auto& v = cfg_->opts.view_routes;
    return std::any_of(v.begin(), v.end(), [&](auto& r) { return r.route == path; });
  }

  // Routes that answer with topic data: with auth on, the caller's token decides what it sees.
  response topic_route(const http::request<http::string_body>& req, const request_target& target, bool ka) {
    const std::string& path = target.path;
    grant g{&cfg_->policy, {}, {}};
    if (cfg_->opts.auth) {
      if (auto tok = token_of(req, target); !tok.empty()) {
        auto v = cfg_->verifier->verify(tok, system_clock_source{}.now_ms());
        if (!v.who) return counted("unauthorized", make(http::status::unauthorized, error_body("unauthorized", v.error), ka));
        g.user = v.who->segment;
        g.channels = std::move(v.who->channels);
      }
    }
    if (path == "/api/v1/topics") {
      json topics = json::array();
      for (auto& r : st_.cache.all())
        if (may_see(g, r->topic))
          topics.push_back({{"topic", r->topic}, {"seq", r->rec.seq}, {"ts", r->rec.ts}, {"received", r->rec.received},
                          {"source", r->rec.source}, {"stale", r->rec.stale}});
      return counted("/api/v1/topics", make(http::status::ok, dump(json{{"topics", topics}}), ka));
    }
    static const std::string latest = "/api/v1/latest/";
    if (path.rfind(latest, 0) == 0) {
      std::string topic = path.substr(latest.size());
      if (!may_see(g, topic))
        return counted("/api/v1/latest", make(http::status::forbidden, error_body("forbidden", "not allowed to read '" + topic + "'"), ka));
      if (auto r = st_.cache.latest(topic)) return counted("/api/v1/latest", make(http::status::ok, r->json, ka));
      return counted("/api/v1/latest", make(http::status::not_found, error_body("not_found", "unknown topic '" + topic + "'"), ka));
    }
    static const std::string history = "/api/v1/history/";
    if (path.rfind(history, 0) == 0) {
      auto a = history_of(std::string_view(path).substr(history.size()), target, g, st_.hub, st_.cache);
      auto body = a.status == 200 ? std::move(a.body) : error_body(a.code, a.body);
      return counted("/api/v1/history", make(static_cast<http::status>(a.status), std::move(body), ka));
    }
    for (auto& v : cfg_->opts.view_routes) {
      if (v.route != path) continue;
      const auto& topic = v.topic;
      if (!may_see(g, topic))
        return counted("view", make(http::status::forbidden, error_body("forbidden", "not allowed to read '" + topic + "'"), ka));
      return counted("view", view_object(topic, ka));
    }
    return counted("other", make(http::status::not_found, error_body("not_found", "no route for " + path), ka));
  }

  // A view's bare object, or 404 until it has one.
  response view_object(const std::string& topic, bool ka) {
    if (auto r = st_.cache.latest(topic))
      return make(http::status::ok, dump(r->rec.data.is_null() ? read_record_data(r->json) : r->rec.data), ka);
    return make(http::status::not_found, error_body("not_found", "view '" + topic + "' has no value yet"), ka);
  }

  // The view whose `refresh` this request is (POST <route>/refresh), or nullptr.
  const view_route* refresh_target(const http::request<http::string_body>& req) const {
    if (req.method() != http::verb::post) return nullptr;
    auto target = parse_request_target(req.target());
    if (!target) return nullptr;
    for (const auto& v : cfg_->opts.view_routes)
      if (v.refresh && target->path == v.route + "/refresh") return &v;
    return nullptr;
  }

  // Runs the view's feeds and answers with its object once every input is newer, or after
  // refresh_wait (X-Tributary-Refreshed says which). Who may read the view may refresh it;
  // with refresh_auth, only the admin token.
  void refresh(const http::request<http::string_body>& req, const view_route& v) {
    bool ka = req.keep_alive();
    bool admin = !cfg_->opts.admin_token.empty() && is_admin(req);
    if (v.refresh_auth && !admin) return send(counted("view_refresh", unauthorized(ka)));
    if (!admin && !may_see(grant{&cfg_->policy, {}, {}}, v.topic))
      return send(counted("view_refresh", make(http::status::forbidden, error_body("forbidden", "not allowed to read '" + v.topic + "'"), ka)));
    auto cfg = cfg_;  // keeps `v` alive while the answer waits
    refresh_view(stream_.get_executor(), st_, v, cfg->opts.refresh_wait, [self = shared_from_this(), cfg, &v, ka](bool fresh) {
      auto res = self->view_object(v.topic, ka);
      res.set("X-Tributary-Refreshed", fresh ? "true" : "false");
      self->send(self->counted("view_refresh", std::move(res)));
    });
  }

  bool is_admin(const http::request<http::string_body>& req) const {
    auto given = bearer_token(req[http::field::authorization]);
    if (!given || given->size() != cfg_->opts.admin_token.size()) return false;
    return CRYPTO_memcmp(given->data(), cfg_->opts.admin_token.data(), given->size()) == 0;  // constant time
  }

  response unauthorized(bool ka) {
    auto r = make(http::status::unauthorized, error_body("unauthorized", "send Authorization: Bearer <admin_token>"), ka);
    r.set(http::field::www_authenticate, "Bearer");
    return r;
  }

  // POST /api/v1/feeds/{id}/run|pause|resume, POST /api/v1/sources/{name}/reset.
  response control_route(const http::request<http::string_body>& req, const std::string& path, bool ka) {
    if (cfg_->opts.admin_token.empty())
      return make(http::status::forbidden, error_body("forbidden", "the control API needs [server.auth] admin_token"), ka);
    if (!is_admin(req)) return unauthorized(ka);
    auto parsed = parse_control_path(path);
    if (!parsed || !st_.hooks.control)
      return make(http::status::not_found, error_body("not_found", "no control action at " + path), ka);
    auto reply = st_.hooks.control(*parsed);
    if (reply.status != 200)
      return make(static_cast<http::status>(reply.status), error_body("not_found", reply.message), ka);
    return make(http::status::ok, dump(json{{"ok", true}, {"message", reply.message}}), ka);
  }

  void send(response res) {
    auto sp = std::make_shared<response>(std::move(res));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
      if (ec) return;
      if (!sp->keep_alive()) return self->close();
      self->do_read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  server::state& st_;
  std::shared_ptr<const server_settings> cfg_;  // the current request's
  io_shard& shard_;
  beast::tcp_stream stream_;
  std::string peer_;  // the remote address of the connection (a proxy's, maybe)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<connection_slot> slot_;
  std::string origin_;  // of the request being answered
};

}  // namespace

void start_http_session(server::state& st, io_shard& shard, tcp::socket socket) {
  std::make_shared<http_session>(st, shard, std::move(socket))->run();
}

}  // namespace tributary
