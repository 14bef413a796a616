// The frame reader against well-formed and hostile client bytes, with no socket in between.
#include <gtest/gtest.h>

#include <random>

#include "../../../tests/support/raw_ws.hpp"
#include "wire/ws_frame.hpp"

using namespace tributary;
using namespace tributary::ws;
using tributary::test_support::client_frame;

namespace {

struct recorder : frame_handler {
  std::vector<std::string> texts, pings, pongs;
  int closed = 0;
  close_code violation{};
  std::string why;
  void on_text(std::string_view m) override { texts.emplace_back(m); }
  void on_ping(std::string_view p) override { pings.emplace_back(p); }
  void on_pong(std::string_view p) override { pongs.emplace_back(p); }
  void on_peer_close(close_code c) override { closed = static_cast<int>(c); }
  void on_violation(close_code c, std::string_view w) override {
    violation = c;
    why = w;
  }
};

recorder feed(const std::string& bytes, size_t max = 1024, size_t chunk = SIZE_MAX) {
  recorder r;
  frame_reader rd(max);
  std::string copy = bytes;
  for (size_t off = 0; off < copy.size(); off += chunk) rd.feed(copy.data() + off, std::min(chunk, copy.size() - off), r);
  return r;
}

}  // namespace

TEST(WsFrame, AcceptKeyIsTheRfcExample) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(valid_client_key("short"));
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ!!"));
}

TEST(WsFrame, ServerFramesEncodeEveryLengthForm) {
  for (size_t n : {0, 125, 126, 65535, 65536}) {
    auto f = make_frame(opcode::text, std::string(n, 'a'));
    size_t hdr = n < 126 ? 2 : n <= 65535 ? 4 : 10;
    ASSERT_EQ(f.size(), n + hdr) << n;
    EXPECT_EQ(static_cast<uint8_t>(f[0]), 0x81);
  }
  auto c = make_close_frame(close_code::going_away, "bye");
  EXPECT_EQ(tributary::test_support::close_code_in(c), 1001);
}

TEST(WsFrame, WholeSplitAndFragmentedMessagesArrive) {
  std::string two = client_frame(1, R"({"a":1})") + client_frame(9, "hb") + client_frame(1, "é");
  for (size_t chunk : {SIZE_MAX, size_t(1), size_t(3)}) {
    auto r = feed(two, 1024, chunk);
    ASSERT_EQ(r.texts.size(), 2u) << chunk;
    EXPECT_EQ(r.texts[0], R"({"a":1})");
    EXPECT_EQ(r.texts[1], "é");
    EXPECT_EQ(r.pings, std::vector<std::string>{"hb"});
  }
  // A message in three fragments with a ping between them.
  auto frag = client_frame(1, "hel", false) + client_frame(9, "") + client_frame(0, "lo ", false) + client_frame(0, "you");
  auto r = feed(frag, 1024, 2);
  EXPECT_EQ(r.texts, std::vector<std::string>{"hello you"});
  EXPECT_EQ(r.pings.size(), 1u);
  // 16- and 64-bit lengths.
  auto big = feed(client_frame(1, std::string(70000, 'x')), 100000, 4096);
  ASSERT_EQ(big.texts.size(), 1u);
  EXPECT_EQ(big.texts[0].size(), 70000u);
}

TEST(WsFrame, ProtocolViolationsGetTheirCloseCodes) {
  EXPECT_EQ(feed(client_frame(1, "x", true, false)).violation, close_code::protocol_error);         // unmasked
  EXPECT_EQ(feed(client_frame(1, "x", true, true, 0x40)).violation, close_code::protocol_error);   // RSV1
  EXPECT_EQ(feed(client_frame(3, "x")).violation, close_code::protocol_error);                     // opcode 3
  EXPECT_EQ(feed(client_frame(9, std::string(126, 'p'))).violation, close_code::protocol_error);   // long ping
  EXPECT_EQ(feed(client_frame(9, "p", false)).violation, close_code::protocol_error);              // fragmented ping
  EXPECT_EQ(feed(client_frame(0, "x")).violation, close_code::protocol_error);                     // stray continuation
  EXPECT_EQ(feed(client_frame(1, "a", false) + client_frame(1, "b")).violation, close_code::protocol_error);
  EXPECT_EQ(feed(client_frame(2, "\x01")).violation, close_code::unsupported_data);
  EXPECT_EQ(feed(client_frame(1, "\xff\xfe")).violation, close_code::invalid_payload);
  EXPECT_EQ(feed(client_frame(1, "\xed\xa0\x80")).violation, close_code::invalid_payload);  // a surrogate
  EXPECT_EQ(feed(client_frame(1, std::string(2000, 'a'))).violation, close_code::too_big);
  // Fragments that add up past the limit are refused before they are all buffered.
  EXPECT_EQ(feed(client_frame(1, std::string(600, 'a'), false) + client_frame(0, std::string(600, 'a'))).violation,
            close_code::too_big);
  EXPECT_EQ(feed(client_frame(8, "\x03\xe8")).closed, 1000);
  EXPECT_EQ(feed(client_frame(8, "\x03")).violation, close_code::protocol_error);
  EXPECT_EQ(feed(client_frame(8, "\x03\xed")).violation, close_code::protocol_error);  // 1005 may not be sent
}

TEST(WsFrame, A64BitLengthHeaderIsRefusedWithoutWaitingForTheBody) {
  std::string hdr = "\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff";  // masked, 2^63-1 bytes
  auto r = feed(hdr);
  EXPECT_EQ(r.violation, close_code::too_big);
}

TEST(WsFrame, RandomBytesNeverCrashAndBufferAtMostOneFrame) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(1 + rng() % 300, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    recorder r;
    frame_reader rd(256);
    for (size_t off = 0; off < junk.size(); off += 7) rd.feed(junk.data() + off, std::min<size_t>(7, junk.size() - off), r);
    EXPECT_LE(rd.buffered(), 2 * (256 + 14) + 64) << round;
  }
}

TEST(WsFrame, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // cut short
}
