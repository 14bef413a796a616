// The host's WebSocket client against a local Binance-style server: messages, sends, the
// upstream closing, and errors that say what failed without the URL's query.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../../tests/support/binance_stream_server.hpp"
#include "ingest/upstreams/ws_upstream.hpp"

using namespace tributary;
using test_support::binance_stream_server;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {
ws_upstream::options quick() {
  ws_upstream::options o;
  o.connect_timeout = millis(2000);
  return o;
}
}  // namespace

TEST(WsUpstream, ReadsMessagesSendsFramesAndReportsTheUpstreamClosing) {
  binance_stream_server srv({millis(20), 1, millis(0)});
  ws_upstream ws(quick());
  ASSERT_EQ(ws.connect("ws://127.0.0.1:" + std::to_string(srv.port()) + "/ws"), std::nullopt);
  EXPECT_EQ(ws.next(millis(100)).st, ws_read::status::idle);  // nothing subscribed yet
  ASSERT_EQ(ws.send(R"({"method":"SUBSCRIBE","params":["btcusdt@ticker"],"id":7})"), std::nullopt);
  auto answer = ws.next(millis(2000));
  ASSERT_EQ(answer.st, ws_read::status::message);
  EXPECT_EQ(answer.text, R"({"id":7,"result":null})");
  auto tick = ws.next(millis(2000));
  ASSERT_EQ(tick.st, ws_read::status::message);
  EXPECT_THAT(tick.text, HasSubstr(R"("e":"24hrTicker")"));
  srv.drop_all();
  ws_read r;
  for (int i = 0; i < 100 && r.st != ws_read::status::closed; ++i) r = ws.next(millis(100));
  EXPECT_EQ(r.st, ws_read::status::closed);
  EXPECT_THAT(r.text, HasSubstr("127.0.0.1:" + std::to_string(srv.port())));
}

TEST(WsUpstream, ErrorsNameWhatFailedButNeverTheQuery) {
  binance_stream_server srv({millis(50), 1, millis(0)});
  std::string port = std::to_string(srv.port());
  auto fails = [](const std::string& url) {
    ws_upstream ws(quick());
    auto e = ws.connect(url);
    return e.value_or("connected");
  };
  EXPECT_THAT(fails("http://127.0.0.1:" + port + "/"), HasSubstr("not ws or wss"));
  EXPECT_THAT(fails("ws:///nohost"), HasSubstr("no host"));
  EXPECT_THAT(fails("not a url at all"), HasSubstr("not a URL"));
  // wss to a server that does not speak TLS: the TLS handshake fails, and says so.
  EXPECT_THAT(fails("wss://127.0.0.1:" + port + "/ws?token=SECRET"), AllOf(HasSubstr("TLS handshake"), Not(HasSubstr("SECRET"))));
  srv.refuse(true);
  EXPECT_THAT(fails("ws://127.0.0.1:" + port + "/ws?token=SECRET"), AllOf(HasSubstr("upgrade refused with HTTP 503"), Not(HasSubstr("SECRET"))));
  EXPECT_THAT(fails("ws://127.0.0.1:1/ws?token=SECRET"), AllOf(HasSubstr("connect"), Not(HasSubstr("SECRET"))));
}

// ---- wss: a self-signed certificate for "localhost", made here, and a one-shot TLS server.

#include <cstdlib>
#include <fstream>

#include <boost/beast/ssl.hpp>

#include "../../../tests/support/self_signed_cert.hpp"
#include "../../../tests/support/temp_dir.hpp"

namespace {

using test_support::make_localhost_cert;
using test_support::self_signed;

// Accepts one wss connection on 127.0.0.1, sends `greeting`, then waits for the close.
class one_shot_tls_server {
 public:
  one_shot_tls_server(const self_signed& cert, std::string greeting) : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain(boost::asio::buffer(cert.cert_pem));
    tls_.use_private_key(boost::asio::buffer(cert.key_pem), boost::asio::ssl::context::pem);
    thread_ = std::thread([this, greeting = std::move(greeting)] {
      boost::beast::error_code ec;
      auto sock = acceptor_.accept(ec);
      if (ec) return;
      boost::beast::websocket::stream<boost::beast::ssl_stream<boost::asio::ip::tcp::socket>> ws(std::move(sock), tls_);
      ws.next_layer().handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) return;
      ws.accept(ec);
      if (ec) return;
      ws.write(boost::asio::buffer(greeting), ec);
      boost::beast::flat_buffer b;
      ws.read(b, ec);  // until the client closes
    });
  }
  ~one_shot_tls_server() {
    boost::beast::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

TEST(WsUpstream, WssVerifiesThePeerAgainstTheTrustedCertificatesAndItsName) {
  auto cert = make_localhost_cert();
  test_support::temp_dir d;
  auto ca = d.write("ca.pem", cert.cert_pem);
  {
    // Not trusted: the system's store does not know this certificate.
    ::setenv("SSL_CERT_FILE", (d.path() / "none.pem").c_str(), 1);
    one_shot_tls_server srv(cert, "hello");
    ws_upstream ws(quick());
    auto e = ws.connect("wss://localhost:" + std::to_string(srv.port()) + "/ws");
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(*e, HasSubstr("TLS handshake"));
    EXPECT_THAT(*e, HasSubstr("certificate verify failed"));
  }
  ::setenv("SSL_CERT_FILE", ca.c_str(), 1);
  {
    // Trusted, but reached under another name than the certificate's: refused.
    one_shot_tls_server srv(cert, "hello");
    ws_upstream ws(quick());
    auto e = ws.connect("wss://127.0.0.1:" + std::to_string(srv.port()) + "/ws");
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(*e, HasSubstr("TLS handshake"));
  }
  {
    one_shot_tls_server srv(cert, "hello over TLS");
    ws_upstream ws(quick());
    ASSERT_EQ(ws.connect("wss://localhost:" + std::to_string(srv.port()) + "/ws"), std::nullopt);
    auto m = ws.next(millis(2000));
    ASSERT_EQ(m.st, ws_read::status::message);
    EXPECT_EQ(m.text, "hello over TLS");
    ws.close();
  }
  ::unsetenv("SSL_CERT_FILE");
}
