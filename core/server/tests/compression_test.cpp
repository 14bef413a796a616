// permessage-deflate over real sockets: negotiated when offered and on, each server message of
// at least compression_min_bytes compressed (RSV1) and the rest plain, one compressed frame per
// record shared by every compressing session, and sessions on the same patterns sharing a
// compression context (a deflate chain) their clients' decompressors follow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../../tests/support/context_inflater.hpp"
#include "../../../tests/support/raw_ws.hpp"
#include "../../../tests/support/running_server.hpp"
#include "wire/ws_deflate.hpp"

namespace tributary {
namespace {

using namespace test_support;
using nlohmann::json;
using ::testing::HasSubstr;

const std::string kOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

// Every frame read within `ms`, inflated where compressed, as (compressed, JSON).
std::vector<std::pair<bool, json>> read_messages(raw_socket& s, int ms) {
  std::vector<std::pair<bool, json>> out;
  for (auto& f : parse_server_frames(s.read_for(ms))) {
    if (f.op != 1) continue;
    std::string text = f.payload;
    if (f.compressed) EXPECT_EQ(ws::inflate_message(f.payload, 1 << 20, text), ws::inflate_result::ok);
    out.emplace_back(f.compressed, json::parse(text));
  }
  return out;
}

// The test's records make frames of about 230 bytes; hello and subscribed about 100.
server_options min_150() {
  server_options o;
  o.compression_min_bytes = 150;
  return o;
}

TEST(Compression, LargeMessagesGoCompressedSmallOnesPlain) {
  running_server s(min_150());
  s.publish("BTC-USDT", 1);
  raw_socket c(s.port);
  auto head = c.upgrade("/ws", kOffer);
  EXPECT_THAT(head, HasSubstr("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"));
  c.send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["price.*"]})"));
  auto first = read_messages(c, 300);
  s.publish("BTC-USDT", 2);
  auto then = read_messages(c, 300);
  first.insert(first.end(), then.begin(), then.end());
  std::map<std::string, bool> compressed;
  for (auto& [z, m] : first) compressed[m["type"]] = z;
  ASSERT_EQ(compressed.size(), 4u) << json(first.size());
  EXPECT_FALSE(compressed["hello"]);       // under 150 bytes
  EXPECT_FALSE(compressed["subscribed"]);
  EXPECT_TRUE(compressed["snapshot"]);     // a record is over it
  EXPECT_TRUE(compressed["update"]);
  for (auto& [z, m] : first)
    if (m["type"] == "update") EXPECT_EQ(m["record"]["seq"], 2);
}

TEST(Compression, OffOrNotOfferedOrUnderTheMinimumIsPlain) {
  server_options off;
  off.compression = false;
  server_options high;
  high.compression_min_bytes = 1 << 20;
  for (auto* o : {&off, &high}) {
    running_server s(*o);
    s.publish("BTC-USDT", 1);
    raw_socket c(s.port);
    auto head = c.upgrade("/ws", kOffer);
    EXPECT_EQ(head.find("Sec-WebSocket-Extensions") == std::string::npos, o == &off) << head;
    c.send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["price.*"]})"));
    auto got = read_messages(c, 300);
    ASSERT_GE(got.size(), 3u);
    for (auto& [z, m] : got) EXPECT_FALSE(z) << m;
    // Without negotiation, a compressed client frame breaks the protocol.
    if (o == &off) {
      c.send(client_frame(1, "abc", true, true, 0x40));
      EXPECT_EQ(close_code_in(c.read_for(300)), 1002);
    }
  }
  running_server plain;
  raw_socket c(plain.port);
  EXPECT_EQ(c.upgrade("/ws").find("Sec-WebSocket-Extensions"), std::string::npos);  // not offered
}

