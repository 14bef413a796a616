// permessage-deflate (RFC 7692): what the server agrees to, its frames, and client messages it
// inflates, hostile ones included.
#include <gtest/gtest.h>

#include <random>

#include "../../../tests/support/context_inflater.hpp"
#include "wire/ws_deflate.hpp"
#include "wire/ws_frame.hpp"

namespace tributary::ws {
namespace {

constexpr std::string_view kAnswer = "permessage-deflate; client_no_context_takeover";
constexpr std::string_view kAnswerNoContext = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

std::string answer(std::string_view offers) {
  auto a = negotiate_deflate(offers);
  if (!a) return "none";
  EXPECT_EQ(a->context_takeover, a->answer == kAnswer) << a->answer;
  return a->answer;
}

TEST(WsDeflate, NegotiatesOnlyWhatItCanKeep) {
  EXPECT_EQ(answer("permessage-deflate; client_max_window_bits"), kAnswer);  // Chromium's offer
  EXPECT_EQ(answer("permessage-deflate"), kAnswer);
  // A client that forbids the server's context takeover gets each message compressed on its own.
  EXPECT_EQ(answer("permessage-deflate; server_no_context_takeover; client_no_context_takeover"), kAnswerNoContext);
  EXPECT_EQ(answer("permessage-deflate; server_no_context_takeover"), kAnswerNoContext);
  auto off = negotiate_deflate("permessage-deflate; client_max_window_bits", false);  // compression_context_takeover = false
  ASSERT_TRUE(off);
  EXPECT_EQ(off->answer, kAnswerNoContext);
  EXPECT_FALSE(off->context_takeover);
  EXPECT_EQ(answer("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=12"), kAnswer);
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=10, permessage-deflate"), kAnswer);  // the second
  for (const char* no : {"", "x-webkit-deflate-frame", "permessage-deflate; server_max_window_bits=10",
                         "permessage-deflate; unknown", "permessage-deflate; client_max_window_bits=99",
                         "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                         "permessage-deflate; server_no_context_takeover=1", "permessage-deflate;;;;"})
    EXPECT_FALSE(negotiate_deflate(no)) << no;
}

// A compressed frame is RSV1 text whose payload, with 00 00 ff ff put back, inflates to the input.
TEST(WsDeflate, AServerFrameInflatesToItsPayload) {
  std::string json = R"({"type":"update","topic":"price.BTC-USDT","record":{"price":84250.12,"bid":84250.11,"ask":84250.13}})";
  for (int i = 0; i < 5; ++i) json += json.substr(0, 60);
  auto frame = make_deflated_frame(json);
  ASSERT_TRUE(frame);
  EXPECT_EQ(static_cast<uint8_t>((*frame)[0]), 0xC1);  // FIN, RSV1, text
  EXPECT_LT(frame->size(), json.size());
  std::string back;
  ASSERT_EQ(inflate_message(frame_payload(*frame), 1 << 20, back), inflate_result::ok);
  EXPECT_EQ(back, json);
}

std::string update(int i) {
  return R"({"type":"update","topic":"price.B)" + std::to_string(i % 7) + R"(-USDT","seq":)" + std::to_string(i / 7 + 1) +
         R"(,"record":{"schema":"tributary.v1","kind":"price","source":"bench","ts":)" + std::to_string(1764900000000 + 7 * i) +
         R"(,"stale":false,"data":{"price":)" + std::to_string(60000 + i % 1000) + R"(.25,"change_24h_pct":1.615}}})";
}

// With context takeover each message refers back to the ones before it: a client that inflated
// them all, in order, reads every one; a reset message reads on its own; and a run of similar
// messages shrinks far below what each does alone.
TEST(WsDeflate, AStreamsMessagesInflateInOrderAndShrinkWithTheirContext) {
  deflate_stream z(13, 6);
  tributary::test_support::context_inflater client;
  size_t plain = 0, chained = 0, alone = 0;
  std::string frame;
  for (int i = 0; i < 200; ++i) {
    auto payload = update(i);
    ASSERT_TRUE(z.compress(payload, i == 0 || i == 100, frame));
    EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0xC1);
    EXPECT_EQ(client.inflate(frame_payload(frame)), payload) << i;
    if (i == 100) {  // after a reset, a fresh client reads it too
      tributary::test_support::context_inflater fresh;
      EXPECT_EQ(fresh.inflate(frame_payload(frame)), payload);
    }
    if (i == 150) {  // without the messages before it, a later one does not read
      tributary::test_support::context_inflater fresh;
      EXPECT_NE(fresh.inflate(frame_payload(frame)), payload);
    }
    if (i >= 10) {
      plain += payload.size();
      chained += frame.size();
      alone += make_deflated_frame(payload)->size();
    }
  }
  EXPECT_LT(chained * 10, plain * 3) << chained << " of " << plain;  // under 0.3x
  EXPECT_LT(chained * 2, alone) << chained << " vs " << alone;      // under half of compressing each alone
}

struct collect : frame_handler {
  std::vector<std::string> texts;
  close_code violation = close_code::normal;
  void on_text(std::string_view m) override { texts.emplace_back(m); }
  void on_ping(std::string_view) override {}
  void on_pong(std::string_view) override {}
  void on_peer_close(close_code) override {}
  void on_violation(close_code c, std::string_view) override { violation = c; }
};

std::string masked(std::string_view payload, bool rsv1, uint8_t op = 1, bool fin = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op));
  if (payload.size() < 126) f.push_back(static_cast<char>(0x80 | payload.size()));
  else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  const char key[4] = {1, 2, 3, 4};
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  return f;
}

TEST(WsDeflate, TheReaderInflatesCompressedMessagesAndRefusesHostileOnes) {
  std::string msg = R"({"type":"subscribe","id":1,"topics":["price.*"],"pad":")" + std::string(3000, 'x') + "\"}";
  auto compressed = std::string(frame_payload(*make_deflated_frame(msg)));
  {
    frame_reader r(64 * 1024);
    r.accept_deflate();
    collect h;
    auto whole = masked(compressed, true);
    ASSERT_TRUE(r.feed(whole.data(), whole.size(), h));
    ASSERT_EQ(h.texts.size(), 1u);
    EXPECT_EQ(h.texts[0], msg);
    auto plain = masked("{}", false);  // plain messages still read
    ASSERT_TRUE(r.feed(plain.data(), plain.size(), h));
    EXPECT_EQ(h.texts.back(), "{}");
    // Fragmented: RSV1 on the first frame only.
    auto a = masked(compressed.substr(0, 10), true, 1, false), b = masked(compressed.substr(10), false, 0, true);
    ASSERT_TRUE(r.feed(a.data(), a.size(), h));
    ASSERT_TRUE(r.feed(b.data(), b.size(), h));
    EXPECT_EQ(h.texts.back(), msg);
  }
  struct { std::string frame; close_code want; bool deflate; } cases[] = {
      {masked(compressed, true), close_code::protocol_error, false},                    // not agreed
      {masked("abc", true, 9), close_code::protocol_error, true},                        // RSV1 on a ping
      {masked("\xff\xff\xff\xff garbage", true), close_code::invalid_payload, true},    // does not inflate
      {masked(compressed, true), close_code::too_big, true},                             // over the limit once inflated
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    frame_reader r(i == 3 ? 1024 : 64 * 1024);
    if (cases[i].deflate) r.accept_deflate();
    collect h;
    EXPECT_FALSE(r.feed(cases[i].frame.data(), cases[i].frame.size(), h)) << i;
    EXPECT_EQ(h.violation, cases[i].want) << i;
    EXPECT_TRUE(h.texts.empty()) << i;
  }
  // Random bytes as a compressed message never crash the reader.
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    std::string junk(1 + rng() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    frame_reader r(4096);
    r.accept_deflate();
    collect h;
    auto f = masked(junk, true);
    r.feed(f.data(), f.size(), h);
  }
}

}  // namespace
}  // namespace tributary::ws
