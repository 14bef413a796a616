// permessage-deflate over real sockets: negotiated when offered and on, each server message of
// at least compression_min_bytes compressed (RSV1) and the rest plain, one compressed frame per
// record shared by every compressing session, and sessions on the same patterns sharing a
// compression context (a deflate chain) their clients' decompressors follow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../../tests/support/context_inflater.hpp"
#include "../../../tests/support/jwt_sign.hpp"
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

// A chain is shared only by sessions of one user: alice's two sessions (one authenticated on the
// upgrade, one by an auth message after it subscribed) share one, bob, alone in his, gets each
// record compressed alone; each reads its own personal records and never the other's.
TEST(Compression, OnlySessionsOfTheSameUserShareAContext) {
  const std::string secret = "test-secret-0123456789-abcdefghij";
  auto token = [&](const std::string& user) { return sign(json{{"sub", user}, {"exp", unix_now() + 600}}, "HS256", secret); };
  auto o = min_150();
  o.io_threads = 1;
  o.auth = true;
  o.jwt.secret = secret;
  o.public_patterns = {"price.*"};
  running_server s(o);
  raw_socket a1(s.port), a2(s.port), b(s.port);
  a1.upgrade("/ws?token=" + token("alice"), kOffer);
  b.upgrade("/ws?token=" + token("bob"), kOffer);
  a2.upgrade("/ws", kOffer);
  for (auto* c : {&a1, &a2, &b}) c->send(client_frame(1, R"({"type":"subscribe","id":1,"topics":["*"]})"));
  a2.send(client_frame(1, json{{"type", "auth"}, {"id", 2}, {"token", token("alice")}}.dump()));
  for (auto* c : {&a1, &a2, &b}) c->read_for(200);
  auto event = [&](const std::string& subject, int n) {
    record r;
    r.kind = "event";
    r.subject = subject;
    r.source = "tasks";
    r.data = {{"status", "filled"}, {"n", n}, {"note", std::string(120, 'x')}};
    s.out.publish(r);
  };
  for (int n = 0; n < 30; ++n) {
    s.publish(n % 2 ? "BTC-USDT" : "ETH-USDT", 60000 + n);
    event("user.alice.orders", n);
    event("user.bob.orders", n);
  }
  auto read = [](raw_socket& c, bool alone, size_t& bytes) {
    test_support::context_inflater inflater;
    std::map<std::string, int> topics;
    for (auto& f : parse_server_frames(c.read_for(500))) {
      std::string text;
      if (alone) EXPECT_EQ(ws::inflate_message(f.payload, 1 << 20, text), ws::inflate_result::ok);
      else text = inflater.inflate(f.payload).value_or("{}");
      auto m = json::parse(text);
      if (m["type"] == "update") ++topics[m["topic"].get<std::string>()];
      bytes += f.payload.size();
    }
    return topics;
  };
  size_t alice1 = 0, alice2 = 0, bob = 0;
  std::map<std::string, int> alice_sees{{"event.user.alice.orders", 30}, {"price.BTC-USDT", 15}, {"price.ETH-USDT", 15}};
  EXPECT_EQ(read(a1, false, alice1), alice_sees);
  EXPECT_EQ(read(a2, false, alice2), alice_sees);
  std::map<std::string, int> bob_sees{{"event.user.bob.orders", 30}, {"price.BTC-USDT", 15}, {"price.ETH-USDT", 15}};
  EXPECT_EQ(read(b, true, bob), bob_sees);  // every frame inflates on its own: he shares no context
  EXPECT_EQ(alice1, alice2);
  EXPECT_LT(alice1 * 2, bob) << alice1 << " vs " << bob;
}

}  // namespace
}  // namespace tributary