// Two compressing sessions get the very same bytes for a record: it was compressed once.
TEST(Compression, OneCompressedFramePerRecordServesEverySession) {
  running_server s(min_150());
  raw_socket a(s.port), b(s.port);
  for (auto* c : {&a, &b}) {
    c->upgrade("/ws", kOffer);
    c->send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["price.*"]})"));
    c->read_for(200);
  }
  s.publish("ETH-USDT", 3);
  auto fa = parse_server_frames(a.read_for(300)), fb = parse_server_frames(b.read_for(300));
  auto update = [](auto& frames) {
    for (auto& f : frames)
      if (f.compressed) return f.payload;
    return std::string();
  };
  ASSERT_FALSE(update(fa).empty());
  EXPECT_EQ(update(fa), update(fb));
}

// Three sessions on price.* share a chain: each record is compressed once, referring back to the
// ones before it; every client, inflating with the window it kept, reads every update in order,
// and the frames are a fraction of the self-contained ones a client that refused context
// takeover gets (each inflates on its own).
TEST(Compression, SessionsOnTheSamePatternsShareAContextTheirClientsFollow) {
  auto o = min_150();
  o.io_threads = 1;  // chains are per I/O thread: all three on one
  running_server s(o);
  std::array<raw_socket, 4> c{raw_socket(s.port), raw_socket(s.port), raw_socket(s.port), raw_socket(s.port)};
  for (size_t i = 0; i < c.size(); ++i) {
    auto head = c[i].upgrade("/ws", i < 3 ? kOffer : "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
    EXPECT_EQ(head.find("server_no_context_takeover") != std::string::npos, i == 3) << head;
    c[i].send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["price.*"]})"));
    c[i].read_for(150);
  }
  const std::vector<std::string> subjects = {"BTC-USDT", "ETH-USDT", "SOL-USDT"};
  for (int n = 0; n < 60; ++n) s.publish(subjects[n % 3], 60000 + n * 1.25);
  std::array<std::vector<server_frame>, 4> frames;
  for (size_t i = 0; i < c.size(); ++i) frames[i] = parse_server_frames(c[i].read_for(600));
  std::array<size_t, 4> bytes{};
  for (size_t i = 0; i < c.size(); ++i) {
    test_support::context_inflater client;
    std::map<std::string, double> last;
    size_t updates = 0;
    for (auto& f : frames[i]) {
      ASSERT_TRUE(f.compressed) << i;  // every update is over 150 bytes
      std::string text;
      if (i < 3) text = client.inflate(f.payload).value_or("does not inflate");
      else ASSERT_EQ(ws::inflate_message(f.payload, 1 << 20, text), ws::inflate_result::ok);  // on its own
      auto m = json::parse(text);
      ASSERT_EQ(m["type"], "update") << text;
      auto topic = m["topic"].get<std::string>();
      double price = m["record"]["data"]["price"];
      EXPECT_GT(price, last[topic]) << i << " " << topic;
      last[topic] = price;
      bytes[i] += f.payload.size();
      ++updates;
    }
    EXPECT_EQ(updates, 60u) << i;
  }
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(bytes[i], bytes[0]);  // the same chain frames
  EXPECT_LT(bytes[0] * 2, bytes[3]) << bytes[0] << " vs " << bytes[3];
}

// compression_context_takeover = false: every session is told server_no_context_takeover and
// two sessions on the same topics get the self-contained frame of each record.
TEST(Compression, WithoutContextTakeoverEachMessageStandsAlone) {
  auto o = min_150();
  o.io_threads = 1;
  o.compression_context_takeover = false;
  running_server s(o);
  raw_socket a(s.port), b(s.port);
  for (auto* c : {&a, &b}) {
    EXPECT_THAT(c->upgrade("/ws", kOffer), HasSubstr("permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
    c->send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["price.*"]})"));
    c->read_for(150);
  }
  for (int n = 0; n < 20; ++n) s.publish(n % 2 ? "BTC-USDT" : "ETH-USDT", 60000 + n);
  size_t count = 0;
  for (auto& f : parse_server_frames(a.read_for(400))) {
    std::string text;
    ASSERT_EQ(ws::inflate_message(f.payload, 1 << 20, text), ws::inflate_result::ok);  // on its own
    EXPECT_EQ(json::parse(text)["type"], "update");
    ++count;
  }
  EXPECT_EQ(count, 20u);
}

}  // namespace
}  // namespace tributary
