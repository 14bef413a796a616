// The binary plugin protocol against hostile bytes: whatever a plugin-host (or a library inside
// it writing to its socket) sends, the host reads it without crashing and without replaying
// part of a broken answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "plugin/backend.hpp"
#include "plugin/wire_binary.hpp"

using namespace tributary;

namespace {

trib_str s(std::string_view v) { return {v.data(), v.size()}; }

std::string valid_answer() {
  wire::answer_writer w;
  w.begin();
  trib_kv q{s("symbols"), s("BTCUSDT")};
  trib_http_request req{sizeof(trib_http_request), s("GET"), {}, s("/p"), &q, 1, nullptr, 0, {}, 2, s("t")};
  w.request(req);
  trib_field f{s("price"), TRIB_FIELD_NUMBER, 84250.5, {}, 0};
  trib_record rec{};
  rec.struct_size = sizeof rec;
  rec.kind = s("price"), rec.subject = s("BTC-USDT"), rec.native = s("BTCUSDT"), rec.ts_ms = 1, rec.fields = &f, rec.field_count = 1;
  w.record(rec);
  trib_error e{sizeof(trib_error), TRIB_ERR_BAD_DATA, 0, s("odd"), s("ETH-USDT")};
  w.error(e);
  return w.finish(TRIB_OK);
}

}  // namespace

TEST(WireBinary, AValidAnswerReplaysEveryItemIntoTheChecks) {
  call_output out;
  wire::answer_state st;
  auto frame = valid_answer();
  ASSERT_FALSE(wire::read_answer(frame, *out.abi(), nullptr, st));
  EXPECT_TRUE(st.done);
  ASSERT_EQ(out.result().requests.size(), 1u);
  EXPECT_EQ(out.result().requests[0].url(), "/p?symbols=BTCUSDT");
  EXPECT_EQ(out.result().requests[0].weight, 2);
  ASSERT_EQ(out.result().records.size(), 1u);
  EXPECT_EQ(out.result().records[0].data["price"], 84250.5);
  ASSERT_EQ(out.result().errors.size(), 1u);
  EXPECT_EQ(out.result().errors[0].cls, error_class::bad_data);
}

TEST(WireBinary, EveryTruncationIsAnErrorAndReplaysNothing) {
  auto frame = valid_answer();
  for (size_t n = 0; n < frame.size(); ++n) {
    call_output out;
    wire::answer_state st;
    auto why = wire::read_answer(std::string_view(frame).substr(0, n), *out.abi(), nullptr, st);
    if (!why) {  // a prefix that ends exactly after an item is a well-formed frame without a result
      EXPECT_FALSE(st.done) << n;
      continue;
    }
    EXPECT_TRUE(out.result().requests.empty() && out.result().records.empty() && out.result().errors.empty()) << n;
  }
}

TEST(WireBinary, RandomBytesAndFlippedBytesNeverCrashTheReader) {
  std::mt19937 rng(7);
  auto frame = valid_answer();
  for (int i = 0; i < 20000; ++i) {
    std::string f = frame;
    if (i % 2) {
      f.resize(1 + rng() % 300);
      for (size_t k = 1; k < f.size(); ++k) f[k] = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 3; ++k) f[1 + rng() % (f.size() - 1)] = static_cast<char>(rng());
    }
    call_output out;
    wire::answer_state st;
    wire::read_answer(f, *out.abi(), nullptr, st);
    wire::read_call_result call;
    wire::read_call(f, call);
  }
}

TEST(WireBinary, ACallRoundTripsIntoTheAbiStructs) {
  trib_subject subj{s("BTC-USDT"), s("BTCUSDT")};
  trib_feed_request feed{sizeof(trib_feed_request), s("spot"), s("price"), &subj, 1};
  trib_kv h{s("Content-Type"), s("application/json")};
  trib_http_request req{sizeof(trib_http_request), s("GET"), s("https://x"), s("/p"), nullptr, 0, nullptr, 0, {}, 1, {}};
  trib_http_response resp{sizeof(trib_http_response), 200, &h, 1, s("{\"a\":1}"), 42};
  wire::call_args c{wire::op::parse, 99, &feed, &req, &resp};
  std::string frame;
  wire::write_call(c, frame);
  wire::read_call_result r;
  ASSERT_FALSE(wire::read_call(frame, r));
  EXPECT_EQ(r.args.o, wire::op::parse);
  EXPECT_EQ(r.args.now, 99);
  EXPECT_EQ(std::string_view(r.feed.subjects[0].native.ptr, r.feed.subjects[0].native.len), "BTCUSDT");
  EXPECT_EQ(std::string_view(r.response.body.ptr, r.response.body.len), "{\"a\":1}");
  EXPECT_EQ(r.response.received_ms, 42);
  EXPECT_EQ(std::string_view(r.response.headers[0].value.ptr, r.response.headers[0].value.len), "application/json");
  for (size_t n = 0; n < frame.size(); ++n) EXPECT_TRUE(wire::read_call(std::string_view(frame).substr(0, n), r).has_value()) << n;
}
