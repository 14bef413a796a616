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
#include <string>

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
};

inline http_result http_get(unsigned short port, const std::string& target) {
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  return {static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::content_type])};
}

class ws_client {
 public:
  explicit ws_client(unsigned short port, const std::string& path = "/ws") : ws_(ioc_) {
    auto& sock = beast::get_lowest_layer(ws_);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    // Synchronous Beast calls ignore expires_after: a kernel receive timeout keeps a broken
    // server from hanging the test (the read then fails and the test reports it).
    timeval tv{10, 0};
    ::setsockopt(sock.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.handshake("127.0.0.1:" + std::to_string(port), path);
  }
  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(net::buffer(text));
  }
  void send_binary(const std::string& data) {
    ws_.binary(true);
    ws_.write(net::buffer(data));
  }
  // Next text message as JSON; throws on close or after 10 s.
  nlohmann::json read() {
    beast::flat_buffer buf;
    ws_.read(buf);
    return nlohmann::json::parse(beast::buffers_to_string(buf.data()));
  }
  // Reads until the server closes; returns the close code (0 if the read failed otherwise).
  int read_until_close() {
    try {
      for (;;) {
        beast::flat_buffer buf;
        ws_.read(buf);
      }
    } catch (const beast::system_error& e) {
      if (e.code() == websocket::error::closed) return ws_.reason().code;
      return 0;
    }
  }
  websocket::stream<beast::tcp_stream>& raw() { return ws_; }

 private:
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
};

}  // namespace tributary::test_support
