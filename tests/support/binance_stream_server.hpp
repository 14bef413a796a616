#pragma once
// A local WebSocket server speaking Binance's market-stream protocol, for tests and benches:
//   /ws/<stream>              a raw stream: events as they are
//   /ws                       raw, nothing until {"method":"SUBSCRIBE","params":[...],"id":N}
//   /stream?streams=<a>/<b>   combined: events wrapped as {"stream":"<a>","data":{...}}
// SUBSCRIBE / UNSUBSCRIBE are answered {"result":null,"id":N} on either path. Every `tick`
// it sends a 24hrTicker event for each subscribed <symbol>@ticker (`per_tick` of them), pings
// every `ping_every`, counts the pongs, and drop_all() cuts every connection, as Binance does
// at a connection's 24 h mark. refuse(true) cuts them and answers new upgrades 503 until
// refuse(false). A plain GET (no upgrade) of /api/v3/ticker/24hr gets a REST ticker list for
// BTCUSDT and ETHUSDT with lastPrice "500.0", so a polled fallback can use the same server.
// One I/O thread.
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace tributary::test_support {

struct binance_stream_options {
  std::chrono::milliseconds tick{50};
  int per_tick = 1;  // events per subscribed stream per tick
  std::chrono::milliseconds ping_every{0};  // 0: no pings
  double rate = 0;  // > 0: this many events a second over all subscribed streams, round robin, instead of per_tick
};

class binance_stream_server {
 public:
  using options = binance_stream_options;

  explicit binance_stream_server(options o) : opt_(o), acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    rate_ = o.rate;
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~binance_stream_server() {
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  size_t connections() const { return connections_; }
  size_t pongs() const { return pongs_; }
  size_t subscribe_requests() const { return subscribes_; }
  size_t events_sent() const { return events_; }
  std::vector<std::string> targets() const {
    std::lock_guard lk(mu_);
    return targets_;
  }
  void set_rate(double r) { rate_ = r; }
  void refuse(bool on) {
    refusing_ = on;
    if (on) drop_all();
  }
  size_t http_gets() const { return gets_; }
  void drop_all() {
    boost::asio::post(ioc_, [this] {
      for (auto& w : sessions_)
        if (auto s = w.lock()) s->cut();
    });
  }

 private:
  using tcp = boost::asio::ip::tcp;
  using ws_stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;

  struct session : std::enable_shared_from_this<session> {
    binance_stream_server& srv;
    ws_stream ws;
    boost::beast::flat_buffer buf;
    boost::beast::http::request<boost::beast::http::string_body> req;
    std::set<std::string> streams;
    bool combined = false, writing = false, dead = false;
    std::deque<std::string> out;
    boost::asio::steady_timer tick, ping;
    uint64_t n = 0;
    double carry = 0;  // events due but not yet sent (rate mode)
    size_t next_stream = 0;

    session(binance_stream_server& s, tcp::socket sock) : srv(s), ws(std::move(sock)), tick(s.ioc_), ping(s.ioc_) {}

    void start() {
      boost::beast::http::async_read(ws.next_layer(), buf, req, [self = shared_from_this()](auto ec, size_t) {
        if (!ec) self->upgrade();
      });
    }
    void answer(boost::beast::http::status st, std::string body) {
      auto res = std::make_shared<boost::beast::http::response<boost::beast::http::string_body>>(st, 11);
      res->set(boost::beast::http::field::content_type, "application/json");
      res->body() = std::move(body);
      res->prepare_payload();
      res->keep_alive(false);
      boost::beast::http::async_write(ws.next_layer(), *res, [self = shared_from_this(), res](auto, size_t) { self->cut(); });
    }
    void rest() {
      srv.gets_++;
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      nlohmann::json list = nlohmann::json::array();
      for (const char* sym : {"BTCUSDT", "ETHUSDT"})
        list.push_back({{"symbol", sym}, {"lastPrice", "500.0"}, {"priceChangePercent", "0.5"}, {"closeTime", now}});
      answer(boost::beast::http::status::ok, list.dump());
    }
    void upgrade() {
      if (!boost::beast::websocket::is_upgrade(req)) return rest();
      if (srv.refusing_) return answer(boost::beast::http::status::service_unavailable, R"({"msg":"refusing"})");
      std::string target(req.target());
      {
        std::lock_guard lk(srv.mu_);
        srv.targets_.push_back(target);
      }
      if (target.rfind("/stream", 0) == 0) {
        combined = true;
        auto q = target.find("streams=");
        std::string list = q == std::string::npos ? "" : target.substr(q + 8);
        for (size_t i = 0; i < list.size();) {
          size_t j = list.find('/', i);
          if (j == std::string::npos) j = list.size();
          if (j > i) streams.insert(list.substr(i, j - i));
          i = j + 1;
        }
      } else if (target.rfind("/ws/", 0) == 0 && target.size() > 4) {
        streams.insert(target.substr(4));
      }
      ws.control_callback([this](boost::beast::websocket::frame_type k, boost::beast::string_view) {
        if (k == boost::beast::websocket::frame_type::pong) srv.pongs_++;
      });
      ws.async_accept(req, [self = shared_from_this()](auto ec) {
        if (ec) return;
        self->srv.connections_++;
        self->read();
        self->schedule_tick();
        self->schedule_ping();
      });
    }
    void read() {
      buf.consume(buf.size());
      ws.async_read(buf, [self = shared_from_this()](auto ec, size_t) {
        if (ec) return self->cut();
        self->on_text(boost::beast::buffers_to_string(self->buf.data()));
        self->read();
      });
    }
    void on_text(const std::string& text) {
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_object() || !j.contains("method")) return send(R"({"code":2,"msg":"Invalid request"})");
      auto id = j.value("id", nlohmann::json());
      std::string method = j.value("method", "");
      if (method == "SUBSCRIBE" || method == "UNSUBSCRIBE") {
        srv.subscribes_++;
        for (auto& p : j.value("params", nlohmann::json::array()))
          if (p.is_string()) method == "SUBSCRIBE" ? (void)streams.insert(p.get<std::string>()) : (void)streams.erase(p.get<std::string>());
      }
      send(nlohmann::json{{"result", nullptr}, {"id", id}}.dump());
    }
    void schedule_tick() {
      tick.expires_after(srv.opt_.tick);
      tick.async_wait([self = shared_from_this()](auto ec) {
        if (ec || self->dead) return;
        self->emit();
        self->schedule_tick();
      });
    }
    void schedule_ping() {
      if (srv.opt_.ping_every.count() == 0) return;
      ping.expires_after(srv.opt_.ping_every);
      ping.async_wait([self = shared_from_this()](auto ec) {
        if (ec || self->dead) return;
        self->ws.async_ping({}, [](auto) {});
        self->schedule_ping();
      });
    }
    void emit() {
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      std::vector<std::string> tickers;
      for (auto& s : streams)
        if (s.find("@ticker") != std::string::npos) tickers.push_back(s);
      if (tickers.empty()) return;
      double rate = srv.rate_;
      if (rate <= 0) {
        for (auto& s : tickers)
          for (int i = 0; i < srv.opt_.per_tick; ++i) event(s, now);
        return;
      }
      carry += rate * static_cast<double>(srv.opt_.tick.count()) / 1000.0;
      for (; carry >= 1; carry -= 1) event(tickers[next_stream++ % tickers.size()], now);
    }
    void event(const std::string& s, int64_t now) {
      std::string sym = s.substr(0, s.find("@ticker"));
      for (auto& c : sym) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ++n;
      std::string price = std::to_string(1000 + n % 100000) + ".5";
      std::string ev = R"({"e":"24hrTicker","E":)" + std::to_string(now) + R"(,"s":")" + sym + R"(","p":"12.5","P":"1.25","w":"1000.0","x":"999.0","c":")" +
                       price + R"(","Q":"0.1","b":")" + price + R"(","B":"1.0","a":")" + price + R"(","A":"1.0","o":"990.0","h":"1100.0","l":"950.0","v":"1234.5","q":"1234567.8","O":0,"C":)" +
                       std::to_string(now) + R"(,"F":1,"L":)" + std::to_string(n) + R"(,"n":)" + std::to_string(n) + "}";
      send(combined ? R"({"stream":")" + s + R"(","data":)" + ev + "}" : ev);
      srv.events_++;
    }
    void send(std::string text) {
      if (dead) return;
      out.push_back(std::move(text));
      if (!writing) write();
    }
    void write() {
      writing = true;
      ws.text(true);
      ws.async_write(boost::asio::buffer(out.front()), [self = shared_from_this()](auto ec, size_t) {
        self->writing = false;
        if (ec) return self->cut();
        self->out.pop_front();
        if (!self->out.empty()) self->write();
      });
    }
    void cut() {
      if (dead) return;
      dead = true;
      tick.cancel();
      ping.cancel();
      boost::beast::error_code ec;
      boost::beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
      boost::beast::get_lowest_layer(ws).socket().close(ec);
    }
  };

  void accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec, tcp::socket sock) {
      if (ec) return;
      auto s = std::make_shared<session>(*this, std::move(sock));
      sessions_.push_back(s);
      s->start();
      accept();
    });
  }

  options opt_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<session>> sessions_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> targets_;
  std::atomic<size_t> connections_{0}, pongs_{0}, subscribes_{0}, events_{0}, gets_{0};
  std::atomic<bool> refusing_{false};
  std::atomic<double> rate_{0};
};

}  // namespace tributary::test_support
