// permessage-deflate (RFC 7692): what the server agrees to, its frames, and client messages it
// inflates, hostile ones included.
#include <gtest/gtest.h>

#include <random>

#include "wire/ws_deflate.hpp"
#include "wire/ws_frame.hpp"

namespace tributary::ws {
namespace {

constexpr std::string_view kAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

TEST(WsDeflate, NegotiatesOnlyWhatItCanKeep) {
  EXPECT_EQ(negotiate_deflate("permessage-deflate; client_max_window_bits"), kAnswer);  // Chromium's offer
  EXPECT_EQ(negotiate_deflate("permessage-deflate"), kAnswer);
  EXPECT_EQ(negotiate_deflate("permessage-deflate; server_no_context_takeover; client_no_context_takeover"), kAnswer);
  EXPECT_EQ(negotiate_deflate("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=12"), kAnswer);
  EXPECT_EQ(negotiate_deflate("permessage-deflate; server_max_window_bits=10, permessage-deflate"), kAnswer);  // the second
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
