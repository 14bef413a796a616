// The host's WebSocket client against a local Binance-style server: messages, sends, the
// upstream closing, and errors that say what failed without the URL's query.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../../tests/support/binance_stream_server.hpp"
#include "schedule/ws_upstream.hpp"

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
