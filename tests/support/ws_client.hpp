#pragma once
// A small synchronous HTTP and WebSocket client for tests, over real sockets (Beast).
// Include from one test translation unit per binary: it pulls in Beast.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <map>
#include <string>
#include <thread>

namespace tributary::test_support {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct http_result {
  int status = 0;
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;  // by lower-case name
};

// Any method, with an optional bearer token.
inline http_result http_call(unsigned short port, http::verb verb, const std::string& target, const std::string& bearer = {},
                             const std::string& scheme = "Bearer") {
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, scheme + " " + bearer);
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  http_result out{static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::content_type]), {}};
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

inline http_result http_get(unsigned short port, const std::string& target, const std::string& bearer = {},
                            const std::string& scheme = "Bearer") {
  return http_call(port, http::verb::get, target, bearer, scheme);
}

class ws_client {
 public:
  // A read waiting longer than `read_limit` fails (the watchdog below).
  // `bearer`: sent as `Authorization: Bearer <bearer>` on the upgrade request.
  explicit ws_client(unsigned short port, const std::string& path = "/ws",
                     std::chrono::seconds read_limit = std::chrono::seconds(10), const std::string& bearer = {})
      : ws_(ioc_), read_limit_(read_limit) {
    auto& sock = beast::get_lowest_layer(ws_);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    if (!bearer.empty())
      ws_.set_option(websocket::stream_base::decorator(
          [bearer](websocket::request_type& req) { req.set(http::field::authorization, "Bearer " + bearer); }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), path);
    // Synchronous Beast calls ignore expires_after, and Asio waits out a kernel receive
    // timeout: a watchdog cuts the socket under a read that has waited `read_limit`, so a broken
    // server fails the test (the read throws) instead of hanging it.
    watchdog_ = std::thread([this] {
      std::unique_lock lk(mu_);
      while (!done_) {
        cv_.wait_for(lk, std::chrono::milliseconds(100));
        if (reading_since_ && std::chrono::steady_clock::now() - *reading_since_ > read_limit_)
          ::shutdown(beast::get_lowest_layer(ws_).socket().native_handle(), SHUT_RDWR);
      }
    });
  }
  ~ws_client() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }
  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(net::buffer(text));
  }
  void send_binary(const std::string& data) {
    ws_.binary(true);
    ws_.write(net::buffer(data));
  }
  // Next text message as it came; throws on close or after 10 s.
  std::string read_text() {
    beast::flat_buffer buf;
    guarded([&] { ws_.read(buf); });
    return beast::buffers_to_string(buf.data());
  }
  // Next text message as JSON; throws on close or after 10 s.
  nlohmann::json read() {
    beast::flat_buffer buf;
    guarded([&] { ws_.read(buf); });
    return nlohmann::json::parse(beast::buffers_to_string(buf.data()));
  }
  // Reads until the server closes; returns the close code (0 if the read failed otherwise).
  int read_until_close() {
    try {
      for (;;) {
        beast::flat_buffer buf;
        guarded([&] { ws_.read(buf); });
      }
    } catch (const beast::system_error& e) {
      if (e.code() == websocket::error::closed) return ws_.reason().code;
      return 0;
    }
  }
  websocket::stream<beast::tcp_stream>& raw() { return ws_; }

 private:
  template <class F>
  void guarded(F&& f) {
    {
      std::lock_guard lk(mu_);
      reading_since_ = std::chrono::steady_clock::now();
    }
    struct reset {
      ws_client* c;
      ~reset() {
        std::lock_guard lk(c->mu_);
        c->reading_since_.reset();
      }
    } r{this};
    f();
  }

  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  std::chrono::seconds read_limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> reading_since_;
  bool done_ = false;
  std::thread watchdog_;
};

}  // namespace tributary::test_support
